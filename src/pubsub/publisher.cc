#include "pubsub/publisher.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/policy.h"

namespace unibus::pubsub_internal {

namespace v1 = google::pubsub::v1;
using Clock = std::chrono::steady_clock;

struct PubsubPublisher::Pending {
  v1::PubsubMessage message;
  Promise<absl::StatusOr<MessageId>> promise;
  std::size_t bytes;
};

struct PubsubPublisher::Batch {
  std::string key;
  v1::PublishRequest request;
  std::vector<Promise<absl::StatusOr<MessageId>>> promises;
  std::unique_ptr<grpc::ClientContext> ctx;
  v1::PublishResponse response;
  Clock::time_point first_attempt;
  absl::Duration backoff = absl::Milliseconds(100);
};

struct PubsubPublisher::KeyState {
  std::deque<Pending> queue;
  std::size_t bytes = 0;
  Clock::time_point oldest;  // when queue.front() was queued
  bool in_flight = false;    // keyed only: a batch of this key is out
  absl::Status paused;       // keyed only: why the key is paused
};

absl::Status ValidateForPubsub(const Message& m, std::size_t max_message_bytes,
                               const std::string& topic) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("message for Pub/Sub topic '", topic, "' rejected: ", why));
  };
  const std::size_t limit = std::min(max_message_bytes, kMaxRequestBytes);
  if (m.ByteSize() > limit) {
    return bad(absl::StrCat(
        "its ", m.ByteSize(), " bytes exceed the limit of ", limit,
        " bytes (Pub/Sub takes at most 10 MB per message); split it or store the payload "
        "elsewhere and publish a reference"));
  }
  if (m.data.empty() && m.attributes.empty()) {
    return bad(
        "it has no data and no attributes, which Pub/Sub does not accept; add data or an "
        "attribute");
  }
  if (m.attributes.size() > kMaxAttributes) {
    return bad(absl::StrCat(m.attributes.size(), " attributes, Pub/Sub allows ", kMaxAttributes));
  }
  for (const auto& [k, v] : m.attributes) {
    if (k.empty() || k.size() > kMaxAttributeKeyBytes) {
      return bad(absl::StrCat("attribute name '", k.substr(0, 40), "' must be 1-",
                              kMaxAttributeKeyBytes, " bytes"));
    }
    // Pub/Sub's attributes and ordering keys are proto strings: the server refuses
    // other bytes with an error that looks transient (UNKNOWN), so refuse them here,
    // on every path (the library's dead-letter copies too), never to retry them.
    if (!core_internal::IsValidUtf8(k) || !core_internal::IsValidUtf8(v)) {
      return bad(absl::StrCat("attribute '", absl::CHexEscape(k.substr(0, 40)),
                              "' is not valid UTF-8 (Pub/Sub carries UTF-8 attributes only)"));
    }
    if (v.size() > kMaxAttributeValueBytes) {
      return bad(absl::StrCat("attribute '", k, "' has a ", v.size(),
                              "-byte value, Pub/Sub allows ", kMaxAttributeValueBytes));
    }
  }
  if (!core_internal::IsValidUtf8(m.ordering_key)) {
    return bad("the ordering key is not valid UTF-8 (Pub/Sub carries UTF-8 ordering keys only)");
  }
  if (m.ordering_key.size() > kMaxOrderingKeyBytes) {
    return bad(absl::StrCat("ordering key of ", m.ordering_key.size(), " bytes, Pub/Sub allows ",
                            kMaxOrderingKeyBytes));
  }
  return absl::OkStatus();
}

PubsubPublisher::PubsubPublisher(std::shared_ptr<Connection> conn, std::string topic,
                                 PublisherOptions options, PubsubPublisherSettings settings)
    : conn_(std::move(conn)),
      topic_(std::move(topic)),
      topic_path_(TopicPath(conn_->endpoint().project, topic_)),
      options_(options),
      settings_(settings),
      // Leave room for the request's framing under Pub/Sub's 10 MB request limit.
      batch_bytes_(std::min(options.max_batch_bytes, kMaxRequestBytes - 64 * 1024)),
      batch_messages_(
          std::clamp<std::size_t>(options.max_batch_messages, 1, kMaxMessagesPerRequest)),
      stub_(v1::Publisher::NewStub(conn_->NewChannel())) {
  flusher_ = std::thread([this] { FlushLoop(); });
}

PubsubPublisher::~PubsubPublisher() { Shutdown(); }

PublishFuture PubsubPublisher::Publish(Message m) {
  if (auto s = ValidateForPubsub(m, conn_->options().max_message_bytes, topic_); !s.ok()) {
    return MakeReadyFuture<absl::StatusOr<MessageId>>(s);
  }
  Pending p;
  p.bytes = m.ByteSize() + 16;  // about what the message adds to the request
  p.message.set_data(std::move(m.data));
  p.message.set_ordering_key(m.ordering_key);
  auto& attrs = *p.message.mutable_attributes();
  for (auto& [k, v] : m.attributes) attrs[k] = std::move(v);
  auto future = p.promise.get_future();

  std::unique_lock<std::mutex> lock(mu_);
  space_cv_.wait(lock, [&] { return shutdown_ || pending_ < options_.max_pending_messages; });
  if (shutdown_) {
    lock.unlock();
    p.promise.set_value(absl::FailedPreconditionError(
        absl::StrCat("publisher for topic '", topic_, "' is shut down")));
    return future;
  }
  KeyState& ks = keys_[m.ordering_key];
  if (!ks.paused.ok()) {
    absl::Status s = absl::FailedPreconditionError(
        absl::StrCat("ordering key '", m.ordering_key, "' on topic '", topic_,
                     "' is paused after a failed publish (", ks.paused.message(),
                     "); call Flush() to see the error and resume the key"));
    if (first_error_.ok()) first_error_ = s;
    lock.unlock();
    p.promise.set_value(s);
    return future;
  }
  if (ks.queue.empty()) {
    ks.oldest = Clock::now();
    queued_keys_.insert(m.ordering_key);
  }
  ks.bytes += p.bytes;
  ks.queue.push_back(std::move(p));
  ++pending_;
  ++enqueued_;
  Batches ready;
  if (ks.queue.size() >= batch_messages_ || ks.bytes >= batch_bytes_) {
    MaybeSendLocked(m.ordering_key, ks, /*force=*/true, &ready);
  } else if (ks.queue.size() == 1) {
    work_cv_.notify_one();  // a new deadline for the flush thread
  }
  lock.unlock();
  for (auto& b : ready) Send(std::move(b));
  return future;
}

bool PubsubPublisher::AllowedLocked(const std::string& key, const KeyState& ks) const {
  return key.empty() ? unkeyed_in_flight_ < settings_.max_in_flight_batches : !ks.in_flight;
}

void PubsubPublisher::MaybeSendLocked(const std::string& key, KeyState& ks, bool force,
                                      Batches* out) {
  while (!ks.queue.empty()) {
    if (!AllowedLocked(key, ks)) return;
    const bool full = ks.queue.size() >= batch_messages_ || ks.bytes >= batch_bytes_;
    const bool due =
        Clock::now() - ks.oldest >= absl::ToChronoNanoseconds(options_.max_batch_delay);
    if (!full && !due && !force && flushing_ == 0 && !shutdown_) return;
    auto batch = std::make_shared<Batch>();
    batch->key = key;
    batch->request.set_topic(topic_path_);
    std::size_t bytes = 0;
    while (!ks.queue.empty() && batch->promises.size() < batch_messages_ &&
           (batch->promises.empty() || bytes + ks.queue.front().bytes <= batch_bytes_)) {
      Pending& p = ks.queue.front();
      bytes += p.bytes;
      *batch->request.add_messages() = std::move(p.message);
      batch->promises.push_back(std::move(p.promise));
      ks.queue.pop_front();
    }
    ks.bytes -= bytes;
    pending_ -= batch->promises.size();
    if (ks.queue.empty()) {
      queued_keys_.erase(key);
    } else {
      ks.oldest = Clock::now();
    }
    if (key.empty())
      ++unkeyed_in_flight_;
    else
      ks.in_flight = true;
    ++in_flight_;
    batch->first_attempt = Clock::now();
    space_cv_.notify_all();
    out->push_back(std::move(batch));
    force = false;
  }
}

void PubsubPublisher::Send(std::shared_ptr<Batch> batch) {
  batch->ctx = std::make_unique<grpc::ClientContext>();
  Connection::SetTimeout(*batch->ctx, settings_.rpc_timeout);
  batch->response.Clear();
  auto* raw = batch.get();
  stub_->async()->Publish(
      raw->ctx.get(), &raw->request, &raw->response,
      [this, batch = std::move(batch)](grpc::Status s) mutable { OnDone(std::move(batch), s); });
}

void PubsubPublisher::OnDone(std::shared_ptr<Batch> batch, grpc::Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++callbacks_running_;
  }
  const std::size_t n = batch->promises.size();
  std::vector<Promise<absl::StatusOr<MessageId>>> failed_behind;  // queued messages of a paused key
  absl::Status error;
  Batches ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok() && IsRetryable(status.error_code()) &&
        Clock::now() + absl::ToChronoNanoseconds(batch->backoff) <
            batch->first_attempt + absl::ToChronoNanoseconds(settings_.retry_timeout)) {
      const auto due = Clock::now() + absl::ToChronoNanoseconds(batch->backoff);
      batch->backoff = std::min(batch->backoff * 2, absl::Seconds(10));
      retries_.emplace(due, std::move(batch));
      work_cv_.notify_one();
      --callbacks_running_;
      done_cv_.notify_all();
      return;
    }
    if (!status.ok()) {
      error = ToStatus(status, conn_->endpoint(),
                       absl::StrCat("publishing ", n, " message(s) to topic '", topic_, "'"));
    } else if (static_cast<std::size_t>(batch->response.message_ids_size()) != n) {
      error = absl::InternalError(absl::StrCat("Pub/Sub returned ",
                                               batch->response.message_ids_size(), " ids for ", n,
                                               " messages published to topic '", topic_, "'"));
    }
    KeyState& ks = keys_[batch->key];
    if (batch->key.empty()) {
      --unkeyed_in_flight_;
    } else {
      ks.in_flight = false;
      if (!error.ok()) {
        ks.paused = error;
        for (auto& p : ks.queue) failed_behind.push_back(std::move(p.promise));
        pending_ -= ks.queue.size();
        ks.queue.clear();
        ks.bytes = 0;
        queued_keys_.erase(batch->key);
        completed_ += failed_behind.size();
      }
    }
    --in_flight_;
    completed_ += n;
    if (!error.ok() && first_error_.ok()) first_error_ = error;
    if (!ks.queue.empty()) MaybeSendLocked(batch->key, ks, /*force=*/false, &ready);
  }
  for (auto& b : ready) Send(std::move(b));
  work_cv_.notify_one();
  space_cv_.notify_all();
  if (error.ok()) {
    for (std::size_t i = 0; i < n; ++i)
      batch->promises[i].set_value(MessageId(batch->response.message_ids(static_cast<int>(i))));
  } else {
    for (auto& p : batch->promises) p.set_value(error);
    const absl::Status behind = absl::FailedPreconditionError(
        absl::StrCat("not published: an earlier message with ordering key '", batch->key,
                     "' failed (", error.message(), ")"));
    for (auto& p : failed_behind) p.set_value(behind);
  }
  std::lock_guard<std::mutex> lock(mu_);
  --callbacks_running_;
  done_cv_.notify_all();  // under mu_: once it is released, this callback no longer touches *this
}

void PubsubPublisher::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const auto now = Clock::now();
    Batches ready;
    while (!retries_.empty() && retries_.begin()->first <= now) {
      ready.push_back(std::move(retries_.begin()->second));
      retries_.erase(retries_.begin());
    }
    auto wake = Clock::time_point::max();
    std::vector<std::string> keys(queued_keys_.begin(), queued_keys_.end());
    for (const auto& key : keys) {
      auto it = keys_.find(key);
      if (it == keys_.end()) continue;
      MaybeSendLocked(key, it->second, /*force=*/false, &ready);
      // A key that may not send now is woken by its batch's completion instead.
      if (!it->second.queue.empty() && AllowedLocked(key, it->second)) {
        wake =
            std::min(wake, it->second.oldest + absl::ToChronoNanoseconds(options_.max_batch_delay));
      }
    }
    if (!ready.empty()) {
      lock.unlock();
      for (auto& b : ready) Send(std::move(b));
      lock.lock();
      continue;
    }
    if (!retries_.empty()) wake = std::min(wake, retries_.begin()->first);
    if (shutdown_ && pending_ == 0 && in_flight_ == 0) return;
    if (wake == Clock::time_point::max()) {
      work_cv_.wait(lock);
    } else {
      work_cv_.wait_until(lock, wake);
    }
  }
}

absl::Status PubsubPublisher::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t target = enqueued_;
  ++flushing_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return completed_ >= target; });
  --flushing_;
  absl::Status s = std::move(first_error_);
  first_error_ = absl::OkStatus();
  for (auto& [key, ks] : keys_) ks.paused = absl::OkStatus();
  return s;
}

void PubsubPublisher::ResumePublish(const std::string& ordering_key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = keys_.find(ordering_key); it != keys_.end()) it->second.paused = absl::OkStatus();
}

void PubsubPublisher::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
  }
  work_cv_.notify_all();
  space_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();  // returns once nothing is queued or in flight
  // The last completions may still be resolving their promises.
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return callbacks_running_ == 0 && in_flight_ == 0; });
}

}  // namespace unibus::pubsub_internal

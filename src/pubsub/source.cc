#include "pubsub/source.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "pubsub/received.h"

namespace unibus::pubsub_internal {
namespace {

namespace v1 = google::pubsub::v1;

std::string RandomClientId() {
  std::random_device rd;
  return absl::StrCat("unibus-", rd(), "-", rd());
}

int ClampSeconds(absl::Duration d) {
  return static_cast<int>(
      std::clamp<std::int64_t>(absl::ToInt64Seconds(d + absl::Milliseconds(999)), 10, 600));
}

std::int64_t Share(std::size_t total, std::size_t parts) {
  return static_cast<std::int64_t>(std::max<std::size_t>(1, (total + parts - 1) / parts));
}

}  // namespace

std::size_t StreamCount(std::size_t requested, std::size_t max_outstanding_messages) {
  if (requested > 0) return std::min<std::size_t>(requested, 64);
  return std::clamp<std::size_t>((max_outstanding_messages + 99) / 100, 1, 16);
}

StreamingPullSource::StreamingPullSource(std::shared_ptr<Connection> conn, std::string subscription,
                                         std::string topic, const SubscriberOptions& options,
                                         std::size_t streams)
    : conn_(std::move(conn)),
      subscription_(std::move(subscription)),
      subscription_path_(SubscriptionPath(conn_->endpoint().project, subscription_)),
      topic_(std::move(topic)),
      options_(options),
      stream_deadline_seconds_(ClampSeconds(options.ack_deadline)),
      client_id_(RandomClientId()),
      stub_(v1::Subscriber::NewStub(conn_->NewChannel())),
      streams_(StreamCount(streams, options.max_outstanding_messages)) {
  for (std::size_t i = 0; i < streams_.size(); ++i)
    readers_.emplace_back([this, i] { ReadLoop(i); });
}

StreamingPullSource::~StreamingPullSource() { Close(); }

bool StreamingPullSource::AnyStreamOpenLocked() const {
  return std::any_of(streams_.begin(), streams_.end(),
                     [](const Stream& s) { return s.ctx != nullptr; });
}

grpc::Status StreamingPullSource::RunStream(std::size_t index, bool* got_messages) {
  grpc::ClientContext ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return grpc::Status::CANCELLED;
    streams_[index].ctx = &ctx;
    streams_[index].half_closed = false;
  }
  auto stream = stub_->StreamingPull(&ctx);
  v1::StreamingPullRequest first;
  first.set_subscription(subscription_path_);
  first.set_stream_ack_deadline_seconds(stream_deadline_seconds_);
  first.set_client_id(client_id_);
  // The server applies these per stream: ask each for its share.
  first.set_max_outstanding_messages(Share(options_.max_outstanding_messages, streams_.size()));
  first.set_max_outstanding_bytes(Share(options_.max_outstanding_bytes, streams_.size()));
  if (stream->Write(first)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      streams_[index].rw = stream.get();
      if (closed_) ctx.TryCancel();
    }
    v1::StreamingPullResponse resp;
    while (stream->Read(&resp)) {
      std::unique_lock<std::mutex> lock(mu_);
      for (auto& rm : *resp.mutable_received_messages()) {
        Buffered b;
        Message& m = b.delivery.message;
        FromReceived(&rm, &m);
        m.topic = topic_;
        b.delivery.token = std::move(*rm.mutable_ack_id());
        b.bytes = m.ByteSize();
        buffered_bytes_ += b.bytes;
        buffer_.push_back(std::move(b));
      }
      *got_messages = true;
      transient_ = absl::OkStatus();
      data_cv_.notify_all();
      // Stop reading while the buffer is full: gRPC flow control then holds the
      // server back.
      space_cv_.wait(lock, [&] {
        return closed_ || (buffer_.size() < options_.max_outstanding_messages &&
                           buffered_bytes_ < options_.max_outstanding_bytes);
      });
      // After Close, keep reading what the server still sends until it ends the
      // stream: those messages are buffered and released with the rest.
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!streams_[index].half_closed) stream->WritesDone();
    streams_[index].half_closed = true;
    streams_[index].rw = nullptr;
    if (closed_) ctx.TryCancel();
  }
  grpc::Status status = stream->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  streams_[index].ctx = nullptr;
  stream_done_cv_.notify_all();
  return status;
}

void StreamingPullSource::ReadLoop(std::size_t index) {
  absl::Duration backoff = absl::Milliseconds(100);
  bool ever_connected = false;
  for (;;) {
    bool got = false;
    grpc::Status s = RunStream(index, &got);
    ever_connected = ever_connected || got;
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_ || !terminal_.ok()) return;  // closing, or another stream hit a permanent failure
    if (got) backoff = absl::Milliseconds(100);
    if (!IsRetryable(s.error_code()) && s.error_code() != grpc::StatusCode::OK &&
        s.error_code() != grpc::StatusCode::CANCELLED) {
      absl::Status err = ToStatus(
          s, conn_->endpoint(), absl::StrCat("receiving from subscription '", subscription_, "'"));
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        err = absl::NotFoundError(
            absl::StrCat(err.message(), "; the subscription no longer exists",
                         conn_->endpoint().emulator && ever_connected
                             ? " (the emulator keeps nothing across a restart: its unacked "
                               "messages are lost; recreate the "
                               "topic and subscription)"
                             : "; create it (unibus subscriptions create NAME --topic TOPIC) or "
                               "set SubscriberOptions::topic"));
      }
      terminal_ = err;
      data_cv_.notify_all();
      return;
    }
    // Pub/Sub ends streams now and then (OK, UNAVAILABLE) to rebalance; the emulator
    // ends them when it stops. Reopen after a backoff.
    if (!s.ok()) {
      transient_ = ToStatus(s, conn_->endpoint(),
                            absl::StrCat("receiving from subscription '", subscription_, "'"));
      data_cv_.notify_all();
    }
    space_cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                       [&] { return closed_ || !terminal_.ok(); });
    if (closed_ || !terminal_.ok()) return;
    if (!s.ok()) backoff = std::min(backoff * 2, absl::Seconds(10));
  }
}

absl::StatusOr<std::vector<core_internal::Delivery>> StreamingPullSource::Fetch(
    std::size_t max_messages, std::size_t max_bytes, absl::Duration wait) {
  std::vector<core_internal::Delivery> out;
  std::unique_lock<std::mutex> lock(mu_);
  data_cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [&] {
    return closed_ || !buffer_.empty() || !terminal_.ok() || !transient_.ok();
  });
  if (buffer_.empty()) {
    if (!terminal_.ok()) return terminal_;
    if (!transient_.ok()) {
      absl::Status s = std::move(transient_);
      transient_ = absl::OkStatus();
      return s;
    }
    return out;
  }
  std::size_t bytes = 0;
  while (!buffer_.empty() && out.size() < max_messages &&
         (out.empty() || bytes + buffer_.front().bytes <= max_bytes)) {
    bytes += buffer_.front().bytes;
    buffered_bytes_ -= buffer_.front().bytes;
    out.push_back(std::move(buffer_.front().delivery));
    buffer_.pop_front();
  }
  lock.unlock();
  space_cv_.notify_all();
  return out;
}

absl::Status StreamingPullSource::Ack(const std::vector<std::string>& tokens) {
  for (std::size_t i = 0; i < tokens.size(); i += kMaxAckIdsPerRequest) {
    v1::AcknowledgeRequest req;
    req.set_subscription(subscription_path_);
    for (std::size_t j = i; j < std::min(tokens.size(), i + kMaxAckIdsPerRequest); ++j)
      req.add_ack_ids(tokens[j]);
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, absl::Seconds(30));
    google::protobuf::Empty e;
    if (auto s = stub_->Acknowledge(&ctx, req, &e); !s.ok()) {
      return ToStatus(s, conn_->endpoint(),
                      absl::StrCat("acknowledging ", req.ack_ids_size(),
                                   " message(s) on subscription '", subscription_, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status StreamingPullSource::ModifyDeadline(const std::vector<std::string>& ids, int seconds,
                                                 absl::string_view what) {
  for (std::size_t i = 0; i < ids.size(); i += kMaxAckIdsPerRequest) {
    v1::ModifyAckDeadlineRequest req;
    req.set_subscription(subscription_path_);
    req.set_ack_deadline_seconds(seconds);
    for (std::size_t j = i; j < std::min(ids.size(), i + kMaxAckIdsPerRequest); ++j)
      req.add_ack_ids(ids[j]);
    grpc::ClientContext ctx;
    Connection::SetTimeout(ctx, absl::Seconds(30));
    google::protobuf::Empty e;
    if (auto s = stub_->ModifyAckDeadline(&ctx, req, &e); !s.ok()) {
      return ToStatus(s, conn_->endpoint(),
                      absl::StrCat(what, " of ", req.ack_ids_size(),
                                   " message(s) on subscription '", subscription_, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status StreamingPullSource::Release(const std::vector<std::string>& tokens) {
  // Released messages would come straight back on this subscriber's open stream
  // (and be lost in it when it closes, leased until their deadline): stop it first.
  std::vector<std::string> ids = tokens;
  StopStream(&ids);
  return ModifyDeadline(ids, 0, "releasing");
}

absl::Status StreamingPullSource::ExtendLeases(const std::vector<std::string>& tokens,
                                               absl::Duration deadline) {
  std::vector<std::string> ids = tokens;
  {
    // Messages waiting in the buffer hold leases too.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& b : buffer_) ids.push_back(b.delivery.token);
  }
  return ModifyDeadline(ids, ClampSeconds(deadline), "extending the leases");
}

void StreamingPullSource::StopStream(std::vector<std::string>* unfetched) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    // Close gracefully first, so the server forgets the streams before anything
    // is released: a message released to a stream the server still thinks open is
    // pushed into it and stays leased until its deadline.
    bool waiting = false;
    for (Stream& st : streams_) {
      if (st.rw != nullptr && !st.half_closed) {
        st.half_closed = true;
        st.rw->WritesDone();
        waiting = true;
      }
    }
    if (waiting) {
      space_cv_.notify_all();
      stream_done_cv_.wait_for(lock, std::chrono::seconds(2),
                               [&] { return !AnyStreamOpenLocked(); });
    }
    for (Stream& st : streams_) {
      if (st.ctx != nullptr) st.ctx->TryCancel();
    }
  }
  data_cv_.notify_all();
  space_cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(reader_mu_);
    for (auto& r : readers_) {
      if (r.joinable()) r.join();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : buffer_) unfetched->push_back(std::move(b.delivery.token));
  buffer_.clear();
  buffered_bytes_ = 0;
}

void StreamingPullSource::Close() {
  // Hand back what was received but never delivered, so it comes again soon.
  std::vector<std::string> unfetched;
  StopStream(&unfetched);
  if (!unfetched.empty()) (void)ModifyDeadline(unfetched, 0, "releasing");
}

}  // namespace unibus::pubsub_internal

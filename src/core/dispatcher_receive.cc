// Receiving in a dispatcher: fetching under the flow-control limits, and handing
// ready messages to Subscribe() workers or Pull() callers.
#include "absl/strings/str_cat.h"
#include "core/dispatcher_core.h"
#include "spdlog/spdlog.h"

namespace unibus::core_internal {

absl::StatusOr<std::vector<PulledMessage>> DispatchCore::Pull(std::size_t max,
                                                              absl::Duration timeout) {
  {
    MutexLock lock(&mu_);
    if (!workers_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "subscriber for '", config_.subscription, "' is running a Subscribe() session; ",
          "Pull() and Subscribe() cannot share one subscriber"));
    }
    pull_mode_ = true;
  }
  StartOnce();
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<PulledMessage> out;
  MutexLock lock(&mu_);
  // The caller's own acks since its last Pull: settled here, their keys' next
  // messages are ready for this Pull (one at a time on one key is not paced by the
  // housekeeper).
  SettlePendingAcks();
  while (!stopping_ && ready_.empty() && terminal_.ok()) {
    if (ready_cv_.WaitWithDeadline(&mu_, deadline)) break;
  }
  if (!terminal_.ok() && ready_.empty()) return terminal_;
  if (stopping_) return ShutDownError();
  out.reserve(std::min(max, ready_.size()));
  std::uint64_t id;
  while (out.size() < max) {
    Tracked* t = TakeReady(&id);
    if (t == nullptr) break;
    ++stats_.delivered;
    out.push_back(PulledMessage{HandOut(*t), MakeAckHandler(id, *t)});
  }
  return out;
}

Message DispatchCore::HandOut(const Tracked& t) const {
  Message m = t.delivery.message;
  if (m.topic.empty()) m.topic = config_.topic;
  return m;
}

AckHandler DispatchCore::MakeAckHandler(std::uint64_t id, const Tracked& t) {
  return AckHandler(
      std::make_unique<AckImpl>(shared_from_this(), id, t.delivery.message.delivery_attempt));
}

DispatchCore::Tracked* DispatchCore::TakeReady(std::uint64_t* id) {
  while (!ready_.empty()) {
    *id = ready_.front();
    ready_.pop_front();
    Tracked* t = tracked_.Find(*id);
    if (t == nullptr) continue;
    const int attempt = t->delivery.message.delivery_attempt;
    if (attempt > config_.options.max_delivery_attempts) {
      t->reason = absl::StrCat("delivered ", attempt, " times, more than max_delivery_attempts (",
                               config_.options.max_delivery_attempts, ")");
      QueueDeadLetter(*id);
      continue;
    }
    return t;
  }
  return nullptr;
}

bool DispatchCore::HasRoom() const {
  const std::size_t max = config_.options.max_outstanding_messages;
  const std::size_t max_bytes = config_.options.max_outstanding_bytes;
  return tracked_.size() + std::max<std::size_t>(1, max / 4) <= max &&
         outstanding_bytes_ + max_bytes / 4 < max_bytes;
}

void DispatchCore::FetchLoop() {
  absl::Duration retry = absl::Milliseconds(100);
  while (!stopping_) {
    SettlePendingAcks();
    while (!stopping_ && !HasRoom()) {
      fetcher_waiting_ = true;
      space_cv_.Wait(&mu_);
    }
    fetcher_waiting_ = false;
    if (stopping_) break;
    const std::size_t room = config_.options.max_outstanding_messages - tracked_.size();
    const std::size_t room_bytes = config_.options.max_outstanding_bytes - outstanding_bytes_;
    // Settled messages are freed here, on the thread that fetched (and so
    // allocated) them: glibc frees from another thread much more slowly. The
    // two vectors trade places, keeping their capacity: a large allocation per
    // batch would make glibc consolidate every small free chunk each time.
    settled_.swap(freeing_);
    mu_.Unlock();
    freeing_.clear();
    auto fetched = source_->Fetch(room, room_bytes, absl::Milliseconds(100));
    mu_.Lock();
    if (!fetched.ok()) {
      if (absl::IsUnavailable(fetched.status()) || absl::IsDeadlineExceeded(fetched.status()) ||
          absl::IsResourceExhausted(fetched.status()) || absl::IsAborted(fetched.status())) {
        Log(spdlog::level::warn,
            absl::StrCat("fetch from '", config_.subscription, "' failed, retrying in ",
                         absl::FormatDuration(retry), ": ", fetched.status().ToString()));
        const absl::Time until = absl::Now() + retry;
        while (!stopping_ && !space_cv_.WaitWithDeadline(&mu_, until)) {
        }
        retry = std::min(retry * 2, absl::Seconds(5));
        continue;
      }
      Log(spdlog::level::err, "subscriber stopped: " + fetched.status().ToString());
      terminal_ = fetched.status();
      ready_cv_.SignalAll();
      ended_cv_.SignalAll();
      break;
    }
    retry = absl::Milliseconds(100);
    bool any = false;
    for (auto& d : *fetched) {
      if (d.message.delivery_attempt < 1) d.message.delivery_attempt = 1;
      const std::size_t bytes = d.message.ByteSize();
      outstanding_bytes_ += bytes;
      // Unordered (SubscriberOptions::message_ordering false): keys hold nothing back.
      const bool keyed = config_.options.message_ordering && !d.message.ordering_key.empty();
      const std::uint64_t id = tracked_.Emplace(std::move(d), bytes);
      if (!keyed || keys_.Admit(tracked_.Find(id)->delivery.message.ordering_key, id)) {
        ready_.push_back(id);
      }
      any = true;
    }
    stats_.outstanding = static_cast<std::int64_t>(tracked_.size());
    if (any) ready_cv_.SignalAll();
  }
}

void DispatchCore::WorkerLoop() {
  for (;;) {
    while (!stopping_ && ready_.empty()) ready_cv_.Wait(&mu_);
    if (stopping_) return;
    std::uint64_t id;
    Tracked* t = TakeReady(&id);
    if (t == nullptr) continue;
    Message m = HandOut(*t);
    AckHandler h = MakeAckHandler(id, *t);
    t->in_handler = true;
    ++stats_.delivered;
    ++in_handler_;
    mu_.Unlock();
    std::string failure;
    try {
      handler_(std::move(m), std::move(h));
    } catch (const std::exception& e) {
      failure = absl::StrCat("handler threw: ", e.what());
    } catch (...) {
      failure = "handler threw a non-std::exception";
    }
    mu_.Lock();
    SettlePendingAcks();  // the handler's own ack passes its key on without the housekeeper
    HandlerReturned(id, std::move(failure));
    if (--in_handler_ == 0) idle_cv_.SignalAll();
  }
}

}  // namespace unibus::core_internal

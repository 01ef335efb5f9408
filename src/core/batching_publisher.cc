#include "core/batching_publisher.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/thread_name.h"

namespace unibus::core_internal {
namespace {

using Clock = std::chrono::steady_clock;

class BatchingPublisher : public PublisherConnection {
 public:
  BatchingPublisher(std::shared_ptr<BatchSink> sink, std::string topic, PublisherOptions options,
                    std::size_t max_message_bytes)
      : sink_(std::move(sink)),
        topic_(std::move(topic)),
        options_(options),
        max_message_bytes_(max_message_bytes),
        max_delay_(absl::ToChronoNanoseconds(options.max_batch_delay)) {
    sender_ = std::thread([this] {
      NameThisThread("ub-publish");
      SendLoop();
    });
  }

  ~BatchingPublisher() override { Shutdown(); }

  PublishFuture Publish(Message m) override {
    const std::size_t size = m.ByteSize();
    if (size > max_message_bytes_) return Oversized(size);
    Promise<absl::StatusOr<MessageId>> promise;
    auto future = promise.get_future();
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock,
                   [&] { return shutdown_ || queue_.size() < options_.max_pending_messages; });
    if (shutdown_) {
      lock.unlock();
      promise.set_value(ShutDownError());
      return future;
    }
    if (Enqueue(std::move(m), std::move(promise), size)) work_cv_.notify_one();
    return future;
  }

  // All of `messages` go into the queue under one hold of the lock, and the sender
  // is woken once, after the last: it cannot take the first alone (with
  // max_batch_delay 0 it otherwise wakes on the first and commits it by itself).
  std::vector<PublishFuture> PublishMany(std::vector<Message> messages) override {
    std::vector<PublishFuture> out(messages.size());
    std::vector<Promise<absl::StatusOr<MessageId>>> promises(messages.size());
    std::vector<std::size_t> sizes(messages.size());
    std::size_t queued = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      sizes[i] = messages[i].ByteSize();
      if (sizes[i] > max_message_bytes_) {
        out[i] = Oversized(sizes[i]);
        continue;
      }
      out[i] = promises[i].get_future();
      ++queued;
    }
    if (queued == 0) return out;
    std::unique_lock<std::mutex> lock(mu_);
    // Room for all of them, or an empty queue (a group larger than
    // max_pending_messages still goes in whole).
    space_cv_.wait(lock, [&] {
      return shutdown_ || queue_.empty() || queue_.size() + queued <= options_.max_pending_messages;
    });
    if (shutdown_) {
      lock.unlock();
      for (std::size_t i = 0; i < messages.size(); ++i) {
        if (sizes[i] <= max_message_bytes_) promises[i].set_value(ShutDownError());
      }
      return out;
    }
    bool wake = false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (sizes[i] > max_message_bytes_) continue;
      wake = Enqueue(std::move(messages[i]), std::move(promises[i]), sizes[i]) || wake;
    }
    if (wake) work_cv_.notify_one();
    return out;
  }

  absl::Status Flush() override {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t target = enqueued_;
    flush_requested_ = true;
    work_cv_.notify_one();
    done_cv_.wait(lock, [&] { return completed_ >= target; });
    flush_requested_ = false;
    absl::Status s = std::move(first_error_);
    first_error_ = absl::OkStatus();
    return s;
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    work_cv_.notify_all();
    space_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
  }

 private:
  struct Pending {
    Message message;
    Promise<absl::StatusOr<MessageId>> promise;
    std::size_t size;
  };

  PublishFuture Oversized(std::size_t size) const {
    return MakeReadyFuture<absl::StatusOr<MessageId>>(absl::InvalidArgumentError(
        absl::StrCat("message of ", size, " bytes for topic '", topic_, "' exceeds the limit of ",
                     max_message_bytes_,
                     " bytes (BrokerOptions::max_message_bytes); split it or raise the limit")));
  }

  absl::Status ShutDownError() const {
    return absl::FailedPreconditionError(
        absl::StrCat("publisher for topic '", topic_, "' is shut down"));
  }

  // Appends to the queue (mu_ held). True when the sender must be woken: the queue
  // was empty, or a batch limit is reached.
  bool Enqueue(Message m, Promise<absl::StatusOr<MessageId>> promise, std::size_t size) {
    if (queue_.empty()) oldest_ = Clock::now();
    queue_.push_back(Pending{std::move(m), std::move(promise), size});
    queued_bytes_ += size;
    ++enqueued_;
    return queue_.size() == 1 || queue_.size() >= options_.max_batch_messages ||
           queued_bytes_ >= options_.max_batch_bytes;
  }

  bool BatchReady() const {
    return queue_.size() >= options_.max_batch_messages ||
           queued_bytes_ >= options_.max_batch_bytes || shutdown_ || flush_requested_ ||
           Clock::now() - oldest_ >= max_delay_;
  }

  void SendLoop() {
    std::vector<Message> batch;
    std::vector<Promise<absl::StatusOr<MessageId>>> promises;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return shutdown_ || !queue_.empty(); });
      if (queue_.empty()) return;  // shut down and drained
      while (!BatchReady()) {
        work_cv_.wait_until(lock, oldest_ + max_delay_);
      }
      std::size_t bytes = 0;
      while (!queue_.empty() && batch.size() < options_.max_batch_messages &&
             (batch.empty() || bytes + queue_.front().size <= options_.max_batch_bytes)) {
        auto& p = queue_.front();
        bytes += p.size;
        batch.push_back(std::move(p.message));
        promises.push_back(std::move(p.promise));
        queue_.pop_front();
      }
      queued_bytes_ -= bytes;
      if (!queue_.empty()) oldest_ = Clock::now();
      lock.unlock();
      space_cv_.notify_all();

      auto results = sink_->PublishBatch(topic_, batch);
      absl::Status first_error;
      for (std::size_t i = 0; i < promises.size(); ++i) {
        absl::StatusOr<MessageId> r =
            !results.ok()         ? absl::StatusOr<MessageId>(results.status())
            : i < results->size() ? std::move((*results)[i])
                                  : absl::StatusOr<MessageId>(
                                        absl::InternalError("backend returned too few results"));
        if (!r.ok() && first_error.ok()) first_error = r.status();
        promises[i].set_value(std::move(r));
      }
      const std::size_t n = promises.size();
      batch.clear();
      promises.clear();

      lock.lock();
      completed_ += n;
      if (!first_error.ok() && first_error_.ok()) first_error_ = first_error;
      done_cv_.notify_all();
    }
  }

  const std::shared_ptr<BatchSink> sink_;
  const std::string topic_;
  const PublisherOptions options_;
  const std::size_t max_message_bytes_;
  const std::chrono::nanoseconds max_delay_;

  std::mutex mu_;
  std::condition_variable work_cv_;   // sender waits for messages
  std::condition_variable space_cv_;  // publishers wait for queue space
  std::condition_variable done_cv_;   // Flush waits for completions
  std::deque<Pending> queue_;         // guarded by mu_
  std::size_t queued_bytes_ = 0;      // guarded by mu_
  Clock::time_point oldest_;          // guarded by mu_: enqueue time of queue_.front()
  std::uint64_t enqueued_ = 0;        // guarded by mu_
  std::uint64_t completed_ = 0;       // guarded by mu_
  absl::Status first_error_;          // guarded by mu_: first error since last Flush
  bool flush_requested_ = false;      // guarded by mu_
  bool shutdown_ = false;             // guarded by mu_
  std::thread sender_;
};

}  // namespace

std::shared_ptr<PublisherConnection> MakeBatchingPublisher(std::shared_ptr<BatchSink> sink,
                                                           std::string topic,
                                                           PublisherOptions options,
                                                           std::size_t max_message_bytes) {
  return std::make_shared<BatchingPublisher>(std::move(sink), std::move(topic), options,
                                             max_message_bytes);
}

}  // namespace unibus::core_internal

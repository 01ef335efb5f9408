#include "unibus/dead_letters.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/dead_letter.h"
#include "core/names.h"

namespace unibus {
namespace {

// Attributes Pub/Sub's native dead-lettering adds (it has no unibus-source-topic).
constexpr char kPubsubDeadLetterPrefix[] = "CloudPubSubDeadLetter";
constexpr char kPubsubSourceSubscription[] = "CloudPubSubDeadLetterSourceSubscription";
constexpr char kPubsubDeliveryCount[] = "CloudPubSubDeadLetterSourceDeliveryCount";

bool IsDeadLetterAttribute(std::string_view k) {
  return k == kDeadLetterReason || k == kDeadLetterSourceTopic ||
         k == kDeadLetterSourceSubscription || k == kDeadLetterAttempts;
}

DeadLetter FromMessage(Message m) {
  DeadLetter d;
  d.reason = m.attribute(kDeadLetterReason);
  d.source_topic = m.attribute(kDeadLetterSourceTopic);
  d.source_subscription = m.attribute(kDeadLetterSourceSubscription);
  if (d.source_subscription.empty()) {
    // "projects/P/subscriptions/NAME" -> NAME
    std::string s = m.attribute(kPubsubSourceSubscription);
    d.source_subscription = s.substr(s.rfind('/') + 1);
  }
  std::string attempts = m.attribute(kDeadLetterAttempts);
  if (attempts.empty()) attempts = m.attribute(kPubsubDeliveryCount);
  if (!absl::SimpleAtoi(attempts, &d.delivery_attempts)) d.delivery_attempts = 0;
  d.dead_lettered_at = m.publish_time;
  d.message = std::move(m);
  return d;
}

// The dead letters one call holds: their AckHandlers stay unsettled until the call
// acks them or shuts the subscriber down (which hands the rest back untouched).
struct Held {
  std::vector<DeadLetter> letters;
  std::vector<AckHandler> acks;  // acks[i] settles letters[i]
};

}  // namespace

bool DeadLetterSelector::Matches(const DeadLetter& d) const {
  if (all) return true;
  if (reason.empty() && ids.empty()) return false;
  if (!reason.empty() && d.reason != reason) return false;
  if (!ids.empty() && std::find(ids.begin(), ids.end(), d.message.id) == ids.end()) return false;
  return true;
}

Message ReplayMessage(const DeadLetter& d) {
  Message m;
  m.data = d.message.data;
  m.ordering_key = d.message.ordering_key;
  // Dead-lettering kept a message's own values of those names under
  // unibus-original-NAME (BuildDeadLetterCopy, repeating the prefix on a clash):
  // each of those loses one prefix.
  const std::string_view prefix = core_internal::kOriginalAttributePrefix;
  for (const auto& [k, v] : d.message.attributes) {
    if (IsDeadLetterAttribute(k) || absl::StartsWith(k, kPubsubDeadLetterPrefix)) continue;
    std::string_view name = k;
    while (name.starts_with(prefix)) name.remove_prefix(prefix.size());
    if (k.starts_with(prefix) && IsDeadLetterAttribute(name)) {
      m.attributes.emplace(k.substr(prefix.size()), v);
    } else {
      m.attributes.emplace(k, v);
    }
  }
  return m;
}

std::vector<std::pair<std::string, int>> CountByReason(const std::vector<DeadLetter>& letters) {
  std::map<std::string, int> counts;
  for (const auto& d : letters) ++counts[d.reason];
  std::vector<std::pair<std::string, int>> out(counts.begin(), counts.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

absl::StatusOr<DeadLetters> DeadLetters::Open(Broker broker, std::string subscription,
                                              DeadLetterOptions options) {
  if (auto s = core_internal::ValidateName("subscription", subscription); !s.ok()) return s;
  if (options.dead_letter_topic.empty()) options.dead_letter_topic = subscription + ".dead-letter";
  if (options.reader_subscription.empty())
    options.reader_subscription = options.dead_letter_topic + ".reader";
  if (auto s = core_internal::ValidateName("dead-letter topic", options.dead_letter_topic);
      !s.ok()) {
    return s;
  }
  if (auto s = core_internal::ValidateName("dead-letter reader subscription",
                                           options.reader_subscription);
      !s.ok()) {
    return s;
  }
  if (options.max_messages == 0)
    return absl::InvalidArgumentError("DeadLetterOptions::max_messages must be at least 1");
  return DeadLetters(std::move(broker), std::move(subscription), std::move(options));
}

namespace {

// Reads every dead letter of `dlt` through `reader` (up to max_messages), holding
// them all. NotFound from the returned subscriber's absence means the dead-letter
// topic does not exist: nothing was ever dead-lettered.
class Reading {
 public:
  Reading(Broker broker, const DeadLetterOptions& options)
      : broker_(std::move(broker)), o_(options) {}
  Reading(const Reading&) = delete;
  Reading& operator=(const Reading&) = delete;
  ~Reading() {
    held_.acks.clear();  // unsettled after shutdown: no-ops
    if (sub_) sub_->Shutdown();
  }

  // Returns false (OK) when the dead-letter topic does not exist.
  absl::StatusOr<bool> Read() {
    Admin admin = broker_.admin();
    // Listing is cheap everywhere (describing a Kafka topic's configs is not).
    auto topics = admin.ListTopics();
    if (!topics.ok()) return topics.status();
    if (std::find(topics->begin(), topics->end(), o_.dead_letter_topic) == topics->end())
      return false;
    // Created explicitly so that it starts at the earliest message and, on Pub/Sub,
    // without message ordering (which would hold back a key's later dead letters).
    SubscriptionConfig c{.name = o_.reader_subscription,
                         .topic = o_.dead_letter_topic,
                         .start = StartPosition::kEarliest,
                         .message_ordering = false};
    if (auto s = admin.CreateSubscription(c); !s.ok() && !absl::IsAlreadyExists(s)) {
      return absl::Status(s.code(), absl::StrCat("cannot create the dead-letter reader '",
                                                 o_.reader_subscription, "': ", s.message()));
    }
    std::int64_t expected = -1;
    if (auto info = admin.DescribeSubscription(o_.reader_subscription); info.ok())
      expected = info->backlog;
    if (expected == 0) return true;

    SubscriberOptions so;
    so.topic = o_.dead_letter_topic;
    so.start = StartPosition::kEarliest;
    so.message_ordering = false;  // dead letters have released their keys
    so.max_outstanding_messages = o_.max_messages;
    so.max_outstanding_bytes = std::numeric_limits<std::size_t>::max();
    // This reader never nacks; should anything drop a handler, never dead-letter
    // the dead letters.
    so.max_delivery_attempts = std::numeric_limits<int>::max();
    auto sub = broker_.subscriber(o_.reader_subscription, so);
    if (!sub.ok()) return sub.status();
    sub_ = *sub;
    std::set<std::string> seen;
    while (held_.letters.size() < o_.max_messages) {
      if (expected > 0 && static_cast<std::int64_t>(seen.size()) >= expected) break;
      // Until the first dead letter, or while the backlog says more are there, the
      // subscriber may still be joining (a Kafka consumer group takes seconds).
      const bool more_known = expected > 0 || seen.empty();
      auto got = sub_->Pull(o_.max_messages - held_.letters.size(),
                            more_known ? std::max(o_.wait, o_.first_wait) : o_.wait);
      if (!got.ok()) return got.status();
      if (got->empty()) break;
      for (auto& p : *got) {
        if (!seen.insert(p.message.id).second) continue;  // redelivered within the call
        held_.letters.push_back(FromMessage(std::move(p.message)));
        held_.acks.push_back(std::move(p.ack));
      }
    }
    return true;
  }

  Held& held() { return held_; }

  // Acks what was acked and hands the rest back.
  void Finish() {
    held_.acks.clear();
    if (sub_) sub_->Shutdown();
    sub_.reset();
  }

 private:
  Broker broker_;
  const DeadLetterOptions& o_;
  std::optional<Subscriber> sub_;
  Held held_;
};

}  // namespace

absl::StatusOr<std::vector<DeadLetter>> DeadLetters::List(const DeadLetterSelector& selector) {
  Reading r(broker_, options_);
  auto read = r.Read();
  if (!read.ok()) return read.status();
  std::vector<DeadLetter> out;
  for (auto& d : r.held().letters) {
    if (selector.Matches(d)) out.push_back(d);
  }
  r.Finish();
  return out;
}

absl::StatusOr<DeadLetter> DeadLetters::Show(const std::string& id) {
  auto found = List({.ids = {id}});
  if (!found.ok()) return found.status();
  if (found->empty()) {
    return absl::NotFoundError(
        absl::StrCat("no dead letter with id '", id, "' in topic '", options_.dead_letter_topic,
                     "' of subscription '", subscription_,
                     "'; list them with `unibus dead-letters ", "list -s ", subscription_, "`"));
  }
  return std::move(found->front());
}

absl::StatusOr<ReplayReport> DeadLetters::Replay(const DeadLetterSelector& selector) {
  if (!selector.all && selector.reason.empty() && selector.ids.empty()) {
    return absl::InvalidArgumentError(
        "a replay needs a selection: all, a reason, or dead-letter ids");
  }
  ReplayReport report;
  Reading r(broker_, options_);
  auto read = r.Read();
  if (!read.ok()) return read.status();
  Held& held = r.held();

  // A dead letter without unibus-source-topic (Pub/Sub's native dead-lettering)
  // came from the topic of the subscription that gave up on it.
  std::string fallback_topic;
  absl::Status fallback_status = absl::OkStatus();
  bool looked_up = false;
  std::map<std::string, Publisher> publishers;
  struct InFlight {
    std::size_t index;
    PublishFuture future;
  };
  std::vector<InFlight> in_flight;
  for (std::size_t i = 0; i < held.letters.size(); ++i) {
    const DeadLetter& d = held.letters[i];
    if (!selector.Matches(d)) continue;
    std::string topic = d.source_topic;
    if (topic.empty()) {
      if (!looked_up) {
        looked_up = true;
        auto info = broker_.admin().DescribeSubscription(subscription_);
        if (info.ok()) {
          fallback_topic = info->topic;
        } else {
          fallback_status = info.status();
        }
      }
      topic = fallback_topic;
    }
    if (topic.empty()) {
      report.failed.emplace_back(
          d.message.id, absl::FailedPreconditionError(absl::StrCat(
                            "dead letter '", d.message.id, "' has no ", kDeadLetterSourceTopic,
                            " attribute and the topic of subscription '", subscription_,
                            "' is unknown: ", fallback_status.ToString())));
      continue;
    }
    auto p = publishers.find(topic);
    if (p == publishers.end()) {
      // The library restores the message as it was, its own attribute names included.
      auto opened = broker_.publisher(topic, PublisherOptions{.allow_reserved_attributes = true});
      if (!opened.ok()) {
        report.failed.emplace_back(d.message.id, opened.status());
        continue;
      }
      p = publishers.emplace(topic, *opened).first;
    }
    in_flight.push_back({i, p->second.Publish(ReplayMessage(d))});
  }
  for (auto& f : in_flight) {
    const std::string& id = held.letters[f.index].message.id;
    if (!f.future.wait_for(absl::ToChronoNanoseconds(options_.publish_timeout))) {
      report.failed.emplace_back(
          id, absl::DeadlineExceededError(
                  absl::StrCat("the replay of dead letter '", id, "' was not accepted within ",
                               absl::FormatDuration(options_.publish_timeout))));
      continue;
    }
    const auto& result = f.future.get();
    if (!result.ok()) {
      report.failed.emplace_back(id, result.status());
      continue;
    }
    std::move(held.acks[f.index]).ack();
    report.replayed.push_back(id);
  }
  for (const auto& id : selector.ids) {
    bool present = std::any_of(held.letters.begin(), held.letters.end(),
                               [&](const DeadLetter& d) { return d.message.id == id; });
    if (!present) report.missing.push_back(id);
  }
  r.Finish();  // commits the acks
  return report;
}

}  // namespace unibus

// Acting on a subscription's dead letters: list them, show one, replay ("redrive")
// selected ones to the topic they came from. Built only on Broker, Admin, Publisher
// and Subscriber, so it behaves the same on every backend.
#ifndef UNIBUS_DEAD_LETTERS_H_
#define UNIBUS_DEAD_LETTERS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "unibus/broker.h"
#include "unibus/export.h"
#include "unibus/message.h"

namespace unibus {

// One message in a subscription's dead-letter topic.
struct UNIBUS_EXPORT DeadLetter {
  // The message as the dead-letter topic holds it, reason attributes included.
  // `message.id` is its id in the dead-letter topic: the id Show and Replay take.
  Message message;
  std::string reason;               // unibus-dead-letter-reason; empty when absent
  std::string source_topic;         // where Replay publishes it; empty when unknown
  std::string source_subscription;  // the subscription that gave up on it
  int delivery_attempts = 0;        // attempts before it was dead-lettered; 0 if unknown
  absl::Time dead_lettered_at = absl::InfinitePast();  // its publish time in the DLT
};

// Which dead letters a call takes. A dead letter is selected when `all` is set, or
// when it passes every filter that is set (reason, ids); an empty selector selects
// nothing, so that a replay never takes everything by accident.
struct UNIBUS_EXPORT DeadLetterSelector {
  bool all = false;
  std::string reason;            // exact reason; empty: any
  std::vector<std::string> ids;  // DeadLetter::message.id values; empty: any
  [[nodiscard]] bool Matches(const DeadLetter& d) const;
};

struct UNIBUS_EXPORT DeadLetterOptions {
  // The subscription's dead-letter topic; empty: "<subscription>.dead-letter", the
  // default of SubscriberOptions::dead_letter_topic.
  std::string dead_letter_topic;
  // The subscription through which the dead-letter topic is read; created (from the
  // earliest retained message, without ordering) when missing. Empty:
  // "<dead_letter_topic>.reader".
  std::string reader_subscription;
  // A call reads at most this many dead letters (they are all held at once).
  std::size_t max_messages = 10000;
  // How long a call waits for the next dead letter before it decides it has seen
  // them all (a backend may hand out a backlog in several fetches). When the
  // backend reports the reader's backlog, a call stops as soon as it has read it.
  absl::Duration wait = absl::Seconds(2);
  // How long to wait instead while none was read yet, or while the backlog the
  // backend reports is not read yet (a Kafka consumer group takes seconds to join).
  absl::Duration first_wait = absl::Seconds(10);
  // How long a replay waits for each publish to the source topic.
  absl::Duration publish_timeout = absl::Seconds(30);
};

// What Replay did.
struct UNIBUS_EXPORT ReplayReport {
  std::vector<std::string> replayed;  // dead-letter ids published to their source and acked
  // Dead letters selected but not replayed (they stay in the dead-letter topic),
  // each with its id and the error.
  std::vector<std::pair<std::string, absl::Status>> failed;
  std::vector<std::string> missing;  // ids asked for that are not in the dead-letter topic
};

// The dead letters of one subscription. A cheap value; thread-safe, but calls on
// one subscription compete for its dead letters (like consumers of one subscription),
// so run one at a time. Every call blocks: it opens a subscriber on the reader
// subscription, reads every dead letter (up to max_messages), acts, and shuts down;
// what it did not ack stays in the dead-letter topic, untouched.
//
// On Kafka a consumer group commits a contiguous prefix of offsets: a dead letter
// replayed while an earlier one of its partition stays behind is listed (and
// replayed) again later. Replay all, or by reason, when that matters.
class UNIBUS_EXPORT DeadLetters {
 public:
  // InvalidArgument for a bad subscription or topic name, or max_messages == 0.
  [[nodiscard]] static absl::StatusOr<DeadLetters> Open(Broker broker, std::string subscription,
                                                        DeadLetterOptions options = {});

  // The selected dead letters, oldest first (per partition on Kafka). Empty when
  // nothing was ever dead-lettered (the dead-letter topic does not exist). Leaves
  // them all in the dead-letter topic.
  [[nodiscard]] absl::StatusOr<std::vector<DeadLetter>> List(const DeadLetterSelector& selector = {
                                                                 .all = true});

  // The dead letter with id `id`; NotFound when there is none.
  [[nodiscard]] absl::StatusOr<DeadLetter> Show(const std::string& id);

  // Publishes each selected dead letter to its source topic (ReplayMessage), waits
  // for the broker to accept it, and only then acks it in the dead-letter topic. A
  // dead letter whose publish fails is reported and stays. Errors of the call
  // itself (broker unreachable, bad selector) come back as the status.
  [[nodiscard]] absl::StatusOr<ReplayReport> Replay(const DeadLetterSelector& selector);

  const std::string& subscription() const { return subscription_; }
  const std::string& dead_letter_topic() const { return options_.dead_letter_topic; }
  const std::string& reader_subscription() const { return options_.reader_subscription; }

 private:
  DeadLetters(Broker broker, std::string subscription, DeadLetterOptions options)
      : broker_(std::move(broker)),
        subscription_(std::move(subscription)),
        options_(std::move(options)) {}

  Broker broker_;
  std::string subscription_;
  DeadLetterOptions options_;
};

// The message Replay publishes for `d`: its data, ordering key and attributes,
// without the attributes dead-lettering added (unibus-dead-letter-reason,
// unibus-source-topic, unibus-source-subscription, unibus-delivery-attempts, and
// Pub/Sub's CloudPubSubDeadLetter*).
UNIBUS_EXPORT Message ReplayMessage(const DeadLetter& d);

// How many dead letters carry each reason, most frequent first (ties by reason).
UNIBUS_EXPORT std::vector<std::pair<std::string, int>> CountByReason(
    const std::vector<DeadLetter>& letters);

}  // namespace unibus

#endif  // UNIBUS_DEAD_LETTERS_H_

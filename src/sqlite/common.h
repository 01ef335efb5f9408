// Small pieces shared by the sqlite backend's parts: the attribute encoding, the
// NotFound messages, lease tokens and retention.
#ifndef UNIBUS_SQLITE_COMMON_H_
#define UNIBUS_SQLITE_COMMON_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace unibus::sqlite_internal {

class Db;

// Retention of a topic created without one (TopicConfig::retention zero).
inline constexpr absl::Duration kDefaultRetention = absl::Hours(24 * 7);

// Attributes as one blob: for each pair, u32 key length, key, u32 value length,
// value (little-endian). Empty maps are stored as NULL.
std::string EncodeAttributes(const std::map<std::string, std::string>& attributes);
// False when `blob` is malformed (then `out` holds what parsed).
bool DecodeAttributes(std::string_view blob, std::map<std::string, std::string>* out);

// NotFound for `topic`, saying how to create it; `publishing`: also the publisher's
// option that creates it (not said to a subscriber or an admin call, whose caller
// cannot set it).
absl::Status TopicNotFound(const Db& db, std::string_view topic, bool publishing = false);
absl::Status SubscriptionNotFound(const Db& db, std::string_view subscription);

// A lease token: "<seq>.<attempts>", so that a consumer whose lease expired and was
// handed to another cannot release or extend the other's lease.
std::string LeaseToken(std::int64_t seq, std::int64_t attempts);
bool ParseLeaseToken(std::string_view token, std::int64_t* seq, std::int64_t* attempts);

// Deletes messages past their topic's retention (age and count), and the leases on
// them, in one write transaction. `now_us`: wall clock in microseconds.
absl::Status ApplyRetention(Db& db, std::int64_t now_us);

// ApplyRetention when this process's last pass on the file is older than
// DbConfig::retention_check. Errors are returned, not fatal: retention is retried
// at the next check.
absl::Status MaybeApplyRetention(Db& db);

}  // namespace unibus::sqlite_internal

#endif  // UNIBUS_SQLITE_COMMON_H_

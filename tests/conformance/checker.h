// Counts lost, duplicated and reordered messages in a run.
#ifndef UNIBUS_TESTS_CONFORMANCE_CHECKER_H_
#define UNIBUS_TESTS_CONFORMANCE_CHECKER_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace unibus::conformance {

struct CheckReport {
  int expected = 0;
  int received = 0;    // deliveries seen, duplicates included
  int lost = 0;        // expected, never received
  int duplicated = 0;  // deliveries beyond the first of a message
  int reordered = 0;   // first deliveries that came before an earlier message of their key
  int unexpected = 0;  // received, never published
};

// Thread-safe. Call Expect() for each published message (in publish order), Receive()
// for each delivery, then Report().
class Checker {
 public:
  void Expect(const std::string& id, const std::string& key = "") {
    std::lock_guard<std::mutex> lock(mu_);
    order_[id] = static_cast<int>(expected_.size());
    expected_.push_back(id);
    key_of_[id] = key;
  }
  void Receive(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    ++received_;
    if (++count_[id] > 1) return;
    auto k = key_of_.find(id);
    if (k == key_of_.end() || k->second.empty()) return;
    int& last = last_in_key_[k->second];
    const int pos = order_.at(id);
    if (pos < last) ++reordered_;
    last = std::max(last, pos);
  }
  int distinct() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(count_.size());
  }
  CheckReport Report() const {
    std::lock_guard<std::mutex> lock(mu_);
    CheckReport r;
    r.expected = static_cast<int>(expected_.size());
    r.received = received_;
    r.reordered = reordered_;
    for (const auto& id : expected_) {
      auto it = count_.find(id);
      if (it == count_.end()) ++r.lost;
    }
    for (const auto& [id, n] : count_) {
      if (!order_.count(id)) ++r.unexpected;
      r.duplicated += n - 1;
    }
    return r;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> expected_;
  std::map<std::string, int> order_;
  std::map<std::string, std::string> key_of_;
  std::map<std::string, int> count_;
  std::map<std::string, int> last_in_key_;
  int received_ = 0, reordered_ = 0;
};

}  // namespace unibus::conformance

#endif  // UNIBUS_TESTS_CONFORMANCE_CHECKER_H_

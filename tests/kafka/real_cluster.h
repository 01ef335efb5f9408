// A real Apache Kafka cluster (KRaft) for tests, run by scripts/kafka.sh in a
// temporary directory for the length of a test binary.
#ifndef UNIBUS_TESTS_KAFKA_REAL_CLUSTER_H_
#define UNIBUS_TESTS_KAFKA_REAL_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace unibus::kafka_testing {

class RealCluster {
 public:
  // Starts `brokers` combined broker+controller nodes (3: replication factor 3,
  // min.insync.replicas 2) on free loopback ports and waits until all are
  // registered. Blocks for the start (5-30 s). On failure returns the script's
  // message (jars not fetchable, never ready and its log file, ...). The nodes are
  // stopped when this object is destroyed, or when the process dies.
  static absl::StatusOr<std::unique_ptr<RealCluster>> Start(int brokers);
  // The same with more `scripts/kafka.sh start` options, e.g. {"--security", "sasl_ssl",
  // "--user", "alice:PASSWORD"}. Always a cluster of its own (UNIBUS_KAFKA_TEST_CLUSTER
  // is not used).
  static absl::StatusOr<std::unique_ptr<RealCluster>> Start(
      int brokers, const std::vector<std::string>& options);
  ~RealCluster();

  const std::string& bootstrap() const { return bootstrap_; }
  std::string url() const { return "kafka://" + bootstrap_; }
  int brokers() const { return brokers_; }
  // "Apache Kafka 4.1.1, 3 node(s) in DIR, bootstrap ...": what a test ran on.
  const std::string& description() const { return description_; }
  const std::string& dir() const { return dir_; }
  // --security sasl_ssl: the CA clients trust, the super user's (admin) librdkafka
  // properties and Kafka tools' --command-config file (scripts/kafka.sh writes them).
  std::string ca_file() const { return dir_ + "/cluster/security/ca.pem"; }
  std::string admin_properties() const { return dir_ + "/cluster/security/client.properties"; }
  std::string admin_tool_properties() const {
    return dir_ + "/cluster/security/admin-java.properties";
  }
  // What `scripts/kafka.sh start` printed.
  const std::string& start_output() const { return start_output_; }

  // The process id of node `node` (1-based, = its broker id), or -1 if it is down.
  int Pid(int node) const;
  // SIGKILLs node `node` and waits until it is gone.
  absl::Status Kill(int node);
  // Stops node `node` gracefully (SIGTERM), waiting until it is gone.
  absl::Status Stop(int node);
  // Stops every node gracefully (SIGTERM), waiting until they are gone.
  absl::Status StopAll();
  // Starts every node that is down, keeping its data and ports; waits until ready.
  absl::Status StartAll();

  // The last `lines` WARN and ERROR lines of each node's log, of its current run
  // (kafka.log) and the one before a restart (kafka.log.1): what a failed test prints.
  std::string LogDigest(int lines) const;

  // Runs one of Kafka's command-line tool classes from the same jars (e.g.
  // "org.apache.kafka.tools.TopicCommand") with `args`; returns its stdout, or an
  // error holding its exit status and stderr.
  absl::StatusOr<std::string> Tool(const std::string& main_class,
                                   const std::vector<std::string>& args) const;

 private:
  RealCluster() = default;
  absl::StatusOr<std::string> Script(const std::vector<std::string>& args) const;

  std::string dir_;
  std::string bootstrap_;
  std::string description_;
  std::string start_output_;
  int brokers_ = 0;
};

}  // namespace unibus::kafka_testing

#endif  // UNIBUS_TESTS_KAFKA_REAL_CLUSTER_H_

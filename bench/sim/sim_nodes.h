// Simulated compute nodes: many agents in one process, each speaking the real agent protocol
// (src/common/protocol.h) over its own mutual-TLS WebSocket to a real head node. Tasks do not run:
// a started task "finishes" after a fixed simulated duration and its result is reported like an
// agent would (batched per node). All connections share one io_context and one TLS context; each
// node presents its own certificate (issued at its join) with a key shared by every node.
//
// Thread-safety: everything runs on the thread that calls Run(); the counters are atomics that
// other threads may read.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace drover::sim {

struct SimConfig {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string ca_pem;
  std::string key_pem;  // every node's private key
  int cores = 32;
  int64_t memory_mb = 131072;
  int64_t task_ms = 5000;      // simulated run time of every task
  int connect_in_flight = 64;  // TLS handshakes at a time (staggered connection)
  int result_batch_ms = 20;    // how often finished tasks are reported
};

struct SimNodeIdentity {
  std::string name;
  std::string cert_pem;
};

struct SimCounters {
  std::atomic<uint64_t> online{0};        // nodes welcomed by the head node
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> disconnects{0};   // connections lost after the welcome
  std::atomic<uint64_t> started{0};       // tasks received in start messages
  std::atomic<uint64_t> acknowledged{0};  // results the head node acknowledged (committed)
  std::atomic<uint64_t> killed{0};        // tasks in kill messages
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<int64_t> first_start_ms{0};  // steady-clock ms of the first start message, 0 before
  std::atomic<int64_t> last_start_ms{0};
};

class SimCluster {
 public:
  static std::unique_ptr<SimCluster> Create(const SimConfig& config, std::vector<SimNodeIdentity> nodes,
                                            std::string* error);
  virtual ~SimCluster() = default;
  // Connects every node (at most connect_in_flight handshakes at once), then serves them until Stop().
  virtual void Run() = 0;
  // Safe from any thread.
  virtual void Stop() = 0;
  virtual const SimCounters& counters() const = 0;
};

// Milliseconds of a steady clock; the clock SimCounters' times are in.
int64_t SteadyMs();

}  // namespace drover::sim

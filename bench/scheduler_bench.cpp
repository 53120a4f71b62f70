// Scheduling pass time of the pure policy on a large cluster: 10,000 nodes x 32 cores, 1,000,000
// queued tasks, the cluster mostly busy with running tasks that have time limits (so backfill
// computes a reservation). Prints "metric value unit" lines.
//
//   scheduler_bench [passes]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scheduler/scheduler.h"

namespace {

using drover::scheduler::Outcome;
using drover::scheduler::PendingJob;
using drover::scheduler::RunningAllocation;
using drover::scheduler::Schedule;
using drover::scheduler::Snapshot;

constexpr int kNodes = 10'000;
constexpr int kCores = 32;
constexpr int64_t kMin = 60'000;

uint64_t rng_state = 88172645463325252ull;
uint64_t Next() {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

// `jobs` jobs share 1,000,000 queued tasks; `busy` of the cores run tasks ending within 2 hours.
Snapshot Build(int jobs, double busy, int users) {
  Snapshot s;
  s.now = 1'700'000'000'000;
  s.eligibility.emplace_back();
  s.eligibility.push_back({{"gpu"}, "", {}, {}});
  for (int u = 0; u < users; ++u) s.users.push_back({"user" + std::to_string(u), 1.0 / (1 + u % 7)});
  for (int i = 0; i < kNodes; ++i) {
    drover::scheduler::NodeCapacity n;
    n.node = static_cast<uint32_t>(i);
    n.name = "node" + std::to_string(i);
    n.total_cores = kCores;
    n.total_memory_mb = 256 * 1024;
    n.groups = {i % 10 == 0 ? "gpu" : "cpu"};
    int used = 0;
    while (used < kCores && static_cast<double>(Next() % 1000) / 1000.0 < busy) {
      int cores = 1 + static_cast<int>(Next() % 4);
      cores = std::min(cores, kCores - used);
      s.running.push_back({static_cast<uint32_t>(i), static_cast<int64_t>(Next() % 100'000), static_cast<uint32_t>(Next() % users),
                           cores, cores * 2048LL, 0, s.now + static_cast<int64_t>(1 + Next() % 120) * kMin});
      used += cores;
    }
    n.free_cores = kCores - used;
    n.free_memory_mb = n.total_memory_mb - used * 2048LL;
    s.nodes.push_back(std::move(n));
  }
  int per_job = 1'000'000 / jobs;
  int64_t free_cores = 0;
  for (const auto& n : s.nodes) free_cores += n.free_cores;
  for (int j = 0; j < jobs; ++j) {
    PendingJob p;
    p.ref = static_cast<uint64_t>(j);
    p.job_id = 1'000'000 + j;
    p.priority = 2000 + static_cast<int>(Next() % 3) * 1000 - 1000;
    p.user = static_cast<uint32_t>(Next() % users);
    p.eligibility = j % 20 == 0 ? 1 : 0;
    p.request.cores = 1 + static_cast<int>(Next() % 8);
    p.request.memory_mb = p.request.cores * 2048LL;
    p.time_limit_ms = static_cast<int64_t>(10 + Next() % 240) * kMin;
    // As the head node passes them: at most as many task ids as could start now.
    int64_t ids = std::min<int64_t>(per_job, std::max<int64_t>(1, free_cores / p.request.cores));
    for (int64_t t = 1; t <= ids; ++t) p.tasks.push_back(static_cast<uint32_t>(t));
    s.queue.push_back(std::move(p));
  }
  return s;
}

void Measure(const char* name, const Snapshot& s, int passes) {
  std::vector<double> ms;
  size_t placed = 0;
  for (int i = 0; i < passes; ++i) {
    auto start = std::chrono::steady_clock::now();
    Outcome o = Schedule(s);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    placed = o.placements.size();
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))]; };
  std::printf("scheduler_pass_p50_%s %.2f ms\n", name, pct(0.50));
  std::printf("scheduler_pass_p99_%s %.2f ms\n", name, pct(0.99));
  std::printf("scheduler_placements_%s %zu tasks\n", name, placed);
}

}  // namespace

int main(int argc, char** argv) {
  int passes = argc > 1 ? std::atoi(argv[1]) : 20;
  std::printf("scheduler_nodes %d nodes\nscheduler_cores_per_node %d cores\nscheduler_queued_tasks 1000000 tasks\n",
              kNodes, kCores);
  // A few big sweeps, the usual shape of a Drover queue.
  Snapshot sweeps = Build(1'000, 0.97, 50);
  std::printf("scheduler_running_allocations_sweeps %zu allocations\n", sweeps.running.size());
  Measure("1000_jobs", sweeps, passes);
  // The worst case for the queue side: a million one-task jobs.
  Snapshot singles = Build(1'000'000, 0.97, 500);
  Measure("1000000_jobs", singles, std::max(3, passes / 4));
  // A full cluster: nothing can start, the pass must still be quick.
  Snapshot full = Build(1'000, 1.01, 50);
  Measure("full_cluster", full, passes);
  return 0;
}

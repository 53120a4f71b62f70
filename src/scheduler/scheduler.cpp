#include "scheduler/scheduler.h"

#include <algorithm>
#include <map>

namespace drover::scheduler {

std::vector<Placement> Schedule(const Snapshot& snapshot) {
  std::vector<Placement> out;
  if (snapshot.nodes.empty() || snapshot.queue.empty()) return out;

  std::vector<const PendingTask*> order;
  order.reserve(snapshot.queue.size());
  for (const auto& t : snapshot.queue) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const PendingTask* a, const PendingTask* b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    if (a->job_id != b->job_id) return a->job_id < b->job_id;
    return a->task_id < b->task_id;
  });

  int largest_node = 0;
  // free cores -> node, for best fit in O(log n)
  std::multimap<int, uint32_t> by_free;
  std::vector<int> free(snapshot.nodes.size());
  for (size_t i = 0; i < snapshot.nodes.size(); ++i) {
    largest_node = std::max(largest_node, snapshot.nodes[i].total_cores);
    free[i] = snapshot.nodes[i].free_cores;
    if (free[i] > 0) by_free.emplace(free[i], static_cast<uint32_t>(i));
  }

  for (const PendingTask* t : order) {
    if (by_free.empty()) break;
    if (t->cores > largest_node) continue;  // can never run here; do not let it block others
    auto it = by_free.lower_bound(t->cores);
    auto excluded = [&](uint32_t idx) {
      const auto& ex = t->excluded_nodes;
      return std::find(ex.begin(), ex.end(), snapshot.nodes[idx].node) != ex.end();
    };
    while (it != by_free.end() && excluded(it->second)) ++it;
    if (it == by_free.end()) {
      if (!t->excluded_nodes.empty()) continue;  // only its excluded nodes have room: let others pass
      break;  // the head of the queue waits for room; nothing passes it
    }
    uint32_t idx = it->second;
    by_free.erase(it);
    free[idx] -= t->cores;
    if (free[idx] > 0) by_free.emplace(free[idx], idx);
    out.push_back({t->ref, snapshot.nodes[idx].node});
  }
  return out;
}

}  // namespace drover::scheduler

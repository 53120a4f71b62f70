#include "scheduler/scheduler.h"

#include <algorithm>
#include <bit>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "common/constraint.h"

namespace drover::scheduler {

const char* ToString(WaitReason r) {
  switch (r) {
    case WaitReason::kNone: return "None";
    case WaitReason::kResources: return "Resources";
    case WaitReason::kPriority: return "Priority";
    case WaitReason::kNoNode: return "NoEligibleNode";
    case WaitReason::kTooLarge: return "TooLarge";
    case WaitReason::kUserLimit: return "UserLimit";
    case WaitReason::kGroupLimit: return "GroupLimit";
  }
  return "?";
}

namespace {

struct Amount {
  int cores = 0;
  int64_t memory_mb = 0;
  int gpus = 0;
};

// One scheduling pass over a snapshot. Resources only ever decrease during a pass, which is what
// makes the "this shape did not fit" memo sound.
class Pass {
 public:
  explicit Pass(const Snapshot& s) : s_(s) {}

  Outcome Run() {
    out_.reasons.assign(s_.queue.size(), WaitReason::kNone);
    if (s_.queue.empty()) return std::move(out_);
    InitNodes();
    InitLimits();
    // The effective priority depends only on (priority, owner): jobs are grouped by that, each
    // group in FIFO order, and a small heap merges the groups. A pass often stops long before the
    // end of a long queue, so nothing costs more than O(queue) before it does.
    // Until a job is looked at, it waits behind those that are (set sequentially: cheap).
    for (uint32_t i = 0; i < s_.queue.size(); ++i) {
      if (!s_.queue[i].tasks.empty()) out_.reasons[i] = WaitReason::kPriority;
    }
    std::vector<std::vector<std::pair<int64_t, uint32_t>>> groups;  // (job id, index) in FIFO order
    std::vector<double> group_priority;
    {
      // (priority, user) -> group: one table over users per distinct priority.
      size_t users = s_.users.size() + 1;  // the last slot: users the snapshot does not list
      std::map<int, std::vector<int32_t>> tables;
      int last_priority = 0;
      std::vector<int32_t>* table = nullptr;
      for (uint32_t i = 0; i < s_.queue.size(); ++i) {
        const PendingJob& j = s_.queue[i];
        if (!table || j.priority != last_priority) {
          auto [it, added] = tables.try_emplace(j.priority);
          if (added) it->second.assign(users, -1);
          table = &it->second;
          last_priority = j.priority;
        }
        size_t u = std::min<size_t>(j.user, users - 1);
        int32_t& g = (*table)[u];
        if (g < 0) {
          g = static_cast<int32_t>(groups.size());
          groups.emplace_back();
          double fs = j.user < s_.users.size() ? s_.users[j.user].fair_share : 1.0;
          group_priority.push_back(j.priority + s_.policy.fair_share_weight * fs);
        }
        groups[static_cast<size_t>(g)].emplace_back(j.job_id, i);
      }
    }
    for (auto& g : groups) {
      if (!std::is_sorted(g.begin(), g.end())) std::sort(g.begin(), g.end());
    }
    std::vector<size_t> next(groups.size(), 0);
    // (effective priority, job id, group): the highest priority, then the lowest job id, on top.
    using Head = std::tuple<double, int64_t, uint32_t>;
    auto later = [](const Head& a, const Head& b) {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      return std::get<1>(a) > std::get<1>(b);
    };
    std::vector<Head> heap;
    for (uint32_t g = 0; g < groups.size(); ++g) heap.emplace_back(group_priority[g], groups[g][0].first, g);
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
      bool exhausted = total_free_cores_ <= 0 || examined_after_reservation_ >= s_.policy.backfill_depth;
      if (have_reservation_ && exhausted) break;
      std::pop_heap(heap.begin(), heap.end(), later);
      uint32_t g = std::get<2>(heap.back());
      heap.pop_back();
      uint32_t idx = groups[g][next[g]++].second;
      if (next[g] < groups[g].size()) {
        heap.emplace_back(group_priority[g], groups[g][next[g]].first, g);
        std::push_heap(heap.begin(), heap.end(), later);
      }
      if (have_reservation_) ++examined_after_reservation_;
      ScheduleJob(idx);
    }
    return std::move(out_);
  }

 private:
  struct Reserved {
    int cores = 0;  // what the node keeps spare at the reserved start beyond the top job's need
    int64_t memory_mb = 0;
    int gpus = 0;
    bool blocked = false;  // the reserved start is unknown: nothing may be taken here
  };

  void InitNodes() {
    size_t n = s_.nodes.size();
    free_cores_.resize(n);
    free_mem_.resize(n);
    free_gpus_.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      const NodeCapacity& c = s_.nodes[i];
      free_cores_[i] = c.free_cores;
      free_mem_[i] = c.free_memory_mb;
      free_gpus_[i] = c.free_gpus;
      if (c.free_cores > 0) by_free_.emplace(c.free_cores, i);
      total_free_cores_ += std::max(0, c.free_cores);
    }
  }

  bool LimitsEnabled() const {
    const Limits& u = s_.policy.user_limits;
    return u.max_cores > 0 || u.max_running_jobs > 0 || !s_.policy.group_limits.empty();
  }

  void InitLimits() {
    if (!LimitsEnabled()) return;
    size_t users = s_.users.size();
    user_cores_.assign(users, 0);
    user_jobs_.assign(users, 0);
    for (const auto& [name, limits] : s_.policy.group_limits) group_limits_.push_back(limits);
    size_t g = group_limits_.size();
    node_groups_.resize(s_.nodes.size());
    for (uint32_t i = 0; i < s_.nodes.size(); ++i) {
      uint32_t gi = 0;
      for (const auto& [name, _] : s_.policy.group_limits) {
        const auto& groups = s_.nodes[i].groups;
        if (std::find(groups.begin(), groups.end(), name) != groups.end()) node_groups_[i].push_back(gi);
        ++gi;
      }
    }
    ug_cores_.assign(users * g, 0);
    ug_jobs_.assign(users * g, 0);
    for (const auto& a : s_.running) {
      if (a.user >= users || a.node_pos >= s_.nodes.size()) continue;
      CountUsage(a.job_id, a.user, a.node_pos, a.cores);
    }
  }

  void CountUsage(int64_t job_id, uint32_t user, uint32_t node_pos, int cores) {
    user_cores_[user] += cores;
    if (running_jobs_.insert(job_id).second) ++user_jobs_[user];
    for (uint32_t g : node_groups_[node_pos]) {
      ug_cores_[user * group_limits_.size() + g] += cores;
      if (running_job_groups_.insert(job_id * 64 + g).second) ++ug_jobs_[user * group_limits_.size() + g];
    }
  }

  // Whether the user's cluster-wide limits allow one more task of the job using `cores` in all.
  WaitReason CheckUserLimits(const PendingJob& j, int cores) const {
    if (user_cores_.empty() || j.user >= user_cores_.size()) return WaitReason::kNone;
    const Limits& ul = s_.policy.user_limits;
    bool new_job = !running_jobs_.count(j.job_id);
    if (ul.max_cores > 0 && user_cores_[j.user] + cores > ul.max_cores) return WaitReason::kUserLimit;
    if (ul.max_running_jobs > 0 && new_job && user_jobs_[j.user] >= ul.max_running_jobs) return WaitReason::kUserLimit;
    return WaitReason::kNone;
  }

  // Whether the limits of the node groups `pos` belongs to allow the job `cores` more there.
  bool GroupLimitsAllow(const PendingJob& j, uint32_t pos, int cores) const {
    if (group_limits_.empty() || j.user >= user_cores_.size()) return true;
    size_t g = group_limits_.size();
    for (uint32_t gi : node_groups_[pos]) {
      const Limits& l = group_limits_[gi];
      size_t k = j.user * g + gi;
      if (l.max_cores > 0 && ug_cores_[k] + cores > l.max_cores) return false;
      if (l.max_running_jobs > 0 && !running_job_groups_.count(j.job_id * 64 + gi) && ug_jobs_[k] >= l.max_running_jobs) {
        return false;
      }
    }
    return true;
  }

  // The eligible-node mask of an eligibility class, computed once per pass.
  const std::vector<char>& Eligible(uint32_t cls) {
    auto it = eligible_.find(cls);
    if (it != eligible_.end()) return it->second;
    std::vector<char> mask(s_.nodes.size(), 1);
    if (cls < s_.eligibility.size()) {
      const Eligibility& e = s_.eligibility[cls];
      auto c = Constraint::Parse(e.constraint);
      std::unordered_set<std::string> include(e.include.begin(), e.include.end());
      std::unordered_set<std::string> exclude(e.exclude.begin(), e.exclude.end());
      for (uint32_t i = 0; i < s_.nodes.size(); ++i) {
        const NodeCapacity& n = s_.nodes[i];
        bool ok = c.ok() && c->Matches(n.features);
        if (ok && !e.groups.empty()) {
          ok = std::any_of(e.groups.begin(), e.groups.end(), [&](const std::string& g) {
            return std::find(n.groups.begin(), n.groups.end(), g) != n.groups.end();
          });
        }
        if (ok && !include.empty()) ok = include.count(n.name) > 0;
        if (ok && exclude.count(n.name)) ok = false;
        mask[i] = ok;
      }
    }
    return eligible_.emplace(cls, std::move(mask)).first->second;
  }

  Amount Need(const Request& r, uint32_t pos) const {
    const NodeCapacity& n = s_.nodes[pos];
    if (r.exclusive) return {n.total_cores, n.total_memory_mb, n.total_gpus};
    return {r.cores, r.memory_mb, r.gpus};
  }

  bool FitsEmpty(const Request& r, uint32_t pos) const {
    const NodeCapacity& n = s_.nodes[pos];
    return n.total_cores >= r.cores && n.total_memory_mb >= r.memory_mb && n.total_gpus >= r.gpus;
  }

  bool FitsNow(const Request& r, uint32_t pos) const {
    Amount need = Need(r, pos);
    return free_cores_[pos] >= need.cores && free_mem_[pos] >= need.memory_mb &&
           std::popcount(free_gpus_[pos]) >= need.gpus && need.cores > 0;
  }

  // Whether the job could ever run here: enough eligible nodes large enough for it.
  WaitReason Feasibility(const PendingJob& j) {
    auto key = std::make_tuple(j.eligibility, j.request.cores, j.request.memory_mb, j.request.gpus, j.request.nodes);
    auto it = feasible_.find(key);
    if (it != feasible_.end()) return it->second;
    const auto& mask = Eligible(j.eligibility);
    int eligible = 0, large = 0;
    for (uint32_t i = 0; i < s_.nodes.size(); ++i) {
      if (!mask[i]) continue;
      ++eligible;
      if (FitsEmpty(j.request, i)) ++large;
    }
    WaitReason r = eligible < j.request.nodes ? WaitReason::kNoNode
                   : large < j.request.nodes  ? WaitReason::kTooLarge
                                              : WaitReason::kNone;
    feasible_[key] = r;
    return r;
  }

  // Whether a task ending at `end` may take `need` from node `pos` without delaying the reservation.
  bool KeepsReservation(uint32_t pos, const Amount& need, TimeMs end) const {
    auto it = reserved_.find(pos);
    if (it == reserved_.end()) return true;
    const Reserved& r = it->second;
    if (r.blocked) return false;
    if (end <= reserved_start_) return true;
    return r.cores >= need.cores && r.memory_mb >= need.memory_mb && r.gpus >= need.gpus;
  }

  void ScheduleJob(uint32_t idx) {
    const PendingJob& j = s_.queue[idx];
    out_.reasons[idx] = WaitReason::kNone;
    if (j.tasks.empty()) return;
    const Request& r = j.request;
    if (r.nodes < 1 || r.cores < 0 || r.memory_mb < 0 || r.gpus < 0 || r.gpus > 64) {
      out_.reasons[idx] = WaitReason::kTooLarge;
      return;
    }
    if (WaitReason f = Feasibility(j); f != WaitReason::kNone) {
      out_.reasons[idx] = f;
      return;
    }
    TimeMs end = j.time_limit_ms <= 0 || j.time_limit_ms == kNever || s_.now > kNever - j.time_limit_ms
                     ? kNever
                     : s_.now + j.time_limit_ms;
    auto& failed = failed_[std::make_tuple(j.eligibility, r.nodes, r.exclusive)];
    const auto& mask = Eligible(j.eligibility);
    std::vector<uint32_t> chosen;
    for (uint32_t task_id : j.tasks) {
      if (std::any_of(failed.begin(), failed.end(), [&](const Shape& f) {
            return r.cores >= f.cores && r.memory_mb >= f.memory_mb && r.gpus >= f.gpus && end >= f.end;
          })) {
        out_.reasons[idx] = have_reservation_ ? WaitReason::kPriority : WaitReason::kResources;
        return;
      }
      chosen.clear();
      bool held_by_reservation = false, held_by_group = false;
      if (WaitReason lim = CheckUserLimits(j, r.nodes * (r.exclusive ? 1 : r.cores)); lim != WaitReason::kNone) {
        out_.reasons[idx] = lim;
        return;  // a limit holds the rest of the job too, and must not block others
      }
      // Best fit: the fewest free cores that are still enough, walking up.
      int min_cores = r.exclusive ? 1 : std::max(1, r.cores);
      for (auto it = by_free_.lower_bound({min_cores, 0}); it != by_free_.end(); ++it) {
        uint32_t pos = it->second;
        if (!mask[pos] || !FitsNow(r, pos)) continue;
        Amount need = Need(r, pos);
        if (!GroupLimitsAllow(j, pos, need.cores)) {
          held_by_group = true;
          continue;
        }
        if (!KeepsReservation(pos, need, end)) {
          held_by_reservation = true;
          continue;
        }
        chosen.push_back(pos);
        if (chosen.size() == static_cast<size_t>(r.nodes)) break;
      }
      if (chosen.size() < static_cast<size_t>(r.nodes)) {
        if (held_by_group) {
          out_.reasons[idx] = WaitReason::kGroupLimit;  // depends on the user: not a shape that failed
          return;
        }
        // Anything as large (and, when the reservation turned it away, running as long) fails too.
        if (failed.size() < 64) {
          failed.push_back({r.cores, r.memory_mb, r.gpus, held_by_reservation ? end : std::numeric_limits<TimeMs>::min()});
        }
        if (!have_reservation_) {
          Reserve(idx);
          out_.reasons[idx] = WaitReason::kResources;
        } else {
          out_.reasons[idx] = held_by_reservation ? WaitReason::kPriority : WaitReason::kResources;
        }
        return;
      }
      Place(j, task_id, chosen, end);
      if (total_free_cores_ <= 0 && have_reservation_) {
        out_.reasons[idx] = task_id == j.tasks.back() ? WaitReason::kNone : WaitReason::kResources;
        return;
      }
    }
  }

  void Place(const PendingJob& j, uint32_t task_id, const std::vector<uint32_t>& nodes, TimeMs end) {
    Placement p;
    p.ref = j.ref;
    p.task_id = task_id;
    for (uint32_t pos : nodes) {
      Amount need = Need(j.request, pos);
      Grant g;
      g.node = s_.nodes[pos].node;
      g.cores = need.cores;
      g.memory_mb = need.memory_mb;
      uint64_t gpus = free_gpus_[pos];
      for (int k = 0; k < need.gpus; ++k) {
        int bit = std::countr_zero(gpus);
        g.gpus.push_back(bit);
        gpus &= gpus - 1;
        free_gpus_[pos] &= ~(uint64_t{1} << bit);
      }
      by_free_.erase({free_cores_[pos], pos});
      free_cores_[pos] -= need.cores;
      free_mem_[pos] -= need.memory_mb;
      total_free_cores_ -= need.cores;
      if (free_cores_[pos] > 0) by_free_.emplace(free_cores_[pos], pos);
      if (auto it = reserved_.find(pos); it != reserved_.end() && end > reserved_start_) {
        it->second.cores -= need.cores;
        it->second.memory_mb -= need.memory_mb;
        it->second.gpus -= need.gpus;
      }
      if (!user_cores_.empty() && j.user < user_cores_.size()) CountUsage(j.job_id, j.user, pos, need.cores);
      placed_.push_back({pos, j.job_id, j.user, need.cores, need.memory_mb, need.gpus, end});
      p.grants.push_back(std::move(g));
    }
    out_.placements.push_back(std::move(p));
  }

  // Reserves, for the top blocked job `idx`, the nodes where its next task can start earliest.
  void Reserve(uint32_t idx) {
    have_reservation_ = true;
    const PendingJob& j = s_.queue[idx];
    const Request& r = j.request;
    const auto& mask = Eligible(j.eligibility);
    // Allocations per node, by expected end.
    std::unordered_map<uint32_t, std::vector<const RunningAllocation*>> by_node;
    for (const auto& a : s_.running) {
      if (a.node_pos < s_.nodes.size() && mask[a.node_pos]) by_node[a.node_pos].push_back(&a);
    }
    for (const auto& a : placed_) {
      if (mask[a.node_pos]) by_node[a.node_pos].push_back(&a);
    }
    struct Candidate {
      TimeMs start;
      uint32_t pos;
      Amount at_start;  // free at that time
    };
    std::vector<Candidate> candidates;
    for (uint32_t pos = 0; pos < s_.nodes.size(); ++pos) {
      if (!mask[pos] || !FitsEmpty(r, pos)) continue;
      Amount need = Need(r, pos);
      Amount free{free_cores_[pos], free_mem_[pos], std::popcount(free_gpus_[pos])};
      auto fits = [&] { return free.cores >= need.cores && free.memory_mb >= need.memory_mb && free.gpus >= need.gpus; };
      TimeMs start = s_.now;
      if (!fits()) {
        start = kNever;
        auto& allocs = by_node[pos];
        std::sort(allocs.begin(), allocs.end(),
                  [](const auto* a, const auto* b) { return a->expected_end < b->expected_end; });
        for (size_t k = 0; k < allocs.size(); ++k) {
          if (allocs[k]->expected_end == kNever) break;
          free.cores += allocs[k]->cores;
          free.memory_mb += allocs[k]->memory_mb;
          free.gpus += allocs[k]->gpus;
          // Everything that ends at the same moment is free at that moment.
          if (k + 1 < allocs.size() && allocs[k + 1]->expected_end == allocs[k]->expected_end) continue;
          if (fits()) {
            start = allocs[k]->expected_end;
            break;
          }
        }
      }
      candidates.push_back({start, pos, free});
    }
    if (candidates.size() < static_cast<size_t>(r.nodes)) return;
    std::sort(candidates.begin(), candidates.end(),
              [](const Candidate& a, const Candidate& b) { return std::tie(a.start, a.pos) < std::tie(b.start, b.pos); });
    reserved_start_ = candidates[r.nodes - 1].start;
    out_.reserved_ref = j.ref;
    out_.reserved_start = reserved_start_;
    if (reserved_start_ == kNever) {
      // Unknown start: keep every node the job could use for it (strict order there).
      for (const auto& c : candidates) reserved_[c.pos] = Reserved{0, 0, 0, true};
      return;
    }
    for (int k = 0; k < r.nodes; ++k) {
      const Candidate& c = candidates[k];
      Amount need = Need(r, c.pos);
      // What is free at the reserved start (later than this node's own earliest start, possibly).
      Amount free{free_cores_[c.pos], free_mem_[c.pos], std::popcount(free_gpus_[c.pos])};
      for (const auto* a : by_node[c.pos]) {
        if (a->expected_end <= reserved_start_) {
          free.cores += a->cores;
          free.memory_mb += a->memory_mb;
          free.gpus += a->gpus;
        }
      }
      reserved_[c.pos] = Reserved{free.cores - need.cores, free.memory_mb - need.memory_mb, free.gpus - need.gpus, false};
    }
  }

  const Snapshot& s_;
  Outcome out_;
  std::vector<int> free_cores_;
  std::vector<int64_t> free_mem_;
  std::vector<uint64_t> free_gpus_;
  std::set<std::pair<int, uint32_t>> by_free_;  // (free cores, node position), nodes with free cores
  int64_t total_free_cores_ = 0;
  std::vector<RunningAllocation> placed_;  // this pass's placements, for the reservation

  std::unordered_map<uint32_t, std::vector<char>> eligible_;
  std::map<std::tuple<uint32_t, int, int64_t, int, int>, WaitReason> feasible_;
  // Requests that found no node this pass, per (eligibility, nodes, exclusive). Resources only
  // shrink during a pass, so a request at least as large fails as well.
  struct Shape {
    int cores;
    int64_t memory_mb;
    int gpus;
    TimeMs end;
  };
  std::map<std::tuple<uint32_t, int, bool>, std::vector<Shape>> failed_;

  bool have_reservation_ = false;
  size_t examined_after_reservation_ = 0;
  TimeMs reserved_start_ = 0;
  std::unordered_map<uint32_t, Reserved> reserved_;

  // Limits (empty vectors when no limit is set).
  std::vector<int> user_cores_, user_jobs_;
  std::vector<Limits> group_limits_;
  std::vector<std::vector<uint32_t>> node_groups_;  // limited groups of each node
  std::vector<int> ug_cores_, ug_jobs_;             // [user * groups + group]
  std::unordered_set<int64_t> running_jobs_;
  std::unordered_set<int64_t> running_job_groups_;  // job id * 64 + group
};

}  // namespace

Outcome Schedule(const Snapshot& snapshot) { return Pass(snapshot).Run(); }

}  // namespace drover::scheduler

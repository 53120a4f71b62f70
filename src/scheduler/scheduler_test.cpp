#include "scheduler/scheduler.h"

#include <map>

#include <gtest/gtest.h>

namespace drover::scheduler {
namespace {

PendingTask Task(uint64_t ref, int64_t job, uint32_t task, int cores = 1, int priority = 2000) {
  return PendingTask{ref, priority, job, task, cores};
}

TEST(Scheduler, EmptyInputsPlaceNothing) {
  EXPECT_TRUE(Schedule({}).empty());
  EXPECT_TRUE(Schedule({{{0, 4, 4}}, {}}).empty());
  EXPECT_TRUE(Schedule({{}, {Task(1, 1, 1)}}).empty());
}

TEST(Scheduler, PacksOntoTheFullestNodeThatFits) {
  Snapshot s;
  s.nodes = {{10, 4, 4}, {11, 4, 1}};
  s.queue = {Task(1, 1, 1), Task(2, 1, 2)};
  auto p = Schedule(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].node, 11u);  // the one free core of node 11 first
  EXPECT_EQ(p[1].node, 10u);
}

TEST(Scheduler, HigherPriorityFirstThenFifo) {
  Snapshot s;
  s.nodes = {{0, 2, 2}};
  s.queue = {Task(1, 1, 1), Task(2, 2, 1, 1, 3000), Task(3, 1, 2), Task(4, 3, 1, 1, 3000)};
  auto p = Schedule(s);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].ref, 2u);
  EXPECT_EQ(p[1].ref, 4u);
}

TEST(Scheduler, FifoWithinPriorityByJobThenTask) {
  Snapshot s;
  s.nodes = {{0, 3, 3}};
  s.queue = {Task(1, 2, 1), Task(2, 1, 2), Task(3, 1, 1)};
  auto p = Schedule(s);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].ref, 3u);
  EXPECT_EQ(p[1].ref, 2u);
  EXPECT_EQ(p[2].ref, 1u);
}

TEST(Scheduler, NeverOverbooksCores) {
  Snapshot s;
  s.nodes = {{0, 2, 2}, {1, 3, 3}};
  for (uint32_t i = 1; i <= 20; ++i) s.queue.push_back(Task(i, 1, i));
  auto p = Schedule(s);
  EXPECT_EQ(p.size(), 5u);
  int on0 = 0, on1 = 0;
  for (auto& x : p) (x.node == 0 ? on0 : on1)++;
  EXPECT_EQ(on0, 2);
  EXPECT_EQ(on1, 3);
}

TEST(Scheduler, BlockedHeadOfQueueStopsLowerTasks) {
  Snapshot s;
  s.nodes = {{0, 4, 2}};
  s.queue = {Task(1, 1, 1, 4), Task(2, 2, 1, 1)};
  EXPECT_TRUE(Schedule(s).empty());
}

TEST(Scheduler, TaskLargerThanAnyNodeDoesNotBlock) {
  Snapshot s;
  s.nodes = {{0, 4, 4}};
  s.queue = {Task(1, 1, 1, 64), Task(2, 2, 1, 2)};
  auto p = Schedule(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].ref, 2u);
}

TEST(Scheduler, MultiCoreTasksUseWholeCoreCounts) {
  Snapshot s;
  s.nodes = {{0, 4, 4}, {1, 4, 4}};
  s.queue = {Task(1, 1, 1, 3), Task(2, 1, 2, 3), Task(3, 1, 3, 1), Task(4, 1, 4, 1), Task(5, 1, 5, 1)};
  auto p = Schedule(s);
  ASSERT_EQ(p.size(), 4u);  // 3+1 on each node; the fifth waits
  std::map<uint32_t, int> used;
  int cores[] = {0, 3, 3, 1, 1, 1};
  for (auto& x : p) used[x.node] += cores[x.ref];
  EXPECT_EQ(used[0], 4);
  EXPECT_EQ(used[1], 4);
}

}  // namespace
}  // namespace drover::scheduler

// The fixture of the head node's state machine tests: a FakeClock, a Persistence that commits only
// when the test says so (optionally into a real SQLite store), and an AgentLink that records
// messages. Included by cluster_test.cpp and cluster_resources_test.cpp only.
#pragma once

#include "head/cluster.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace drover::protocol {
// Readable failure messages for task references. The same inline definition is in every unit test
// that prints a TaskRef, so gtest's printer templates agree across translation units.
inline void PrintTo(const TaskRef& r, std::ostream* os) { *os << r.job_id << "." << r.task_id << "#" << r.attempt; }
}  // namespace drover::protocol

namespace drover::head {
namespace {

using protocol::TaskRef;
using protocol::TaskResult;

// Collects batches; AfterCommit callbacks run only in Commit(). With `store` set, Commit applies
// the batch to it first, as the real Committer does.
class FakePersistence final : public Persistence {
 public:
  WriteBatch& batch() override { return batch_; }
  void AfterCommit(std::function<void()> fn) override { callbacks_.push_back(std::move(fn)); }

  void Commit() {
    WriteBatch b = std::exchange(batch_, WriteBatch{});
    auto callbacks = std::exchange(callbacks_, {});
    if (store && !b.empty()) {
      Status st = store->Commit(b);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    for (auto& cb : callbacks) cb();
  }
  const WriteBatch& pending() const { return batch_; }
  // The head node dies before the flush: the batch and its callbacks are lost.
  void Drop() {
    batch_ = WriteBatch{};
    callbacks_.clear();
  }

  Store* store = nullptr;

 private:
  WriteBatch batch_;
  std::vector<std::function<void()>> callbacks_;
};

class FakeLink final : public AgentLink {
 public:
  bool Send(const std::string& node, const protocol::HeadMessage& message) override {
    sent[node].push_back(message);
    return true;
  }
  void Disconnect(const std::string& node) override { disconnects.push_back(node); }

  template <class T>
  std::vector<T> Of(const std::string& node) const {
    std::vector<T> out;
    if (auto it = sent.find(node); it != sent.end()) {
      for (const auto& m : it->second) {
        if (const T* p = std::get_if<T>(&m)) out.push_back(*p);
      }
    }
    return out;
  }
  // Every task reference in messages of type T (StartTasks gives its launches' refs).
  template <class T>
  std::vector<TaskRef> RefsIn(const std::string& node) const {
    std::vector<TaskRef> out;
    for (const auto& m : Of<T>(node)) {
      if constexpr (std::is_same_v<T, protocol::StartTasks>) {
        for (const auto& l : m.tasks) out.push_back(l.ref);
      } else {
        out.insert(out.end(), m.tasks.begin(), m.tasks.end());
      }
    }
    return out;
  }
  void Clear() { sent.clear(), disconnects.clear(); }

  std::map<std::string, std::vector<protocol::HeadMessage>> sent;
  std::vector<std::string> disconnects;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    NewCluster();
  }
  void TearDown() override {
    spdlog::set_level(spdlog::level::info);
    cluster_.reset();
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void NewCluster() { cluster_ = std::make_unique<Cluster>(config_, clock_, persistence_, link_); }

  void OpenStore() {
    if (dir_.empty()) {
      char tmpl[] = "/tmp/drover_cluster_test_XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    }
    auto s = OpenSqliteStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    persistence_.store = store_.get();
  }

  static JobSpec Spec(uint32_t tasks, int priority = 2000, int max_retries = 3) {
    JobSpec s{.name = "job", .owner = "alice", .priority = priority, .task = {}, .task_count = tasks};
    s.task.argv = {"/bin/true"};
    s.task.working_dir = "/tmp";
    s.task.max_retries = max_retries;
    return s;
  }
  JobId Submit(JobSpec spec) {
    auto id = cluster_->Submit(std::move(spec));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  static protocol::Hello MakeHello(int cores, std::vector<TaskRef> running = {},
                                   std::vector<TaskResult> finished = {}) {
    return protocol::Hello{protocol::kVersion, "host", cores, 4096, std::move(running), std::move(finished)};
  }
  // A node that joins (auto-approved), connects and is committed.
  void Connect(const std::string& name, int cores) {
    cluster_->EnsureDefaultTemplate(true);
    if (!cluster_->FindNode(name)) ASSERT_TRUE(cluster_->Join(name, "host", "serial-" + name).ok());
    cluster_->OnAgentHello(name, MakeHello(cores));
    persistence_.Commit();
    ASSERT_EQ(cluster_->FindNode(name)->record.state, NodeState::kOnline);
  }

  Job& J(JobId id) { return *cluster_->FindJob(id); }
  const Node& N(const std::string& name) { return *cluster_->FindNode(name); }
  // The state in the node's latest record in the uncommitted batch.
  std::optional<NodeState> Persisted(const std::string& name) {
    const auto& rows = persistence_.pending().nodes;
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
      if (it->name == name) return it->state;
    }
    return std::nullopt;
  }
  TaskState StateOf(JobId j, TaskId t) { return J(j).task(t).state; }
  TaskRef Ref(JobId j, TaskId t) { return {j, t, J(j).task(t).attempt}; }
  std::string NodeOf(JobId j, TaskId t) {
    int32_t idx = J(j).task(t).node;
    return idx < 0 ? "" : cluster_->NodeName(idx);
  }
  TaskResult Res(TaskRef ref, int exit_code = 0, std::string error = "") {
    TaskResult r{ref, exit_code, 0, clock_.Now() - 10, clock_.Now(), 7, 1024, std::move(error)};
    return r;
  }
  // Schedule + commit; returns the refs started on `node` by this pass.
  std::vector<TaskRef> ScheduleAndCommit(const std::string& node) {
    size_t before = link_.RefsIn<protocol::StartTasks>(node).size();
    cluster_->Schedule();
    persistence_.Commit();
    auto all = link_.RefsIn<protocol::StartTasks>(node);
    return {all.begin() + static_cast<std::ptrdiff_t>(before), all.end()};
  }

  ClusterConfig config_;
  FakeClock clock_;
  FakePersistence persistence_;
  FakeLink link_;
  std::unique_ptr<Cluster> cluster_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace
}  // namespace drover::head

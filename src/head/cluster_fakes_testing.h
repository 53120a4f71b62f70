// Fakes for Cluster unit tests: a Persistence that commits only when the test says so (optionally
// into a real store, as the Committer does) and an AgentLink that records what it was asked to send.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "head/cluster.h"
#include "store/sqlite/sqlite_store.h"

namespace drover::head::testing {

class FakePersistence final : public Persistence {
 public:
  WriteBatch& batch() override { return batch_; }
  void AfterCommit(std::function<void()> fn) override { callbacks_.push_back(std::move(fn)); }

  // Applies the batch to `store` (when set), then runs the callbacks.
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

  // Every launch sent to `node`, in order.
  std::vector<protocol::TaskLaunch> Launches(const std::string& node) const {
    std::vector<protocol::TaskLaunch> out;
    if (auto it = sent.find(node); it != sent.end()) {
      for (const auto& m : it->second) {
        if (const auto* s = std::get_if<protocol::StartTasks>(&m)) out.insert(out.end(), s->tasks.begin(), s->tasks.end());
      }
    }
    return out;
  }
  std::vector<protocol::TaskRef> Kills(const std::string& node) const {
    std::vector<protocol::TaskRef> out;
    if (auto it = sent.find(node); it != sent.end()) {
      for (const auto& m : it->second) {
        if (const auto* k = std::get_if<protocol::KillTasks>(&m)) out.insert(out.end(), k->tasks.begin(), k->tasks.end());
      }
    }
    return out;
  }
  void Clear() { sent.clear(), disconnects.clear(); }

  std::map<std::string, std::vector<protocol::HeadMessage>> sent;
  std::vector<std::string> disconnects;
};

// A Cluster on a FakeClock with the fakes above, optionally persisting into a SQLite store in a
// temporary directory (for restarts).
class ClusterFixture : public ::testing::Test {
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
  // The head node restarts on the same store: a new Cluster loads it.
  void Restart() {
    persistence_.Commit();
    cluster_.reset();
    persistence_.store = nullptr;
    store_.reset();
    link_.Clear();
    OpenStore();
    NewCluster();
    Status st = cluster_->Load(*store_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  static JobSpec Spec(uint32_t tasks) {
    JobSpec s;
    s.name = "job";
    s.owner = "alice";
    s.task_count = tasks;
    s.task.argv = {"/bin/true"};
    s.task.working_dir = "/tmp";
    return s;
  }
  JobId Submit(JobSpec spec) {
    auto id = cluster_->Submit(std::move(spec));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  // A node that joins (auto-approved), connects and is committed.
  void Connect(const std::string& name, int cores, std::vector<protocol::TaskRef> running = {}) {
    cluster_->EnsureDefaultTemplate(true);
    if (!cluster_->FindNode(name)) ASSERT_TRUE(cluster_->Join(name, "host", "serial-" + name).ok());
    cluster_->OnAgentHello(name, protocol::Hello{protocol::kVersion, "host", cores, 4096, std::move(running), {}});
    persistence_.Commit();
  }
  Job& J(JobId id) { return *cluster_->FindJob(id); }
  const Node& N(const std::string& name) { return *cluster_->FindNode(name); }
  JobState StateOfJob(JobId id) { return J(id).record().state; }
  protocol::TaskRef Ref(JobId j, TaskId t) { return {j, t, J(j).task(t).attempt}; }
  std::string NodeOf(JobId j, TaskId t) {
    int32_t idx = J(j).task(t).node;
    return idx < 0 ? "" : cluster_->NodeName(idx);
  }
  protocol::TaskResult Res(protocol::TaskRef ref, int exit_code = 0) {
    return protocol::TaskResult{ref, exit_code, 0, clock_.Now() - 10, clock_.Now(), 7, 1024, ""};
  }
  // Schedule + commit; returns the launches sent to `node` by this pass.
  std::vector<protocol::TaskLaunch> ScheduleAndCommit(const std::string& node) {
    size_t before = link_.Launches(node).size();
    cluster_->Schedule();
    persistence_.Commit();
    auto all = link_.Launches(node);
    return {all.begin() + static_cast<std::ptrdiff_t>(before), all.end()};
  }
  // Reports the result of `ref` from `node` and commits; returns launches sent meanwhile.
  std::vector<protocol::TaskLaunch> Report(const std::string& node, protocol::TaskRef ref, int exit_code = 0) {
    size_t before = link_.Launches(node).size();
    cluster_->OnAgentResults(node, {Res(ref, exit_code)});
    persistence_.Commit();
    auto all = link_.Launches(node);
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

}  // namespace drover::head::testing

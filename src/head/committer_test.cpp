// The committer holds back a batch the database cannot take yet, retries it, and runs nothing that
// waits for durability before it is durable.
#include "head/committer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace drover::head {
namespace {

// A real SQLite store whose next `unavailable` commits fail as if the server were gone.
class UnreachableFor final : public Store {
 public:
  UnreachableFor(std::unique_ptr<Store> inner, int unavailable) : inner_(std::move(inner)), left_(unavailable) {}
  Result<std::vector<NodeRecord>> LoadNodes() override { return inner_->LoadNodes(); }
  Result<std::vector<NodeTemplate>> LoadNodeTemplates() override { return inner_->LoadNodeTemplates(); }
  Result<std::optional<std::string>> GetProperty(const std::string& k) override { return inner_->GetProperty(k); }
  Result<std::vector<Member>> LoadMembers() override { return inner_->LoadMembers(); }
  Result<std::vector<RevokedCertificate>> LoadRevokedCertificates() override {
    return inner_->LoadRevokedCertificates();
  }
  Result<std::vector<AuditEntry>> QueryAudit(TimeMs since, size_t limit) override {
    return inner_->QueryAudit(since, limit);
  }
  Result<std::vector<JobRecord>> LoadActiveJobs() override { return inner_->LoadActiveJobs(); }
  Result<std::optional<JobRecord>> LoadJob(JobId id) override { return inner_->LoadJob(id); }
  Result<std::vector<TaskRecord>> LoadTasks(JobId id) override { return inner_->LoadTasks(id); }
  Result<JobId> MaxJobId() override { return inner_->MaxJobId(); }
  Result<std::vector<AccountingRecord>> QueryAccounting(const AccountingQuery& q) override {
    return inner_->QueryAccounting(q);
  }
  Result<std::vector<MetricSample>> RecentMetrics(const std::string& n, size_t l) override {
    return inner_->RecentMetrics(n, l);
  }
  Result<std::vector<std::pair<std::string, int>>> SchemaVersions() override { return inner_->SchemaVersions(); }
  Status Commit(const WriteBatch& b) override {
    ++attempts;
    if (left_ > 0) {
      --left_;
      return Unavailable("connection refused");
    }
    committed_sizes.push_back(b.size());
    return inner_->Commit(b);
  }

  int attempts = 0;
  std::vector<size_t> committed_sizes;

 private:
  std::unique_ptr<Store> inner_;
  int left_;
};

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover_committer_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<UnreachableFor> MakeStore(int unavailable) {
    auto inner = OpenSqliteStore(dir_ + "/db");
    EXPECT_TRUE(inner.ok());
    return std::make_unique<UnreachableFor>(std::move(inner).value(), unavailable);
  }
  static AccountingRecord Record(JobId job) {
    AccountingRecord a;
    a.job_id = job;
    a.task_id = 1;
    a.attempt = 1;
    a.state = TaskState::kFinished;
    a.end_time = job;
    return a;
  }

  std::string dir_;
};

TEST_F(CommitterTest, HeldBackBatchIsRetriedAndAcknowledgedOnlyOnceDurable) {
  auto store = MakeStore(3);
  net::EventLoop loop;
  Committer committer(loop, *store, CommitRetryPolicy{1, 4});
  std::vector<std::string> events;

  committer.batch().accounting.push_back(Record(1));
  committer.AfterCommit([&] {
    auto rows = store->QueryAccounting({});
    events.push_back("first acknowledged with " + std::to_string(rows.ok() ? rows->size() : 0) + " row(s)");
  });
  // A change made while the first batch is held back waits behind it, in its own batch.
  auto later = loop.RunAfter(2, [&] {
    EXPECT_TRUE(committer.holding());
    committer.batch().accounting.push_back(Record(2));
    committer.AfterCommit([&] {
      events.push_back("second acknowledged");
      loop.Stop();
    });
  });
  auto guard = loop.RunAfter(10000, [&] { loop.Stop(); });
  loop.Run();

  EXPECT_EQ(events, (std::vector<std::string>{"first acknowledged with 1 row(s)", "second acknowledged"}));
  EXPECT_EQ(store->attempts, 5);  // three refusals, then each batch once
  EXPECT_EQ(store->committed_sizes, (std::vector<size_t>{1, 1}));
  auto rows = store->QueryAccounting({});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).job_id, 1);
  EXPECT_EQ(rows->at(1).job_id, 2);
  EXPECT_FALSE(committer.holding());
  EXPECT_EQ(committer.commits(), 2u);
}

TEST_F(CommitterTest, CallbacksWithoutChangesWaitForTheHeldBatch) {
  auto store = MakeStore(2);
  net::EventLoop loop;
  Committer committer(loop, *store, CommitRetryPolicy{1, 2});
  bool acknowledged = false;
  committer.batch().accounting.push_back(Record(7));
  loop.Post([&] {
    // The flush has run and failed: a reply that depends on nothing new still waits for it.
    committer.AfterCommit([&] {
      acknowledged = true;
      loop.Stop();
    });
    EXPECT_TRUE(committer.holding());
    EXPECT_FALSE(acknowledged);
  });
  auto guard = loop.RunAfter(10000, [&] { loop.Stop(); });
  loop.Run();
  EXPECT_TRUE(acknowledged);
  EXPECT_EQ(store->QueryAccounting({})->size(), 1u);
}

}  // namespace
}  // namespace drover::head

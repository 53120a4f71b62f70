// Group commit: changes made while handling a burst of events are written in one transaction.
// The first change of a batch posts a flush to the loop; everything added before that flush runs
// lands in the same commit, and the callbacks waiting for durability run after it.
//
// When the database is unreachable (Store::Commit returns kUnavailable), the batch and its callbacks
// are held back and the same batch is committed again with exponential backoff; changes made
// meanwhile wait behind it, in later batches. Nothing a callback acknowledges is ever acknowledged
// before it is durable, and the Store applies a retried batch exactly once. Any other commit error
// stops the process.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "head/cluster.h"
#include "net/event_loop.h"
#include "store/store.h"

namespace drover::head {

struct CommitRetryPolicy {
  int64_t initial_backoff_ms = 50;
  int64_t max_backoff_ms = 2000;
};

class Committer final : public Persistence {
 public:
  Committer(net::EventLoop& loop, Store& store, CommitRetryPolicy retry = {})
      : loop_(loop), store_(store), retry_(retry), backoff_ms_(retry.initial_backoff_ms) {}

  WriteBatch& batch() override;
  void AfterCommit(std::function<void()> fn) override;
  // Commits now: the held-back batch first (once, if no retry is already due), then the current one.
  // A failed commit other than kUnavailable stops the process: memory is ahead of the database, and
  // a restart from the database is the only state that is known to be right.
  void Flush();

  uint64_t commits() const { return commits_; }
  // True while a batch waits for the database to come back.
  bool holding() const { return held_.has_value(); }

  // Runs at the start of every flush, before the batch is taken: changes it makes land in the
  // same commit. The head node runs a pending scheduling pass here, so that the placements freed
  // by a burst of results (or made for a new submission) share that burst's transaction instead
  // of waiting for a second one.
  void set_before_flush(std::function<void()> fn) { before_flush_ = std::move(fn); }

 private:
  struct Pending {
    WriteBatch batch;
    std::vector<std::function<void()>> callbacks;
  };

  void Schedule();
  // Commits `p`; on kUnavailable holds it back and arms the retry. Returns whether it committed.
  bool Commit(Pending p);
  void RetryHeld();

  net::EventLoop& loop_;
  Store& store_;
  CommitRetryPolicy retry_;
  WriteBatch batch_;
  std::vector<std::function<void()>> callbacks_;
  std::function<void()> before_flush_;
  bool scheduled_ = false;
  uint64_t commits_ = 0;
  std::optional<Pending> held_;  // the batch whose commit is being retried
  std::unique_ptr<net::Timer> retry_timer_;
  int64_t backoff_ms_;
};

}  // namespace drover::head

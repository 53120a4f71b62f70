// Group commit: changes made while handling a burst of events are written in one transaction.
// The first change of a batch posts a flush to the loop; everything added before that flush runs
// lands in the same commit, and the callbacks waiting for durability run after it.
#pragma once

#include <functional>
#include <vector>

#include "head/cluster.h"
#include "net/event_loop.h"
#include "store/store.h"

namespace drover::head {

class Committer final : public Persistence {
 public:
  Committer(net::EventLoop& loop, Store& store) : loop_(loop), store_(store) {}

  WriteBatch& batch() override;
  void AfterCommit(std::function<void()> fn) override;
  // Commits now. A failed commit stops the process: memory is ahead of the database, and a
  // restart from the database is the only state that is known to be right.
  void Flush();

  uint64_t commits() const { return commits_; }

  // Runs at the start of every flush, before the batch is taken: changes it makes land in the
  // same commit. The head node runs a pending scheduling pass here, so that the placements freed
  // by a burst of results (or made for a new submission) share that burst's transaction instead
  // of waiting for a second one.
  void set_before_flush(std::function<void()> fn) { before_flush_ = std::move(fn); }

 private:
  void Schedule();

  net::EventLoop& loop_;
  Store& store_;
  WriteBatch batch_;
  std::vector<std::function<void()>> callbacks_;
  std::function<void()> before_flush_;
  bool scheduled_ = false;
  uint64_t commits_ = 0;
};

}  // namespace drover::head

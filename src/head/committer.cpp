#include "head/committer.h"

#include <spdlog/spdlog.h>

namespace drover::head {

WriteBatch& Committer::batch() {
  Schedule();
  return batch_;
}

void Committer::AfterCommit(std::function<void()> fn) {
  callbacks_.push_back(std::move(fn));
  Schedule();
}

void Committer::Schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  loop_.Post([this] { Flush(); });
}

void Committer::Flush() {
  if (before_flush_) before_flush_();
  scheduled_ = false;
  WriteBatch batch = std::move(batch_);
  batch_ = WriteBatch{};
  auto callbacks = std::move(callbacks_);
  callbacks_.clear();
  if (!batch.empty()) {
    Status st = store_.Commit(batch);
    if (!st.ok()) {
      spdlog::critical("cannot commit to the database: {}; stopping so that a restart recovers", st.ToString());
      spdlog::shutdown();
      std::_Exit(70);
    }
    ++commits_;
  }
  for (auto& cb : callbacks) cb();
}

}  // namespace drover::head

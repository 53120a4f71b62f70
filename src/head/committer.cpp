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
  if (held_) {
    if (retry_timer_) return;  // a retry is due; the current batch follows it
    RetryHeld();
    if (held_) return;
  }
  Pending current{std::move(batch_), std::move(callbacks_)};
  batch_ = WriteBatch{};
  callbacks_.clear();
  (void)Commit(std::move(current));
}

bool Committer::Commit(Pending p) {
  if (!p.batch.empty()) {
    Status st = store_.Commit(p.batch);
    if (st.code() == StatusCode::kUnavailable) {
      spdlog::warn("cannot reach the database: {}; holding back {} changes and retrying", st.message(),
                   p.batch.size());
      held_ = std::move(p);
      retry_timer_ = loop_.RunAfter(backoff_ms_, [this] {
        retry_timer_.reset();
        RetryHeld();
        if (!held_ && (!batch_.empty() || !callbacks_.empty())) Schedule();
      });
      return false;
    }
    if (!st.ok()) {
      spdlog::critical("cannot commit to the database: {}; stopping so that a restart recovers", st.ToString());
      spdlog::shutdown();
      std::_Exit(70);
    }
    ++commits_;
  }
  for (auto& cb : p.callbacks) cb();
  return true;
}

void Committer::RetryHeld() {
  Pending p = std::move(*held_);
  held_.reset();
  backoff_ms_ = std::min(backoff_ms_ * 2, retry_.max_backoff_ms);
  if (Commit(std::move(p))) {
    spdlog::info("the database is reachable again; held-back changes are committed");
    backoff_ms_ = retry_.initial_backoff_ms;
  }
}

}  // namespace drover::head

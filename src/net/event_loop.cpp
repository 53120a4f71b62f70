#include "net/event_loop.h"

#include <boost/asio.hpp>

namespace drover::net {

namespace asio = boost::asio;

struct Timer::State {
  explicit State(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  bool cancelled = false;
  int64_t period_ms = 0;
  std::function<void()> fn;
};

Timer::~Timer() { Cancel(); }

void Timer::Cancel() {
  if (!state_) return;
  state_->cancelled = true;
  state_->timer.cancel();
  state_->fn = nullptr;
}

struct EventLoop::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::vector<std::unique_ptr<asio::signal_set>> signals;
  std::vector<std::shared_ptr<void>> signal_handlers;  // live as long as their signal sets
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}
EventLoop::~EventLoop() = default;

void EventLoop::Run() {
  impl_->io.restart();
  impl_->io.run();
}

void EventLoop::Stop() { impl_->io.stop(); }

void EventLoop::Post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

namespace {
void Arm(const std::shared_ptr<Timer::State>& state, int64_t delay_ms) {
  state->timer.expires_after(std::chrono::milliseconds(delay_ms));
  state->timer.async_wait([weak = std::weak_ptr<Timer::State>(state)](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (!s || ec || s->cancelled || !s->fn) return;
    if (s->period_ms > 0) {
      auto fn = s->fn;  // the callback may cancel the timer
      Arm(s, s->period_ms);
      fn();
    } else {
      auto fn = std::move(s->fn);
      fn();
    }
  });
}
}  // namespace

std::unique_ptr<Timer> EventLoop::RunAfter(int64_t delay_ms, std::function<void()> fn) {
  auto state = std::make_shared<Timer::State>(impl_->io);
  state->fn = std::move(fn);
  Arm(state, delay_ms);
  return std::unique_ptr<Timer>(new Timer(state));
}

std::unique_ptr<Timer> EventLoop::RunEvery(int64_t period_ms, std::function<void()> fn) {
  auto state = std::make_shared<Timer::State>(impl_->io);
  state->fn = std::move(fn);
  state->period_ms = period_ms;
  Arm(state, period_ms);
  return std::unique_ptr<Timer>(new Timer(state));
}

void EventLoop::OnSignal(int signal, std::function<void()> fn) {
  auto set = std::make_unique<asio::signal_set>(impl_->io, signal);
  auto* raw = set.get();
  auto handler = std::make_shared<std::function<void(const boost::system::error_code&, int)>>();
  *handler = [raw, fn = std::move(fn), handler_weak = std::weak_ptr(handler)](
                 const boost::system::error_code& ec, int) {
    if (ec) return;
    fn();
    if (auto h = handler_weak.lock()) raw->async_wait(*h);
  };
  raw->async_wait(*handler);
  impl_->signals.push_back(std::move(set));
  impl_->signal_handlers.push_back(handler);
}

void* EventLoop::native() { return &impl_->io; }

}  // namespace drover::net

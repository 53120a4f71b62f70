// One event loop per component. Everything that touches a component's state runs on its loop;
// other threads reach it only through Post(). The loop wraps an Asio io_context, kept out of this
// header so that Drover's own headers stay light.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace drover::net {

class EventLoop;

// A timer that fires on its loop. Destroying or cancelling it guarantees the callback will not run
// afterwards (callbacks check a shared flag).
class Timer {
 public:
  ~Timer();
  void Cancel();

 public:
  struct State;  // internal to event_loop.cpp

 private:
  friend class EventLoop;
  explicit Timer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs handlers on the calling thread until Stop().
  void Run();
  // Safe from any thread and from signal-driven callbacks.
  void Stop();
  // Safe from any thread: runs `fn` on the loop.
  void Post(std::function<void()> fn);

  // Calls `fn` once after `delay_ms`.
  std::unique_ptr<Timer> RunAfter(int64_t delay_ms, std::function<void()> fn);
  // Calls `fn` every `period_ms` until the timer is cancelled or destroyed.
  std::unique_ptr<Timer> RunEvery(int64_t period_ms, std::function<void()> fn);
  // Calls `fn` on the loop each time the process receives `signal` (SIGTERM, SIGINT, SIGCHLD, ...).
  void OnSignal(int signal, std::function<void()> fn);

  // The underlying boost::asio::io_context; for networking code only.
  void* native();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace drover::net

// `drover run`: submit, stream the task's output as it is written, exit with its exit code.
// Output goes through files in $DROVER_HOME/runs (all nodes of a local cluster share this machine's
// filesystem, as an HPC cluster shares its home directories).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "common/codec.h"
#include "os/files.h"

extern char** environ;

namespace drover::cli {
namespace json = boost::json;

namespace {

std::atomic<bool> g_interrupted{false};

// Copies what was appended to a file since the last call to `out`.
struct Follower {
  std::string path;
  FILE* out;
  std::streamoff offset = 0;

  void Pump() {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    in.seekg(offset);
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      std::fwrite(buf, 1, static_cast<size_t>(in.gcount()), out);
      offset += in.gcount();
    }
    std::fflush(out);
  }
};

}  // namespace

int RunCommand(const JobOptions& options, const std::vector<std::string>& args) {
  JobOptions o = options;
  std::string runs = os::JoinPath(net::DroverHome(), "runs");
  if (Status st = os::MakeDirs(runs, 0700); !st.ok()) return Fail(st.message());
  bool own_output = o.output.empty();
  bool own_error = o.error.empty();
  if (own_output) o.output = os::JoinPath(runs, "run-%j-%t.out");
  if (own_error) o.error = os::JoinPath(runs, "run-%j-%t.err");
  auto spec = BuildJobSpec(o, args, "", environ);
  if (!spec.ok()) return Fail(spec.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto submitted = api->Post("/api/v1/jobs", SubmissionJson(*spec, options));
  if (!submitted.ok()) return Fail(submitted.status().message());
  int64_t id = submitted->at("id").to_number<int64_t>();
  uint32_t tasks = spec->TotalTasks();

  std::vector<Follower> followers;
  std::vector<std::string> cleanup;
  for (uint32_t t = 1; t <= tasks && t <= 64; ++t) {
    if (own_output) {
      std::string p = os::JoinPath(runs, fmt::format("run-{}-{}.out", id, t));
      followers.push_back({p, stdout});
      cleanup.push_back(p);
    }
    if (own_error) {
      std::string p = os::JoinPath(runs, fmt::format("run-{}-{}.err", id, t));
      followers.push_back({p, stderr});
      cleanup.push_back(p);
    }
  }

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted = true; };
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  json::value job;
  bool canceled = false;
  for (;;) {
    if (g_interrupted && !canceled) {
      canceled = true;
      std::fprintf(stderr, "drover: interrupted; canceling job %lld\n", static_cast<long long>(id));
      (void)api->Post(fmt::format("/api/v1/jobs/{}/cancel", id), json::object{});
    }
    auto r = api->Get(fmt::format("/api/v1/jobs/{}/wait?timeout_ms=250", id), 10000);
    if (!r.ok()) return Fail(r.status().message());
    for (auto& f : followers) f.Pump();
    std::string state(r->at("state").as_string());
    if (state == "Finished" || state == "Failed" || state == "Canceled") break;
  }
  auto detail = api->Get(fmt::format("/api/v1/jobs/{}?tasks=all", id));
  for (auto& f : followers) f.Pump();
  for (const auto& p : cleanup) (void)os::RemoveFile(p);
  if (!detail.ok()) return Fail(detail.status().message());
  int rc = 0;
  for (const auto& t : detail->at("task_list").as_array()) {
    const auto& obj = t.as_object();
    std::string state(obj.at("state").as_string());
    int code = static_cast<int>(obj.at("exit_code").to_number<int64_t>());
    if (auto* err = obj.if_contains("error"); err && err->is_string()) {
      std::fprintf(stderr, "drover: task %lld.%lld %s: %s\n", static_cast<long long>(id),
                   static_cast<long long>(obj.at("task_id").to_number<int64_t>()), state.c_str(),
                   std::string(err->as_string()).c_str());
    }
    if (state == "Canceled") code = 130;
    if (code < 0 || code > 255) code = 1;
    if (code != 0 && rc == 0) rc = code;
  }
  return rc;
}

}  // namespace drover::cli

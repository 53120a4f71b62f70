#include "test/test_util.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>

namespace drover::testing {
namespace json = boost::json;

std::string CurrentUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}

json::object ShellJob(const std::string& dir, const std::string& command, int count) {
  json::object task{{"argv", json::array{"/bin/sh", "-c", command}},
                    {"working_dir", dir},
                    {"env", json::object{{"PATH", "/usr/bin:/bin"}}},
                    {"stdout", "out.%t"}};
  return json::object{{"name", "shell"}, {"owner", CurrentUser()}, {"task", std::move(task)}, {"task_count", count}};
}

json::object SweepJob(const std::string& dir, const std::string& command, int start, int end,
                      const std::string& stdout_pattern) {
  json::object job = ShellJob(dir, command, 1);
  job["name"] = "sweep";
  job["task"].as_object()["stdout"] = stdout_pattern;
  job["sweep"] = json::object{{"start", start}, {"end", end}, {"step", 1}};
  return job;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

int CountTasks(const json::value& job, const std::string& state) {
  int n = 0;
  if (!job.is_object() || !job.as_object().contains("task_list")) return 0;
  for (const auto& t : job.at("task_list").as_array()) {
    if (t.at("state") == state.c_str()) ++n;
  }
  return n;
}

}  // namespace drover::testing

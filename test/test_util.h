// Helpers shared by the integration tests.
#pragma once

#include <set>
#include <string>

#include <boost/json.hpp>

namespace drover::testing {

// The user this test runs as: jobs are submitted on its behalf, so tasks run as it.
std::string CurrentUser();

// A sweep job running `sh -c command` in `dir` for indexes [start, end].
boost::json::object SweepJob(const std::string& dir, const std::string& command, int start, int end,
                             const std::string& stdout_pattern = "out.%a");
// A job of `count` tasks running `sh -c command` in `dir`.
boost::json::object ShellJob(const std::string& dir, const std::string& command, int count = 1);

// Lines of a file (empty when it does not exist).
std::vector<std::string> ReadLines(const std::string& path);

// How many tasks of a job detail are in `state`.
int CountTasks(const boost::json::value& job, const std::string& state);

}  // namespace drover::testing

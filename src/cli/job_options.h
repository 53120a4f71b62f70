// Turning `drover submit` / `drover run` options, and a script's #DROVER lines, into a JobSpec.
// Option names follow Slurm's sbatch where one exists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/status.h"
#include "common/types.h"

namespace drover::cli {

struct JobOptions {
  std::string name;
  std::optional<uint32_t> ntasks;
  std::optional<int> cores;
  std::string output;
  std::string error;
  std::string chdir;
  std::string array;
  std::string wrap;
  std::optional<int> priority;
  std::optional<int> retries;
  std::string export_env = "ALL";
  std::string dependency;  // Slurm's -d: afterok:ID[:ID...], afternotok, afterany; ',' all, '?' any
  bool hold = false;       // -H: submit held
  std::string begin;       // --begin: not before this time (see ParseBeginTime)
  std::string prep;        // shell command run on each node before the job's first task there
  std::string release;     // shell command run on each node after the job's last task there
  std::string job_file;    // a job spec in JSON (the REST API's form), for what flags cannot say
};

// Adds the job options to a (sub)command, writing into `o`.
void AddJobOptions(CLI::App& app, JobOptions& o);

struct SweepRange {
  int64_t start = 0;
  int64_t end = 0;
  int64_t step = 1;
};
// "START-END[:STEP]" or a single index "N".
Result<SweepRange> ParseArray(const std::string& text);

// The #DROVER lines at the top of a script (before its first command), split into arguments.
// A line that cannot be split (unbalanced quotes) is an error naming its line number.
Result<std::vector<std::string>> ScriptDirectives(const std::string& script);

// Splits a line the way a POSIX shell splits words: whitespace, single and double quotes, backslash.
Result<std::vector<std::string>> SplitWords(const std::string& line);

// Builds the spec. `command` holds what followed the options (the command and its arguments, or a
// script path and its arguments). `script` is the script's text when the job comes from one.
Result<JobSpec> BuildJobSpec(const JobOptions& o, const std::vector<std::string>& command, const std::string& script,
                             char** environ_ptr);

}  // namespace drover::cli

// Turning `drover submit` / `drover run` options, and a script's #DROVER lines, into a JobSpec.
// Option names follow Slurm's sbatch where one exists.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/fwd.hpp>

#include "common/status.h"
#include "common/types.h"

namespace drover::cli {

// Resources and placement, in sbatch's words.
struct ResourceOptions {
  std::string mem;          // --mem SIZE: per node; K, M (default), G, T suffixes
  std::string mem_per_cpu;  // --mem-per-cpu SIZE
  std::optional<int> gpus;  // --gpus N: per node
  std::optional<int> nodes;  // -N/--nodes N
  bool exclusive = false;    // --exclusive
  std::optional<int> ntasks_per_node;
  std::string partition;     // -p/--partition A[,B]
  std::string constraint;    // --constraint "a&b" / "a|b"
  std::string nodelist;      // -w/--nodelist HOSTLIST
  std::string exclude;       // -x/--exclude HOSTLIST
  std::string time;          // -t/--time LIMIT
  std::string signal;        // --signal [B:]SIG[@seconds]
  std::string job_template;  // --template NAME
};

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
  ResourceOptions res;
  std::string dependency;  // Slurm's -d: afterok:ID[:ID...], afternotok, afterany; ',' all, '?' any
  bool hold = false;       // -H: submit held
  std::string begin;       // --begin: not before this time (see ParseBeginTime)
  std::string prep;        // shell command run on each node before the job's first task there
  std::string release;     // shell command run on each node after the job's last task there
  std::string job_file;    // a job spec in JSON (the REST API's form), for what flags cannot say
};

// Fills what `into` leaves unset from `from` (a script's #DROVER lines under the command line's).
void MergeResourceOptions(ResourceOptions& into, const ResourceOptions& from);

// "4096", "4096M", "4G", "1T", "512K" -> MiB (sbatch's --mem; no suffix means megabytes).
Result<int64_t> ParseMemorySize(const std::string& text, const std::string& option);

// The submission's JSON: the spec, less the properties the user did not give whose value cannot
// say so (priority, cores), so that a job template's defaults can fill them.
boost::json::object SubmissionJson(const JobSpec& spec, const JobOptions& o);

// Applies the resource options to a spec built from the other options (BuildJobSpec calls it).
Status ApplyResourceOptions(const JobOptions& o, JobSpec& spec);

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

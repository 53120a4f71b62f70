#include "cli/acct_format.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/slurm_formats.h"

namespace drover::cli {
namespace json = boost::json;
namespace {

struct Field {
  const char* name;  // as printed in the header
};
constexpr Field kFields[] = {{"JobID"},   {"JobName"}, {"User"},     {"Group"},   {"State"},   {"ExitCode"},
                             {"Submit"},  {"Start"},   {"End"},      {"Elapsed"}, {"NCPUS"},   {"NTasks"},
                             {"AllocGPUs"}, {"ReqMem"}, {"Timelimit"}, {"TotalCPU"}, {"CPUTime"}, {"MaxRSS"},
                             {"NodeList"}, {"Reason"}};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int64_t Int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<int64_t>() : 0;
}
std::string Text(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

std::string LocalTime(int64_t ms) {
  if (ms <= 0) return "Unknown";
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string CpuTime(int64_t ms) {
  // sacct's TotalCPU: [D-][HH:]MM:SS.mmm
  std::string whole = FormatElapsed(ms);
  return fmt::format("{}.{:03}", whole, ms % 1000);
}

// One line: a job (`job` true, `o` a job object) or a task attempt.
std::string Value(const std::string& field, const json::object& o, bool job, const json::object* parent) {
  const std::string f = Lower(field);
  int64_t cores = Int(o, "cores");
  int64_t tasks = job ? Int(o, "tasks") : 1;
  if (f == "jobid") {
    if (job) return std::to_string(Int(o, "job_id"));
    std::string id = fmt::format("{}.{}", Int(o, "job_id"), Int(o, "task_id"));
    return Int(o, "attempt") > 1 ? fmt::format("{}#{}", id, Int(o, "attempt")) : id;
  }
  if (f == "jobname") return Text(o, "job_name");
  if (f == "user") return Text(o, "user");
  if (f == "group") return Text(o, "group");
  if (f == "state") return Text(o, "state");
  if (f == "exitcode") return fmt::format("{}:0", Int(o, "exit_code"));
  if (f == "submit") return LocalTime(Int(o, "submit_ms"));
  if (f == "start") return LocalTime(Int(o, "start_ms"));
  if (f == "end") return Int(o, "end_ms") ? LocalTime(Int(o, "end_ms")) : "Unknown";
  if (f == "elapsed") return FormatElapsed(Int(o, "elapsed_ms"));
  if (f == "ncpus") return std::to_string(cores * tasks);
  if (f == "ntasks") return std::to_string(tasks);
  if (f == "allocgpus") return std::to_string(Int(o, "gpus") * tasks);
  if (f == "reqmem") return Int(o, "memory_limit_mb") ? fmt::format("{}M", Int(o, "memory_limit_mb")) : "";
  if (f == "timelimit") return Int(o, "time_limit_ms") ? FormatElapsed(Int(o, "time_limit_ms")) : "UNLIMITED";
  if (f == "totalcpu") return CpuTime(Int(o, "cpu_time_ms"));
  if (f == "cputime") return FormatElapsed(Int(o, "elapsed_ms") * cores * tasks);
  if (f == "maxrss") return fmt::format("{}K", Int(o, "max_rss_kb"));
  if (f == "nodelist") {
    if (!job) return Text(o, "node");
    std::string out;
    if (auto* nodes = o.if_contains("nodes"); nodes && nodes->is_array()) {
      for (const auto& n : nodes->as_array()) out += (out.empty() ? "" : ",") + std::string(n.as_string());
    }
    return out;
  }
  if (f == "reason") return job ? "" : Text(o, "error");
  (void)parent;
  return "";
}

// `rule`: a line of dashes under the header, as wide as each column.
std::string Render(std::vector<std::vector<std::string>> rows, bool parsable, bool rule = false) {
  std::string out;
  if (parsable) {
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i) out += (i ? "|" : "") + r[i];
      out += "\n";
    }
    return out;
  }
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size());
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  if (rule && !rows.empty()) {
    std::vector<std::string> dashes;
    for (size_t w : width) dashes.push_back(std::string(w, '-'));
    rows.insert(rows.begin() + 1, std::move(dashes));
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> ParseAcctFormat(const std::string& format) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= format.size()) {
    size_t comma = format.find(',', start);
    std::string name = format.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (auto pct = name.find('%'); pct != std::string::npos) name.resize(pct);  // sacct's width suffix
    if (!name.empty()) {
      auto it = std::find_if(std::begin(kFields), std::end(kFields),
                             [&](const Field& f) { return Lower(f.name) == Lower(name); });
      if (it == std::end(kFields)) {
        std::string known;
        for (const auto& f : kFields) known += (known.empty() ? "" : ", ") + std::string(f.name);
        return InvalidArgument(fmt::format("unknown field '{}' in --format; known fields: {}", name, known));
      }
      out.push_back(it->name);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return InvalidArgument("--format names no field");
  return out;
}

std::string FormatAcct(const json::value& answer, const std::vector<std::string>& fields, bool parsable) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back(fields);
  const auto* jobs = answer.is_object() ? answer.as_object().if_contains("jobs") : nullptr;
  if (jobs && jobs->is_array()) {
    for (const auto& jv : jobs->as_array()) {
      const auto& job = jv.as_object();
      std::vector<std::string> row;
      for (const auto& f : fields) row.push_back(Value(f, job, true, nullptr));
      rows.push_back(std::move(row));
      if (auto* steps = job.if_contains("steps"); steps && steps->is_array()) {
        for (const auto& sv : steps->as_array()) {
          std::vector<std::string> srow;
          for (const auto& f : fields) srow.push_back(Value(f, sv.as_object(), false, &job));
          rows.push_back(std::move(srow));
        }
      }
    }
  }
  return Render(rows, parsable, /*rule=*/true);
}

std::string FormatReport(const json::value& answer, bool parsable) {
  std::string out;
  const auto& o = answer.as_object();
  out += fmt::format("Usage from {} to {}\n", LocalTime(Int(o, "start_ms")),
                     Int(o, "end_ms") ? LocalTime(Int(o, "end_ms")) : "now");
  for (const char* what : {"users", "groups"}) {
    std::vector<std::vector<std::string>> rows;
    rows.push_back({std::string(what) == "users" ? "User" : "Group", "Jobs", "Tasks", "CoreHours", "GPUHours", "CPUHours"});
    auto row = [](const json::object& u) {
      return std::vector<std::string>{Text(u, "name").empty() ? "(none)" : Text(u, "name"),
                                      std::to_string(Int(u, "jobs")), std::to_string(Int(u, "tasks")),
                                      fmt::format("{:.2f}", u.at("core_hours").to_number<double>()),
                                      fmt::format("{:.2f}", u.at("gpu_hours").to_number<double>()),
                                      fmt::format("{:.2f}", u.at("cpu_hours").to_number<double>())};
    };
    if (auto* list = o.if_contains(what); list && list->is_array()) {
      for (const auto& u : list->as_array()) rows.push_back(row(u.as_object()));
    }
    if (auto* total = o.if_contains("total"); total && total->is_object()) {
      auto t = row(total->as_object());
      t[0] = "TOTAL";
      rows.push_back(std::move(t));
    }
    out += "\n" + Render(rows, parsable);
  }
  return out;
}

}  // namespace drover::cli

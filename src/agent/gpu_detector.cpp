#include "agent/gpu_detector.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "os/files.h"

namespace drover::agent {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> SplitCsv(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(Trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// "memory.total [MiB]" -> "memory.total"
std::string FieldName(const std::string& header) {
  auto bracket = header.find(" [");
  return bracket == std::string::npos ? header : header.substr(0, bracket);
}

Result<int64_t> Number(const std::string& value, const std::string& field, int line) {
  std::string v = value;
  if (v.size() > 4 && v.compare(v.size() - 4, 4, " MiB") == 0) v.resize(v.size() - 4);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 0) {
    return InvalidArgument(fmt::format("nvidia-smi output line {}: {} '{}' is not a number", line, field, value));
  }
  return static_cast<int64_t>(n);
}

class NvidiaSmiDetector final : public GpuDetector {
 public:
  explicit NvidiaSmiDetector(std::string program) : program_(std::move(program)) {}

  Result<std::vector<protocol::GpuInfo>> Detect() override {
    std::string path = Find();
    if (path.empty()) return std::vector<protocol::GpuInfo>{};
    std::string command = fmt::format("'{}' --query-gpu={} --format=csv,noheader,nounits 2>&1", path, kNvidiaSmiQuery);
    FILE* p = ::popen(command.c_str(), "re");
    if (!p) return Unavailable(fmt::format("cannot run {}", path));
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      // nvidia-smi without a working driver: report it, offer no GPUs.
      return Unavailable(fmt::format("{} failed: {}", path, Trim(out)));
    }
    return ParseNvidiaSmiCsv(out);
  }
  std::string Describe() const override { return "nvidia-smi"; }

 private:
  std::string Find() const {
    if (program_.find('/') != std::string::npos) return ::access(program_.c_str(), X_OK) == 0 ? program_ : "";
    const char* env = std::getenv("PATH");
    std::istringstream dirs(env ? env : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      std::string candidate = os::JoinPath(dir.empty() ? "." : dir, program_);
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
  }
  std::string program_;
};

class FakeGpuDetector final : public GpuDetector {
 public:
  explicit FakeGpuDetector(int count) : count_(count) {}
  Result<std::vector<protocol::GpuInfo>> Detect() override {
    std::vector<protocol::GpuInfo> out;
    for (int i = 0; i < count_; ++i) {
      out.push_back({i, "Fake GPU", fmt::format("GPU-00000000-0000-0000-0000-{:012d}", i), 16384});
    }
    return out;
  }
  std::string Describe() const override { return fmt::format("{} fake GPU(s), for testing", count_); }

 private:
  int count_;
};

}  // namespace

Result<std::vector<protocol::GpuInfo>> ParseNvidiaSmiCsv(std::string_view text, std::string_view fields) {
  std::vector<std::string> names = SplitCsv(fields);
  std::vector<protocol::GpuInfo> out;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++number;
    if (Trim(line).empty()) continue;
    auto cols = SplitCsv(line);
    if (first && !cols.empty() && FieldName(cols[0]) == "index") {
      names.clear();
      for (const auto& c : cols) names.push_back(FieldName(c));
      first = false;
      continue;
    }
    first = false;
    if (cols.size() != names.size()) {
      return InvalidArgument(fmt::format("nvidia-smi output line {} has {} columns, expected {} ({})", number,
                                         cols.size(), names.size(), fields));
    }
    protocol::GpuInfo g;
    bool has_index = false;
    for (size_t i = 0; i < cols.size(); ++i) {
      if (names[i] == "index") {
        ASSIGN_OR_RETURN(int64_t idx, Number(cols[i], "index", number));
        g.index = static_cast<int>(idx);
        has_index = true;
      } else if (names[i] == "name") {
        g.name = cols[i];
      } else if (names[i] == "uuid") {
        g.uuid = cols[i];
      } else if (names[i] == "memory.total") {
        ASSIGN_OR_RETURN(g.memory_mb, Number(cols[i], "memory.total", number));
      }
    }
    if (!has_index) return InvalidArgument("nvidia-smi output has no index column");
    out.push_back(std::move(g));
  }
  return out;
}

std::unique_ptr<GpuDetector> MakeNvidiaSmiDetector(std::string nvidia_smi) {
  return std::make_unique<NvidiaSmiDetector>(std::move(nvidia_smi));
}

std::unique_ptr<GpuDetector> MakeFakeGpuDetector(int count) { return std::make_unique<FakeGpuDetector>(count); }

std::vector<std::pair<std::string, std::string>> GpuEnvironment(const std::vector<int>& gpus) {
  std::string list;
  for (int g : gpus) list += (list.empty() ? "" : ",") + std::to_string(g);
  return {{"CUDA_VISIBLE_DEVICES", list}, {"DROVER_GPUS", list}, {"SLURM_JOB_GPUS", list},
          {"SLURM_STEP_GPUS", list},      {"GPU_DEVICE_ORDINAL", list}};
}

}  // namespace drover::agent

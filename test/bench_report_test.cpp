// The benchmarks name the peer's data (Slurm's setup and reference runs, kept beside the repository in
// ../shared) by that relative path, in the scripts, in the docs and in the report they write, so that
// what they print holds wherever the repository is cloned.
#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::testing {
namespace {

namespace fs = std::filesystem;

std::string RunShell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

TEST(BenchReport, NamesThePeersDataRelativeToTheRepository) {
  char tmpl[] = "/tmp/drover-report-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/raw", "drover_throughput 100.0 tasks/s\n").ok());
  std::string report = RunShell(fmt::format("env -u SLURM_PEER_DIR bash {}/bench/report.sh {}/raw 1 '0.1 0.1 0.1' 5 TP_TASKS=10 2>&1",
                                       DROVER_SOURCE_DIR, dir));
  fs::remove_all(dir);
  EXPECT_NE(report.find("(see ../shared/peers/slurm/README.md)"), std::string::npos) << report;
  EXPECT_NE(report.find("../shared/peers/slurm/results/SUMMARY.txt"), std::string::npos) << report;
  std::string beside = fs::path(DROVER_SOURCE_DIR).parent_path().string() + "/shared";
  EXPECT_EQ(report.find(beside), std::string::npos) << "the report names this machine's path " << beside;
}

TEST(BenchReport, ScriptsAndDocsNameThePeerByItsRelativePath) {
  const std::string needle = "shared/peers";
  std::string absolute;
  std::vector<fs::path> files = {fs::path(DROVER_SOURCE_DIR) / "README.md"};
  for (const char* top : {"bench", "docs", "scripts"}) {
    for (const auto& e : fs::recursive_directory_iterator(fs::path(DROVER_SOURCE_DIR) / top)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  }
  for (const auto& f : files) {
    auto text = os::ReadFile(f.string());
    if (!text.ok()) continue;
    for (size_t at = text->find(needle); at != std::string::npos; at = text->find(needle, at + 1)) {
      if (at < 3 || text->compare(at - 3, 3, "../") != 0) {
        size_t line_start = text->rfind('\n', at) + 1;
        absolute += fmt::format("\n{}: {}", f.string(), text->substr(line_start, text->find('\n', at) - line_start));
      }
    }
  }
  EXPECT_EQ(absolute, "") << "not relative to the repository (../shared/peers/...):";
}

}  // namespace
}  // namespace drover::testing

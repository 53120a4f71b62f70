// Dependencies point one way: a module under src/ includes only modules of lower layers (see the
// layout in ../shared/DESIGN.md), so that, for instance, the deployment engine never reaches into the
// CLI and the head node never into the engine.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace drover::testing {
namespace {

namespace fs = std::filesystem;

// Lower numbers are lower layers; modules of one layer do not include each other.
const std::map<std::string, int>& Layers() {
  static const std::map<std::string, int> layers = {
      {"common", 0},  {"os", 1},    {"net", 2},   {"store", 2}, {"scheduler", 2}, {"secrets", 2},
      {"slurm", 3},   {"head", 4},  {"agent", 4}, {"deploy", 5}, {"cli", 6},
  };
  return layers;
}

TEST(Layout, ModulesIncludeOnlyLowerLayers) {
  fs::path src = fs::path(DROVER_SOURCE_DIR) / "src";
  std::regex include(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cpp") continue;
    std::string module = fs::relative(entry.path(), src).begin()->string();
    auto from = Layers().find(module);
    ASSERT_NE(from, Layers().end()) << "src/" << module << " is not in this test's table of layers: add it";
    ++files;
    std::ifstream in(entry.path());
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      std::smatch m;
      if (!std::regex_search(line, m, include)) continue;
      std::string target = m[1];
      if (target == module) continue;
      auto to = Layers().find(target);
      if (to == Layers().end()) continue;  // not a module of src/ (a system or third-party header)
      EXPECT_LT(to->second, from->second)
          << fs::relative(entry.path(), fs::path(DROVER_SOURCE_DIR)).string() << ":" << line_no << ": src/"
          << module << " includes src/" << target << ", which is not below it";
    }
  }
  EXPECT_GT(files, 100) << "the sources were not found under " << src;
}

}  // namespace
}  // namespace drover::testing

#include "agent/gpu_detector.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::agent {
namespace {

// Real outputs of nvidia-smi on a machine with one H200, sections separated by "---" lines (see
// the file's README in the source tree: -L; a csv query without header or units; the same with both).
std::vector<std::string> FixtureSections() {
  // __FILE__ is absolute, or relative to the build directory, where the test binary is.
  std::filesystem::path source(__FILE__);
  if (source.is_relative()) source = std::filesystem::read_symlink("/proc/self/exe").parent_path() / source;
  std::string path = source.parent_path() / "testdata" / "h200-nvidia-smi.txt";
  auto text = os::ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(text.ok() ? *text : "");
  std::string line;
  while (std::getline(in, line)) {
    if (line == "---") {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += line + "\n";
    }
  }
  out.push_back(cur);
  return out;
}

TEST(GpuDetectorTest, ParsesTheQueryWithoutHeaderOrUnits) {
  auto s = FixtureSections();
  ASSERT_GE(s.size(), 3u);
  auto gpus = ParseNvidiaSmiCsv(s[1], "index,uuid,name,memory.total,memory.used,utilization.gpu,pci.bus_id,driver_version");
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 1u);
  EXPECT_EQ(gpus->at(0).index, 0);
  EXPECT_EQ(gpus->at(0).name, "NVIDIA H200");
  EXPECT_EQ(gpus->at(0).uuid, "GPU-e78bcf19-cdb6-d77c-7878-48742510a344");
  EXPECT_EQ(gpus->at(0).memory_mb, 143771);
}

TEST(GpuDetectorTest, ParsesTheQueryWithHeaderAndUnits) {
  auto s = FixtureSections();
  ASSERT_GE(s.size(), 3u);
  auto gpus = ParseNvidiaSmiCsv(s[2]);  // the header names the columns, not the default order
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 1u);
  EXPECT_EQ(gpus->at(0).name, "NVIDIA H200");
  EXPECT_EQ(gpus->at(0).uuid, "GPU-e78bcf19-cdb6-d77c-7878-48742510a344");
  EXPECT_EQ(gpus->at(0).memory_mb, 143771);
}

TEST(GpuDetectorTest, ParsesDrover_sOwnQueryForSeveralGpus) {
  auto gpus = ParseNvidiaSmiCsv("0, NVIDIA H200, GPU-a, 143771\n1, NVIDIA H200, GPU-b, 143771\n\n");
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ(gpus->at(1).index, 1);
  EXPECT_EQ(gpus->at(1).uuid, "GPU-b");
}

TEST(GpuDetectorTest, RejectsOutputItCannotRead) {
  auto s = FixtureSections();
  // `nvidia-smi -L` is not csv: the error names the line.
  auto listing = ParseNvidiaSmiCsv(s[0]);
  ASSERT_FALSE(listing.ok());
  EXPECT_NE(listing.status().message().find("line 1"), std::string::npos) << listing.status().message();
  EXPECT_FALSE(ParseNvidiaSmiCsv("zero, NVIDIA H200, GPU-a, 1\n").ok());
  EXPECT_FALSE(ParseNvidiaSmiCsv("0, NVIDIA H200, GPU-a, [N/A]\n").ok());
  EXPECT_TRUE(ParseNvidiaSmiCsv("").ok());
}

TEST(GpuDetectorTest, MissingNvidiaSmiMeansNoGpus) {
  auto gpus = MakeNvidiaSmiDetector("/nonexistent/nvidia-smi")->Detect();
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  EXPECT_TRUE(gpus->empty());
}

TEST(GpuDetectorTest, RunsAProgramThatAnswersLikeNvidiaSmi) {
  char tmpl[] = "/tmp/drover_gpu_test_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string smi = dir + "/nvidia-smi";
  ASSERT_TRUE(os::WriteFileAtomic(smi, "#!/bin/sh\n[ \"$1\" = --query-gpu=index,name,uuid,memory.total ] || exit 3\n"
                                       "echo '0, NVIDIA H200, GPU-x, 143771'\necho '1, NVIDIA H200, GPU-y, 143771'\n", 0755).ok());
  auto gpus = MakeNvidiaSmiDetector(smi)->Detect();
  ASSERT_TRUE(gpus.ok()) << gpus.status().ToString();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ(gpus->at(1).uuid, "GPU-y");
  ASSERT_TRUE(os::WriteFileAtomic(smi, "#!/bin/sh\necho 'NVIDIA-SMI has failed'\nexit 9\n", 0755).ok());
  EXPECT_FALSE(MakeNvidiaSmiDetector(smi)->Detect().ok());
  std::filesystem::remove_all(dir);
}

TEST(GpuDetectorTest, FakeDetectorAndTaskEnvironment) {
  auto gpus = MakeFakeGpuDetector(3)->Detect();
  ASSERT_TRUE(gpus.ok());
  ASSERT_EQ(gpus->size(), 3u);
  EXPECT_EQ(gpus->at(2).index, 2);
  EXPECT_NE(gpus->at(1).uuid, gpus->at(2).uuid);
  auto env = GpuEnvironment({1, 3});
  std::map<std::string, std::string> m(env.begin(), env.end());
  EXPECT_EQ(m["CUDA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(m["DROVER_GPUS"], "1,3");
  EXPECT_EQ(m["SLURM_JOB_GPUS"], "1,3");
  auto none = GpuEnvironment({});
  std::map<std::string, std::string> hidden(none.begin(), none.end());
  EXPECT_EQ(hidden["CUDA_VISIBLE_DEVICES"], "");
}

}  // namespace
}  // namespace drover::agent

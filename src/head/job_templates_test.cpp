#include "head/job_templates.h"

#include <gtest/gtest.h>

#include "common/time_limit.h"

namespace drover::head {
namespace {

JobSpec Spec(const std::string& tmpl = "") {
  JobSpec s;
  s.owner = "alice";
  s.task.argv = {"/bin/true"};
  s.job_template = tmpl;
  return s;
}

std::map<std::string, JobTemplate> Templates() {
  JobTemplate d;
  d.name = "Default";
  JobTemplate gpu;
  gpu.name = "Gpu";
  gpu.priority = 1000;
  gpu.cores = 4;
  gpu.memory_mb = 8000;
  gpu.time_limit_ms = 3'600'000;
  gpu.node_groups = {"gpu"};
  gpu.max_priority = 3000;
  gpu.max_cores = 16;
  gpu.max_memory_mb = 64'000;
  gpu.max_time_limit_ms = 24 * 3'600'000LL;
  gpu.allowed_node_groups = {"gpu", "debug"};
  JobTemplate private_t;
  private_t.name = "Private";
  private_t.members = {"bob"};
  return {{"Default", d}, {"Gpu", gpu}, {"Private", private_t}};
}

TEST(JobTemplates, DefaultsFillWhatIsUnset) {
  JobSpec s = Spec("Gpu");
  ASSERT_TRUE(ApplyJobTemplate(Templates(), {.priority = false, .cores = false}, s).ok());
  EXPECT_EQ(s.priority, 1000);
  EXPECT_EQ(s.task.cores, 4);
  EXPECT_EQ(s.task.memory_mb, 8000);
  EXPECT_EQ(s.task.time_limit_ms, 3'600'000);
  EXPECT_EQ(s.node_groups, (std::vector<std::string>{"gpu"}));

  JobSpec given = Spec("Gpu");
  given.priority = 2500;
  given.task.cores = 8;
  given.task.time_limit_ms = 60'000;
  ASSERT_TRUE(ApplyJobTemplate(Templates(), {}, given).ok());
  EXPECT_EQ(given.priority, 2500);
  EXPECT_EQ(given.task.cores, 8);
  EXPECT_EQ(given.task.time_limit_ms, 60'000);
}

TEST(JobTemplates, OutOfRangeSaysWhatAndTheRange) {
  auto expect_error = [](JobSpec s, const std::string& text) {
    Status st = ApplyJobTemplate(Templates(), {}, s);
    ASSERT_FALSE(st.ok()) << text;
    EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
  };
  JobSpec s = Spec("Gpu");
  s.priority = 4000;
  expect_error(s, "priority 4000 is outside what job template 'Gpu' allows (0-3000)");
  s = Spec("Gpu");
  s.task.cores = 32;
  expect_error(s, "cores per task 32");
  s = Spec("Gpu");
  s.task.memory_mb = 100'000;
  expect_error(s, "memory 100000 MB");
  s = Spec("Gpu");
  s.task.time_limit_ms = kUnlimitedTime;
  expect_error(s, "time limit UNLIMITED");
  s = Spec("Gpu");
  s.node_groups = {"cpu"};
  expect_error(s, "node group cpu is outside what job template 'Gpu' allows (one of gpu, debug)");
}

TEST(JobTemplates, MembersUnknownNamesAndDefault) {
  JobSpec s = Spec("Private");
  EXPECT_EQ(ApplyJobTemplate(Templates(), {}, s).code(), StatusCode::kPermissionDenied);
  s = Spec("Nope");
  EXPECT_EQ(ApplyJobTemplate(Templates(), {}, s).code(), StatusCode::kNotFound);
  s = Spec();
  ASSERT_TRUE(ApplyJobTemplate(Templates(), {}, s).ok());
  EXPECT_EQ(s.job_template, "Default");
  s = Spec();
  EXPECT_TRUE(ApplyJobTemplate({}, {}, s).ok());  // no Default template at all
}

}  // namespace
}  // namespace drover::head

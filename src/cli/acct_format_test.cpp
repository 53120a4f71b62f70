#include "cli/acct_format.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace drover::cli {
namespace {

boost::json::value Answer() {
  return boost::json::parse(R"({"jobs":[{"job_id":12,"job_name":"sim","user":"alice","group":"lab","state":"Timeout",
    "exit_code":0,"tasks":2,"cores":4,"gpus":1,"memory_limit_mb":2048,"time_limit_ms":60000,"submit_ms":0,
    "start_ms":0,"end_ms":0,"elapsed_ms":3723000,"cpu_time_ms":7446123,"max_rss_kb":2048,"nodes":["n1","n2"],
    "steps":[{"job_id":12,"task_id":1,"attempt":1,"job_name":"sim","user":"alice","group":"lab","node":"n1",
              "state":"Finished","exit_code":0,"cores":4,"gpus":1,"memory_limit_mb":2048,"time_limit_ms":60000,"elapsed_ms":1000,"cpu_time_ms":1500,
              "max_rss_kb":1024,"error":""},
             {"job_id":12,"task_id":2,"attempt":2,"job_name":"sim","user":"alice","group":"lab","node":"n2",
              "state":"Timeout","exit_code":137,"cores":4,"gpus":1,"memory_limit_mb":2048,"time_limit_ms":60000,"elapsed_ms":60000,"cpu_time_ms":59000,
              "max_rss_kb":2048,"error":"time limit of 60 s exceeded"}]}],"truncated":false})");
}

TEST(AcctFormatTest, FieldsAreCheckedAndNamedAsSacctDoes) {
  auto f = ParseAcctFormat("jobid,STATE,elapsed%20,MaxRSS");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<std::string>{"JobID", "State", "Elapsed", "MaxRSS"}));
  auto bad = ParseAcctFormat("JobID,Bogus");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'Bogus'"), std::string::npos);
  EXPECT_FALSE(ParseAcctFormat(",").ok());
  EXPECT_TRUE(ParseAcctFormat(kDefaultAcctFormat).ok());
}

TEST(AcctFormatTest, ParsableLinesForTheJobAndEachAttempt) {
  auto f = ParseAcctFormat("JobID,State,ExitCode,Elapsed,NCPUS,AllocGPUs,TotalCPU,MaxRSS,NodeList,ReqMem,Timelimit,Reason");
  ASSERT_TRUE(f.ok());
  std::string out = FormatAcct(Answer(), *f, /*parsable=*/true);
  EXPECT_EQ(out,
            "JobID|State|ExitCode|Elapsed|NCPUS|AllocGPUs|TotalCPU|MaxRSS|NodeList|ReqMem|Timelimit|Reason\n"
            "12|Timeout|0:0|01:02:03|8|2|02:04:06.123|2048K|n1,n2|2048M|00:01:00|\n"
            "12.1|Finished|0:0|00:00:01|4|1|00:00:01.500|1024K|n1|2048M|00:01:00|\n"
            "12.2#2|Timeout|137:0|00:01:00|4|1|00:00:59.000|2048K|n2|2048M|00:01:00|time limit of 60 s exceeded\n");
}

TEST(AcctFormatTest, AlignedTableAndReport) {
  auto f = ParseAcctFormat("JobID,State");
  std::string out = FormatAcct(Answer(), *f, false);
  EXPECT_EQ(out.substr(0, out.find("12.1")), "JobID   State\n------  --------\n12      Timeout\n") << out;
  EXPECT_NE(out.find("12.2#2  Timeout"), std::string::npos) << out;
  auto rep = boost::json::parse(R"({"start_ms":0,"end_ms":0,
    "users":[{"name":"alice","jobs":2,"tasks":3,"core_hours":1.5,"gpu_hours":0.25,"cpu_hours":1.0}],
    "groups":[{"name":"","jobs":2,"tasks":3,"core_hours":1.5,"gpu_hours":0.25,"cpu_hours":1.0}],
    "total":{"name":"total","jobs":2,"tasks":3,"core_hours":1.5,"gpu_hours":0.25,"cpu_hours":1.0}})");
  std::string text = FormatReport(rep, true);
  EXPECT_NE(text.find("User|Jobs|Tasks|CoreHours|GPUHours|CPUHours\nalice|2|3|1.50|0.25|1.00\nTOTAL|2|3|1.50|0.25|1.00\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Group|Jobs"), std::string::npos);
  EXPECT_NE(text.find("(none)|2|3"), std::string::npos);
}

}  // namespace
}  // namespace drover::cli

// The scheduler on a real cluster: resources a job cannot get keep it Queued with a reason; node
// groups, features, node lists and exclusions decide where tasks run; --exclusive keeps a node to
// one task; job templates fill defaults and refuse values out of their ranges.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

namespace json = boost::json;

std::string S(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : json::serialize(v); }

// Node name of every task of a finished job.
std::multiset<std::string> NodesOf(const json::value& job) {
  std::multiset<std::string> out;
  for (const auto& t : job.at("task_list").as_array()) out.insert(S(t.at("node")));
  return out;
}

TEST(Scheduling, MoreMemoryThanAnyNodeStaysQueuedWithAReason) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  auto big = ShellJob(cluster.dir(), "true");
  big["task"].as_object()["memory_mb"] = int64_t{1} << 40;  // an exabyte
  int64_t big_id = cluster.Submit(big);
  // It does not block what can run.
  auto small = cluster.WaitForJob(cluster.Submit(ShellJob(cluster.dir(), "true", 2)));
  EXPECT_EQ(S(small.at("state")), "Finished");
  std::string reason;
  ASSERT_TRUE(TestCluster::Eventually(
      [&] {
        auto job = cluster.Get(fmt::format("/api/v1/jobs/{}", big_id));
        reason = S(job.at("reason"));
        return S(job.at("state")) == "Queued" && reason.starts_with("TooLarge");
      },
      10000))
      << reason;
  EXPECT_NE(reason.find("1099511627776 MB"), std::string::npos) << reason;
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", big_id), json::object{});
}

TEST(Scheduling, GroupsFeaturesNodeListsAndExclusionsPlaceTasks) {
  TestCluster cluster({.nodes = 3, .cores_per_node = 2});
  cluster.StartAll();
  cluster.Post("/api/v1/node-templates", json::object{{"name", "GpuNodes"},
                                                      {"node_groups", json::array{"gpu"}},
                                                      {"features", json::array{"a100"}}});
  cluster.Post("/api/v1/node-templates", json::object{{"name", "CpuNodes"},
                                                      {"node_groups", json::array{"cpu"}},
                                                      {"features", json::array{"ib", "avx512"}}});
  cluster.Post("/api/v1/nodes/cn01/approve", json::object{{"template", "GpuNodes"}});
  cluster.Post("/api/v1/nodes/cn02/approve", json::object{{"template", "CpuNodes"}});
  cluster.Post("/api/v1/nodes/cn03/approve", json::object{{"template", "CpuNodes"}});
  auto nodes = cluster.Get("/api/v1/nodes");
  for (const auto& n : nodes.at("nodes").as_array()) {
    std::string want = S(n.at("name")) == "cn01" ? "[\"gpu\"]" : "[\"cpu\"]";
    EXPECT_EQ(json::serialize(n.at("node_groups")), want);
  }

  auto submit = [&](std::function<void(json::object&)> edit, int tasks) {
    auto job = ShellJob(cluster.dir(), "sleep 0.2", tasks);
    edit(job);
    return cluster.Submit(job);
  };
  int64_t gpu = submit([](json::object& j) { j["node_groups"] = json::array{"gpu"}; }, 4);
  int64_t ib = submit([](json::object& j) { j["constraint"] = "ib&avx512"; }, 4);
  int64_t listed = submit([](json::object& j) { j["nodelist"] = "cn03"; }, 3);
  int64_t excluded = submit(
      [](json::object& j) {
        j["node_groups"] = json::array{"cpu"};
        j["exclude"] = "cn[02-02]";
      },
      3);
  int64_t either = submit(
      [](json::object& j) {
        j["constraint"] = "a100|ib";
        j["exclude"] = "cn01";
      },
      4);

  auto finished = [&](int64_t id) {
    auto job = cluster.WaitForJob(id);
    EXPECT_EQ(S(job.at("state")), "Finished") << id;
    return NodesOf(job);
  };
  EXPECT_EQ(finished(gpu), (std::multiset<std::string>{"cn01", "cn01", "cn01", "cn01"}));
  for (const auto& n : finished(ib)) EXPECT_NE(n, "cn01");
  EXPECT_EQ(finished(listed), (std::multiset<std::string>{"cn03", "cn03", "cn03"}));
  EXPECT_EQ(finished(excluded), (std::multiset<std::string>{"cn03", "cn03", "cn03"}));
  for (const auto& n : finished(either)) EXPECT_NE(n, "cn01");

  // A group no node has: Queued, with the reason.
  int64_t nowhere = submit([](json::object& j) { j["node_groups"] = json::array{"bigmem"}; }, 1);
  std::string reason;
  EXPECT_TRUE(TestCluster::Eventually(
      [&] {
        reason = S(cluster.Get(fmt::format("/api/v1/jobs/{}", nowhere)).at("reason"));
        return reason.starts_with("NoEligibleNode");
      },
      10000))
      << reason;
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", nowhere), json::object{});
}

TEST(Scheduling, ExclusiveTaskHasItsNodeToItself) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 2});
  cluster.StartAll();
  auto shared_job = ShellJob(cluster.dir(), "sleep 0.3", 8);
  auto exclusive_job = ShellJob(cluster.dir(), "sleep 0.5", 3);
  exclusive_job["task"].as_object()["exclusive"] = true;
  exclusive_job["priority"] = 3000;
  int64_t ex = cluster.Submit(exclusive_job);
  int64_t sh = cluster.Submit(shared_job);
  auto ex_job = cluster.WaitForJob(ex);
  auto sh_job = cluster.WaitForJob(sh);
  ASSERT_EQ(S(ex_job.at("state")), "Finished");
  ASSERT_EQ(S(sh_job.at("state")), "Finished");
  // Task times come from the agents as "YYYY-MM-DDTHH:MM:SS.mmmZ": they compare as strings.
  struct Span {
    std::string node, start, end;
  };
  auto spans = [](const json::value& job) {
    std::vector<Span> out;
    for (const auto& t : job.at("task_list").as_array()) {
      out.push_back({S(t.at("node")), S(t.at("start_time")), S(t.at("end_time"))});
    }
    return out;
  };
  auto all = spans(ex_job);
  auto others = spans(sh_job);
  all.insert(all.end(), others.begin(), others.end());
  for (const auto& e : spans(ex_job)) {
    int overlapping = 0;
    for (const auto& o : all) {
      if (o.node == e.node && o.start < e.end && e.start < o.end) ++overlapping;
    }
    EXPECT_EQ(overlapping, 1) << "exclusive task on " << e.node << " from " << e.start << " to " << e.end
                              << " shared its node";
  }
  EXPECT_EQ(json::serialize(ex_job.at("resources").at("exclusive")), "true");
}

TEST(Scheduling, JobTemplatesFillDefaultsAndRejectValuesOutOfRange) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  auto templates = cluster.Get("/api/v1/job-templates");
  ASSERT_EQ(templates.at("job_templates").as_array().size(), 1u) << "the Default template exists";
  EXPECT_EQ(S(templates.at("job_templates").at(0).at("name")), "Default");
  cluster.Post("/api/v1/job-templates",
               json::parse(R"({"name": "Short", "description": "quick jobs",
                               "defaults": {"priority": 1000, "time_limit_ms": 60000},
                               "limits": {"max_priority": 2000, "max_cores": 1,
                                          "max_time_limit_ms": 120000}})"));

  auto job = ShellJob(cluster.dir(), "true");
  job["job_template"] = "Short";
  auto done = cluster.WaitForJob(cluster.Submit(job));
  EXPECT_EQ(S(done.at("state")), "Finished");
  EXPECT_EQ(done.at("priority").to_number<int64_t>(), 1000);
  EXPECT_EQ(S(done.at("resources").at("time_limit")), "00:01:00");
  EXPECT_EQ(S(done.at("spec").at("job_template")), "Short");

  auto refused = [&](json::object spec) {
    auto r = cluster.Raw("POST", "/api/v1/jobs", json::serialize(spec), cluster.AdminTls());
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : net::HttpResponse{0, "", ""};
  };
  auto high = job;
  high["priority"] = 3000;
  auto r = refused(high);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("priority 3000 is outside what job template 'Short' allows (0-2000)"), std::string::npos)
      << r.body;
  auto wide = job;
  wide["task"].as_object()["cores"] = 2;
  r = refused(wide);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("cores per task 2"), std::string::npos) << r.body;
  auto unknown = job;
  unknown["job_template"] = "Nope";
  r = refused(unknown);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("job template 'Nope' does not exist"), std::string::npos) << r.body;

  cluster.Post("/api/v1/job-templates/Short/delete", json::object{});
  r = refused(job);
  EXPECT_EQ(r.status, 404) << "deleted: " << r.body;
}

}  // namespace
}  // namespace drover::testing

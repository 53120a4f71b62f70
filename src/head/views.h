// JSON views of jobs and nodes, as the REST API returns them.
#pragma once

#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "head/cluster.h"
#include "head/job.h"

namespace drover::head {

boost::json::object JobSummaryJson(const Job& job);
// `tasks`: "all" lists every task, "none" lists none, "" lists them for jobs of up to 1000 tasks.
// `rows`, when given, supplies node names for a job loaded from the store.
boost::json::object JobDetailJson(const Job& job, const std::string& tasks, const Cluster& cluster,
                                  const std::vector<TaskRecord>* rows = nullptr);
boost::json::object NodeJson(const Node& node);
// With its resources in use, GPUs, and the node groups and features of its template.
boost::json::object NodeJson(const Node& node, const NodeTemplate* node_template);
// A job's resource request per task.
boost::json::object ResourcesJson(const JobSpec& spec);

}  // namespace drover::head

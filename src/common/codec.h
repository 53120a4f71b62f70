// JSON encodings of the shared records, used by the REST API, the agent protocol and the store.
// Decoders validate and say which field is wrong; they never throw.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

#include "common/status.h"
#include "common/types.h"

namespace drover {

boost::json::object ToJson(const TaskSpec& spec);
boost::json::object ToJson(const JobSpec& spec);
boost::json::object ToJson(const TaskRecord& task);
boost::json::object ToJson(const NodeTemplate& t);
boost::json::object ToJson(const JobTemplate& t);

Result<TaskSpec> TaskSpecFromJson(const boost::json::value& v);
Result<JobSpec> JobSpecFromJson(const boost::json::value& v);
Result<NodeTemplate> NodeTemplateFromJson(const boost::json::value& v);
Result<JobTemplate> JobTemplateFromJson(const boost::json::value& v);

// Compact text forms, for the store's columns.
std::string EncodeJobSpec(const JobSpec& spec);
Result<JobSpec> DecodeJobSpec(std::string_view text);

// Parses JSON text; a syntax error says where.
Result<boost::json::value> ParseJson(std::string_view text);

// Checks a job spec for values the cluster cannot run (empty command, cores < 1, ...).
Status ValidateJobSpec(const JobSpec& spec);
// The resource and placement part of that check: memory, GPUs, nodes, time limit, node groups,
// constraint and host lists. Errors name the field.
Status ValidateResources(const JobSpec& spec);

}  // namespace drover

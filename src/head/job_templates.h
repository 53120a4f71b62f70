// Job templates as in HPC Pack: a named set of default values and allowed ranges for job
// properties, and the members who may use it. A submission names one (--template); a job that
// names none gets the "Default" template when there is one.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "common/types.h"

namespace drover::head {

inline constexpr const char* kDefaultJobTemplate = "Default";

// Which properties the submitter set, for those whose defaults cannot be told from a value.
struct GivenFields {
  bool priority = true;
  bool cores = true;
};

// Applies the template the spec names (or "Default") from `templates`: fills the properties the
// job left unset with the template's defaults, then checks every property against the template's
// ranges. Errors say which property, its value and the range allowed. Sets spec.job_template.
Status ApplyJobTemplate(const std::map<std::string, JobTemplate>& templates, const GivenFields& given,
                        JobSpec& spec);

}  // namespace drover::head

#include "common/job_control.h"

#include <ctime>
#include <regex>

#include <fmt/format.h>

#include "common/slurm_formats.h"

namespace drover {

namespace {

Result<JobId> ParseJobIdText(std::string_view text, std::string_view item) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidArgument(fmt::format("dependency '{}': '{}' is not a job id", item, text));
  }
  JobId id = std::stoll(std::string(text));
  if (id < 1) return InvalidArgument(fmt::format("dependency '{}': '{}' is not a job id", item, text));
  return id;
}

}  // namespace

Result<DependencyList> ParseDependencies(std::string_view text) {
  DependencyList out;
  if (text.empty()) return InvalidArgument("the dependency list is empty");
  bool has_comma = text.find(',') != std::string_view::npos;
  bool has_question = text.find('?') != std::string_view::npos;
  if (has_comma && has_question) {
    return InvalidArgument(fmt::format(
        "dependency '{}' mixes ',' (all must hold) and '?' (any must hold); use one of them", text));
  }
  out.any = has_question;
  char sep = has_question ? '?' : ',';
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument(fmt::format("dependency '{}' is not TYPE:JOBID[:JOBID...] (for example afterok:12)", item));
    }
    auto type = ParseDependencyType(item.substr(0, colon));
    if (!type) {
      return InvalidArgument(fmt::format("dependency '{}': unknown type '{}' (afterok, afternotok, afterany)", item,
                                         item.substr(0, colon)));
    }
    size_t p = colon + 1;
    while (true) {
      size_t next = item.find(':', p);
      std::string_view id_text = item.substr(p, next == std::string_view::npos ? std::string_view::npos : next - p);
      ASSIGN_OR_RETURN(JobId id, ParseJobIdText(id_text, item));
      out.items.push_back({*type, id});
      if (next == std::string_view::npos) break;
      p = next + 1;
    }
    pos = end + 1;
  }
  return out;
}

std::string FormatDependencies(const std::vector<JobDependency>& items, bool any) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    bool same_type = i > 0 && items[i - 1].type == items[i].type && !any;
    if (same_type) {
      out += fmt::format(":{}", items[i].job);
      continue;
    }
    if (i > 0) out += any ? "?" : ",";
    out += fmt::format("{}:{}", ToString(items[i].type), items[i].job);
  }
  return out;
}

DependencyVerdict EvaluateDependencies(const std::vector<JobDependency>& items, bool any,
                                       const std::function<std::optional<JobState>(JobId)>& state_of) {
  if (items.empty()) return {};
  size_t satisfied = 0, never = 0;
  std::string first_never;
  for (const auto& d : items) {
    std::optional<JobState> s = state_of(d.job);
    DependencyState v = DependencyState::kPending;
    if (!s) {
      v = DependencyState::kNeverSatisfied;
    } else if (IsTerminal(*s)) {
      bool ok = *s == JobState::kFinished;
      switch (d.type) {
        case DependencyType::kAfterOk: v = ok ? DependencyState::kSatisfied : DependencyState::kNeverSatisfied; break;
        case DependencyType::kAfterNotOk: v = ok ? DependencyState::kNeverSatisfied : DependencyState::kSatisfied; break;
        case DependencyType::kAfterAny: v = DependencyState::kSatisfied; break;
      }
    }
    if (v == DependencyState::kSatisfied) ++satisfied;
    if (v == DependencyState::kNeverSatisfied) {
      ++never;
      if (first_never.empty()) {
        first_never = s ? fmt::format("{} needs job {} to {}, and it {}", ToString(d.type), d.job,
                                      d.type == DependencyType::kAfterOk ? "finish" : "fail", ToString(*s))
                        : fmt::format("job {} does not exist", d.job);
      }
    }
  }
  if (any) {
    if (satisfied > 0) return {};
    if (never == items.size()) return {DependencyState::kNeverSatisfied, first_never};
    return {DependencyState::kPending, ""};
  }
  if (never > 0) return {DependencyState::kNeverSatisfied, first_never};
  if (satisfied == items.size()) return {};
  return {DependencyState::kPending, ""};
}

Result<TimeMs> ParseBeginTime(std::string_view text_view, TimeMs now) {
  std::string text(text_view);
  auto bad = [&] {
    return InvalidArgument(fmt::format(
        "--begin '{}' is not a time: use HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]] or now+N[seconds|minutes|hours|days]",
        text));
  };
  std::smatch m;
  static const std::regex kTimeOfDay(R"(([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)");
  if (!std::regex_match(text, m, kTimeOfDay)) {
    if (text.rfind("now-", 0) == 0) return bad();  // counting back is for reports, not for starts
    auto at = ParseSlurmTime(text, now);
    if (!at.ok()) return bad();
    return at;
  }
  std::time_t now_s = static_cast<std::time_t>(now / 1000);
  std::tm local{};
  ::localtime_r(&now_s, &local);
  auto in_range = [](int v, int lo, int hi) { return v >= lo && v <= hi; };
  int h = std::stoi(m[1].str()), mi = std::stoi(m[2].str()), s = m[3].matched ? std::stoi(m[3].str()) : 0;
  if (!in_range(h, 0, 23) || !in_range(mi, 0, 59) || !in_range(s, 0, 59)) return bad();
  std::tm t = local;
  t.tm_hour = h, t.tm_min = mi, t.tm_sec = s, t.tm_isdst = -1;
  std::time_t at = std::mktime(&t);
  if (at * 1000 <= now) {  // that time has passed today: tomorrow
    t = local;
    t.tm_mday += 1;
    t.tm_hour = h, t.tm_min = mi, t.tm_sec = s, t.tm_isdst = -1;
    at = std::mktime(&t);
  }
  return static_cast<TimeMs>(at) * 1000;
}

}  // namespace drover

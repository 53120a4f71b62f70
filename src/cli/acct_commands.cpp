// `drover acct` (like sacct) and `drover report` (like sreport's user and account utilization).
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/acct_commands.h"
#include "cli/acct_format.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "common/slurm_formats.h"
#include "net/http.h"

namespace drover::cli {
namespace json = boost::json;
namespace {

TimeMs NowMs() { return SystemClock().Now(); }

std::string Me() {
  const passwd* pw = ::getpwuid(::getuid());
  return pw ? pw->pw_name : "";
}

// The query string shared by both commands; errors name the option.
Result<std::string> Query(const AcctOptions& o, bool default_since_midnight) {
  std::vector<std::string> q;
  TimeMs now = NowMs();
  std::string start = o.start;
  if (start.empty() && default_since_midnight && o.job.empty()) start = "midnight";
  if (!start.empty()) {
    auto t = ParseSlurmTime(start, now);
    if (!t.ok()) return InvalidArgument("-S/--starttime: " + t.status().message());
    q.push_back(fmt::format("start_ms={}", *t));
  }
  if (!o.end.empty()) {
    auto t = ParseSlurmTime(o.end, now);
    if (!t.ok()) return InvalidArgument("-E/--endtime: " + t.status().message());
    q.push_back(fmt::format("end_ms={}", *t));
  }
  if (!o.job.empty()) q.push_back("job=" + net::PercentEncode(o.job));
  std::string user = o.user;
  if (user.empty() && !o.all_users) user = Me();
  if (!user.empty()) q.push_back("user=" + net::PercentEncode(user));
  if (!o.state.empty()) q.push_back("state=" + net::PercentEncode(o.state));
  std::string out;
  for (const auto& p : q) out += (out.empty() ? "?" : "&") + p;
  return out;
}

}  // namespace

int AcctCommand(const AcctOptions& o) {
  auto fields = ParseAcctFormat(o.format.empty() ? kDefaultAcctFormat : o.format);
  if (!fields.ok()) return Fail(fields.status().message());
  auto query = Query(o, /*default_since_midnight=*/true);
  if (!query.ok()) return Fail(query.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get("/api/v1/accounting" + *query);
  if (!resp.ok()) return Fail(resp.status().message());
  if (o.json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  std::cout << FormatAcct(*resp, *fields, o.parsable);
  if (auto* t = resp->as_object().if_contains("truncated"); t && t->is_bool() && t->as_bool()) {
    std::fprintf(stderr, "drover: more records matched than were returned; narrow the time window\n");
  }
  return 0;
}

int ReportCommand(const AcctOptions& o) {
  AcctOptions r = o;
  if (r.start.empty()) r.start = "now-1day";
  auto query = Query(r, false);
  if (!query.ok()) return Fail(query.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get("/api/v1/accounting/report" + *query);
  if (!resp.ok()) return Fail(resp.status().message());
  if (o.json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  std::cout << FormatReport(*resp, o.parsable);
  return 0;
}

}  // namespace drover::cli

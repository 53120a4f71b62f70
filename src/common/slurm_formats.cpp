#include "common/slurm_formats.h"

#include <signal.h>
#include <string.h>

#include <cctype>
#include <cstdio>
#include <vector>
#include <ctime>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace drover {
namespace {

// A non-negative decimal number that is all of `s`.
std::optional<int64_t> Number(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<SignalSpec> ParseSignal(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(fmt::format("--signal '{}': {} (give [B:]SIG[@seconds], e.g. USR1@120)", text, why));
  };
  SignalSpec s;
  std::string_view rest = text;
  if (rest.size() > 2 && (rest.substr(0, 2) == "B:" || rest.substr(0, 2) == "b:")) {
    s.batch_only = true;
    rest = rest.substr(2);
  }
  std::string_view name = rest;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto secs = Number(rest.substr(at + 1));
    if (!secs || *secs > 65535) return bad("the time must be whole seconds up to 65535");
    s.before_ms = *secs * 1000;
    name = rest.substr(0, at);
  }
  if (auto n = Number(name)) {
    if (*n < 1 || *n > 64) return bad("no such signal");
    s.signal = static_cast<int>(*n);
    return s;
  }
  std::string upper(name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("SIG", 0) == 0) upper = upper.substr(3);
  for (int sig = 1; sig < 32; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && upper == abbrev) {
      s.signal = sig;
      return s;
    }
  }
  return bad("no such signal");
}

Result<TimeMs> ParseSlurmTime(const std::string& text, TimeMs now) {
  auto bad = [&] {
    return InvalidArgument(fmt::format(
        "'{}' is not a time: give YYYY-MM-DD[THH:MM[:SS]], now, now-1days, now-3hours, today or midnight", text));
  };
  std::string l = Lower(text);
  time_t now_s = static_cast<time_t>(now / 1000);
  if (l == "now") return now;
  if (l == "today" || l == "midnight" || l == "noon") {
    struct tm tm {};
    ::localtime_r(&now_s, &tm);
    tm.tm_hour = l == "noon" ? 12 : 0;
    tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return static_cast<TimeMs>(::mktime(&tm)) * 1000;
  }
  if (l.rfind("now", 0) == 0 && l.size() > 4 && (l[3] == '-' || l[3] == '+')) {
    std::string_view rest = std::string_view(l).substr(4);
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    auto n = Number(rest.substr(0, digits));
    if (!n) return bad();
    std::string unit(rest.substr(digits));
    int64_t scale;
    if (unit.empty() || unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") scale = 1;
    else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") scale = 60;
    else if (unit == "h" || unit == "hour" || unit == "hours") scale = 3600;
    else if (unit == "d" || unit == "day" || unit == "days") scale = 86400;
    else if (unit == "w" || unit == "week" || unit == "weeks") scale = 7 * 86400;
    else return bad();
    int64_t delta = *n * scale * 1000;
    return l[3] == '-' ? now - delta : now + delta;
  }
  // YYYY-MM-DD[THH:MM[:SS]]
  struct tm tm {};
  int y, mo, d, h = 0, mi = 0, s = 0;
  char tail = 0;
  int got = std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &mo, &d, &tail);
  if (got < 3) return bad();
  if (got == 4) {
    if (tail != 'T') return bad();
    size_t t = text.find('T');
    std::string clock = text.substr(t + 1);
    int n2 = 0, used = 0;
    n2 = std::sscanf(clock.c_str(), "%2d:%2d%n", &h, &mi, &used);
    if (n2 != 2) return bad();
    if (static_cast<size_t>(used) < clock.size()) {
      int used2 = 0;
      if (std::sscanf(clock.c_str() + used, ":%2d%n", &s, &used2) != 1 || static_cast<size_t>(used + used2) != clock.size()) {
        return bad();
      }
    }
  } else if (text.size() != 10) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 || s < 0) return bad();
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  time_t at = ::mktime(&tm);
  if (at == -1 || tm.tm_mday != d) return bad();  // 2026-02-30 and the like
  return static_cast<TimeMs>(at) * 1000;
}

std::string FormatElapsed(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  int64_t days = s / 86400;
  s %= 86400;
  if (days > 0) return fmt::format("{}-{:02}:{:02}:{:02}", days, s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace drover

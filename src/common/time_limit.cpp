#include "common/time_limit.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace drover {
namespace {

bool ParseNumber(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 9) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

Result<int64_t> ParseTimeLimit(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "infinite" || lower == "unlimited") return kUnlimitedTime;
  auto bad = [&] {
    return InvalidArgument(fmt::format(
        "time limit '{}' is not one of MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or 'infinite'", text));
  };
  int64_t days = 0;
  std::string_view rest = text;
  bool has_days = false;
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    if (!ParseNumber(rest.substr(0, dash), days)) return bad();
    rest = rest.substr(dash + 1);
    has_days = true;
  }
  std::vector<int64_t> parts;
  size_t start = 0;
  while (true) {
    size_t colon = rest.find(':', start);
    int64_t v = 0;
    if (!ParseNumber(rest.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start), v)) {
      return bad();
    }
    parts.push_back(v);
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) return bad();
  int64_t seconds = 0;
  if (has_days) {
    // D-H, D-H:M, D-H:M:S
    seconds = days * 86400 + parts[0] * 3600;
    if (parts.size() > 1) seconds += parts[1] * 60;
    if (parts.size() > 2) seconds += parts[2];
  } else if (parts.size() == 1) {
    seconds = parts[0] * 60;  // minutes
  } else if (parts.size() == 2) {
    seconds = parts[0] * 60 + parts[1];  // minutes:seconds
  } else {
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  if (seconds <= 0) return InvalidArgument(fmt::format("time limit '{}' must be more than zero", text));
  return seconds * 1000;
}

std::string FormatTimeLimit(int64_t ms) {
  if (ms == kUnlimitedTime) return "UNLIMITED";
  if (ms <= 0) return "";
  int64_t s = (ms + 999) / 1000;
  int64_t d = s / 86400;
  s %= 86400;
  std::string hms = fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return d ? fmt::format("{}-{}", d, hms) : hms;
}

}  // namespace drover

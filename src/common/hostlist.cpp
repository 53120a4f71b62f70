#include "common/hostlist.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace drover {
namespace {

// Splits at commas that are not inside brackets.
Result<std::vector<std::string_view>> SplitTop(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '[') {
      if (++depth > 1) return InvalidArgument(fmt::format("hostlist '{}': nested '[' at position {}", text, i + 1));
    } else if (c == ']') {
      if (--depth < 0) return InvalidArgument(fmt::format("hostlist '{}': ']' without '[' at position {}", text, i + 1));
    } else if (c == ',' && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return InvalidArgument(fmt::format("hostlist '{}': '[' is never closed", text));
  out.push_back(text.substr(start));
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "01-03,07" -> {"01","02","03","07"}
Result<std::vector<std::string>> ExpandRanges(std::string_view whole, std::string_view inner, size_t limit) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= inner.size()) {
    size_t comma = inner.find(',', start);
    std::string_view item = inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    size_t dash = item.find('-');
    std::string_view lo = item.substr(0, dash);
    std::string_view hi = dash == std::string_view::npos ? lo : item.substr(dash + 1);
    if (!AllDigits(lo) || !AllDigits(hi) || lo.size() > 18 || hi.size() > 18) {
      return InvalidArgument(
          fmt::format("hostlist '{}': '{}' is not a number or a range like 1-16", whole, item));
    }
    int64_t a = std::stoll(std::string(lo)), b = std::stoll(std::string(hi));
    if (b < a) return InvalidArgument(fmt::format("hostlist '{}': range '{}' ends before it starts", whole, item));
    if (static_cast<uint64_t>(b - a) >= limit) {
      return InvalidArgument(fmt::format("hostlist '{}' names more than {} nodes", whole, limit));
    }
    size_t width = lo.size() > 1 && lo[0] == '0' ? lo.size() : 0;  // zero padding is kept
    for (int64_t i = a; i <= b; ++i) {
      out.push_back(width ? fmt::format("{:0{}}", i, width) : std::to_string(i));
      if (out.size() > limit) return InvalidArgument(fmt::format("hostlist '{}' names more than {} nodes", whole, limit));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> ExpandHostlist(std::string_view text, size_t limit) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  ASSIGN_OR_RETURN(auto parts, SplitTop(text));
  for (std::string_view part : parts) {
    if (part.empty()) {
      if (parts.size() == 1 && text.empty()) break;
      return InvalidArgument(fmt::format("hostlist '{}' has an empty name", text));
    }
    std::vector<std::string> names{""};
    size_t pos = 0;
    while (pos < part.size()) {
      size_t open = part.find('[', pos);
      std::string_view literal = part.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos);
      for (auto& n : names) n.append(literal);
      if (open == std::string_view::npos) break;
      size_t close = part.find(']', open);
      ASSIGN_OR_RETURN(auto values, ExpandRanges(text, part.substr(open + 1, close - open - 1), limit));
      if (values.empty()) return InvalidArgument(fmt::format("hostlist '{}' has an empty '[]'", text));
      if (names.size() * values.size() > limit) {
        return InvalidArgument(fmt::format("hostlist '{}' names more than {} nodes", text, limit));
      }
      std::vector<std::string> next;
      next.reserve(names.size() * values.size());
      for (const auto& n : names) {
        for (const auto& v : values) next.push_back(n + v);
      }
      names = std::move(next);
      pos = close + 1;
    }
    for (auto& n : names) {
      for (char c : n) {
        if (c == ' ' || c == '\t' || c == '\n') {
          return InvalidArgument(fmt::format("hostlist '{}': node names cannot contain white space", text));
        }
      }
      if (seen.insert(n).second) out.push_back(std::move(n));
      if (out.size() > limit) return InvalidArgument(fmt::format("hostlist '{}' names more than {} nodes", text, limit));
    }
  }
  return out;
}

std::string FormatHostlist(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // (prefix, digit width, suffix) -> numbers. The number is the last run of digits in the name.
  using Key = std::tuple<std::string, size_t, std::string>;
  std::map<Key, std::vector<int64_t>> groups;
  std::vector<std::pair<std::string, Key>> order;  // first appearance of each group, or a plain name
  std::set<Key> listed;
  for (const auto& n : names) {
    size_t end = n.find_last_of("0123456789");
    if (end == std::string::npos) {
      order.push_back({n, {}});
      continue;
    }
    size_t begin = end;
    while (begin > 0 && n[begin - 1] >= '0' && n[begin - 1] <= '9') --begin;
    size_t width = end - begin + 1;
    if (width > 18) {
      order.push_back({n, {}});
      continue;
    }
    // Unpadded numbers all share width 0 so that 9 and 10 fold together.
    bool padded = n[begin] == '0' && width > 1;
    Key key{n.substr(0, begin), padded ? width : 0, n.substr(end + 1)};
    groups[key].push_back(std::stoll(n.substr(begin, width)));
    if (listed.insert(key).second) order.push_back({"", key});
  }
  std::vector<std::string> parts;
  for (auto& [plain, key] : order) {
    if (!plain.empty()) {
      parts.push_back(plain);
      continue;
    }
    auto& nums = groups[key];
    std::sort(nums.begin(), nums.end());
    const auto& [prefix, width, suffix] = key;
    auto num = [&, w = width](int64_t v) { return w ? fmt::format("{:0{}}", v, w) : std::to_string(v); };
    if (nums.size() == 1) {
      parts.push_back(prefix + num(nums[0]) + suffix);
      continue;
    }
    std::string ranges;
    for (size_t i = 0; i < nums.size();) {
      size_t j = i;
      while (j + 1 < nums.size() && nums[j + 1] == nums[j] + 1) ++j;
      if (!ranges.empty()) ranges += ',';
      ranges += num(nums[i]);
      if (j > i) ranges += "-" + num(nums[j]);
      i = j + 1;
    }
    parts.push_back(prefix + "[" + ranges + "]" + suffix);
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

}  // namespace drover

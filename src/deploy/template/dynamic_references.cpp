// Dynamic references to secrets ({{resolve:secret:/name[:VERSION]}}) and ISO 8601 durations: the two small
// text formats that templates embed in strings.
#include <limits>

#include "deploy/template/template_internal.h"

namespace drover::deploy {

using namespace template_internal;

namespace {

constexpr std::string_view kOpen = "{{resolve:";
constexpr std::string_view kClose = "}}";

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
         c == '.' || c == '-';
}

// One reference's text between "{{resolve:" and "}}".
Result<SecretReference> ParseReference(std::string_view inner) {
  std::string shown = std::string(kOpen) + std::string(inner) + std::string(kClose);
  size_t colon = inner.find(':');
  std::string_view kind = inner.substr(0, colon);
  if (kind != "secret") {
    return InvalidArgument("dynamic reference '" + shown + "': kind '" + std::string(kind) +
                           "' is not supported (only {{resolve:secret:/name}} or {{resolve:secret:/name:VERSION}})");
  }
  if (colon == std::string_view::npos) return InvalidArgument("dynamic reference '" + shown + "' names no secret");
  std::string_view rest = inner.substr(colon + 1);
  SecretReference ref;
  if (size_t last = rest.rfind(':'); last != std::string_view::npos) {
    std::string_view version = rest.substr(last + 1);
    auto v = ParseInteger(version);
    bool digits = !version.empty() && version.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits || !v || *v < 1 || *v > std::numeric_limits<int>::max()) {
      return InvalidArgument("dynamic reference '" + shown + "': version '" + std::string(version) + "' is not a positive integer");
    }
    ref.version = static_cast<int>(*v);
    rest = rest.substr(0, last);
  }
  if (rest.empty() || rest.front() != '/') {
    return InvalidArgument("dynamic reference '" + shown + "': secret names start with '/'");
  }
  for (char c : rest) {
    if (!IsNameChar(c)) {
      return InvalidArgument("dynamic reference '" + shown + "': secret names hold only letters, digits and '/_.-'");
    }
  }
  if (rest.size() == 1) return InvalidArgument("dynamic reference '" + shown + "' names no secret");
  ref.name = std::string(rest);
  return ref;
}

// Calls `each` for every "{{resolve:" in text with the reference (or why it is malformed) and its span.
template <typename F>
void ForEachReference(std::string_view text, F each) {
  size_t pos = 0;
  while ((pos = text.find(kOpen, pos)) != std::string_view::npos) {
    size_t close = text.find(kClose, pos + kOpen.size());
    if (close == std::string_view::npos) {
      each(Result<SecretReference>(InvalidArgument("dynamic reference '" + std::string(text.substr(pos)) + "' has no closing '}}'")),
           pos, text.size());
      return;
    }
    each(ParseReference(text.substr(pos + kOpen.size(), close - pos - kOpen.size())), pos, close + kClose.size());
    pos = close + kClose.size();
  }
}

}  // namespace

std::vector<SecretReference> FindSecretReferences(std::string_view text) {
  std::vector<SecretReference> out;
  ForEachReference(text, [&](const Result<SecretReference>& r, size_t, size_t) {
    if (r.ok()) out.push_back(*r);
  });
  return out;
}

std::vector<std::string> CheckDynamicReferences(std::string_view text) {
  std::vector<std::string> out;
  ForEachReference(text, [&](const Result<SecretReference>& r, size_t, size_t) {
    if (!r.ok()) out.push_back(r.status().message());
  });
  return out;
}

Result<std::string> ResolveSecretReferences(std::string_view text,
                                            const std::function<Result<std::string>(const SecretReference&)>& lookup) {
  std::string out;
  size_t copied = 0;
  Status failure;
  ForEachReference(text, [&](const Result<SecretReference>& r, size_t begin, size_t end) {
    if (!failure.ok()) return;
    if (!r.ok()) {
      failure = r.status();
      return;
    }
    auto value = lookup(*r);
    if (!value.ok()) {
      failure = value.status();
      return;
    }
    out.append(text.substr(copied, begin - copied));
    out += *value;
    copied = end;
  });
  if (!failure.ok()) return failure;
  out.append(text.substr(copied));
  return out;
}

Result<int64_t> ParseIsoDuration(std::string_view text) {
  auto malformed = [&](const std::string& why) {
    return InvalidArgument("'" + std::string(text) + "' is not an ISO 8601 duration such as PT30S, PT15M, PT1H30M or P1DT2H (" + why + ")");
  };
  if (text.empty() || text.front() != 'P') return malformed("it must start with 'P'");
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  bool in_time = false, any = false, time_any = false;
  std::string order = "D";  // units allowed next, in order
  size_t i = 1;
  while (i < text.size()) {
    if (text[i] == 'T') {
      if (in_time) return malformed("'T' appears twice");
      in_time = true;
      order = "HMS";
      ++i;
      continue;
    }
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) return malformed("expected a number at offset " + std::to_string(start));
    if (i == text.size()) return malformed("the number at offset " + std::to_string(start) + " has no unit");
    auto n = ParseInteger(text.substr(start, i - start));
    char unit = text[i++];
    size_t at = order.find(unit);
    if (at == std::string::npos) {
      std::string where = in_time ? "after 'T' (H, M, S in that order)" : "before 'T' (only D; hours, minutes and seconds follow 'T')";
      std::string why = "unit '";
      why += unit;
      why += "' is not allowed ";
      why += where;
      return malformed(why);
    }
    order = order.substr(at + 1);
    int64_t ms = unit == 'D' ? 86400000 : unit == 'H' ? 3600000 : unit == 'M' ? 60000 : 1000;
    if (!n || *n > (kMax - total) / ms) return malformed("too long");
    total += *n * ms;
    any = true;
    time_any = time_any || in_time;
  }
  if (!any) return malformed("it has no amount");
  if (in_time && !time_any) return malformed("'T' must be followed by hours, minutes or seconds");
  return total;
}

}  // namespace drover::deploy

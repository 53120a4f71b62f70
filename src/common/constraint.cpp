#include "common/constraint.h"

#include <algorithm>

#include <fmt/format.h>

namespace drover {

Result<Constraint> Constraint::Parse(std::string_view text) {
  Constraint c;
  if (text.empty()) return c;
  auto valid = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '-' || ch == '.' || ch == ':';
  };
  std::vector<std::string> term;
  std::string name;
  auto end_name = [&](size_t pos) -> Status {
    if (name.empty()) {
      return InvalidArgument(fmt::format("constraint '{}': a feature name is missing at position {}", text, pos + 1));
    }
    term.push_back(std::move(name));
    name.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch == '&') {
      RETURN_IF_ERROR(end_name(i));
    } else if (ch == '|') {
      RETURN_IF_ERROR(end_name(i));
      c.any_of_.push_back(std::move(term));
      term.clear();
    } else if (valid(ch)) {
      name.push_back(ch);
    } else {
      return InvalidArgument(fmt::format(
          "constraint '{}': '{}' at position {} is not allowed (use feature names joined by & or |)", text, ch, i + 1));
    }
  }
  RETURN_IF_ERROR(end_name(text.size()));
  c.any_of_.push_back(std::move(term));
  return c;
}

bool Constraint::Matches(const std::vector<std::string>& features) const {
  if (any_of_.empty()) return true;
  auto has = [&](const std::string& f) { return std::find(features.begin(), features.end(), f) != features.end(); };
  return std::any_of(any_of_.begin(), any_of_.end(),
                     [&](const auto& all) { return std::all_of(all.begin(), all.end(), has); });
}

}  // namespace drover

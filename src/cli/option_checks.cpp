#include "cli/option_checks.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace drover::cli {

namespace {
// The largest value any of these options holds (they are ints).
constexpr int64_t kLargestWholeNumber = 2147483647;
}  // namespace

std::string OptionDisplayName(const CLI::Option& option) {
  if (!option.get_lnames().empty()) return "--" + option.get_lnames().front();
  if (!option.get_snames().empty()) return "-" + option.get_snames().front();
  return option.get_name(/*positional=*/true);
}

std::string WholeNumberRule(int64_t min, std::optional<int64_t> max) {
  if (max) return fmt::format("must be a whole number from {} to {}", min, *max);
  return fmt::format("must be a whole number of at least {}", min);
}

std::string CheckWholeNumber(const std::string& name, const std::string& text, int64_t min,
                             std::optional<int64_t> max) {
  // Digits, with a '-' or '+' in front; nothing else around them.
  size_t sign = !text.empty() && (text[0] == '+' || text[0] == '-') ? 1 : 0;
  bool digits = text.size() > sign;
  for (size_t i = sign; i < text.size(); ++i) digits = digits && std::isdigit(static_cast<unsigned char>(text[i]));
  int64_t value = 0;
  const char* begin = text.data() + (sign && text[0] == '+' ? 1 : 0);
  bool fits = digits && std::from_chars(begin, text.data() + text.size(), value).ec == std::errc() &&
              value <= kLargestWholeNumber;
  if (digits && !fits && text[0] != '-') return fmt::format("{} '{}' is too large", name, text);
  if (fits && value >= min && (!max || value <= *max)) return "";
  return fmt::format("{} {}, not '{}'", name, WholeNumberRule(min, max), text);
}

CLI::Option* WholeNumber(CLI::Option* option, int64_t min, std::optional<int64_t> max) {
  std::string name = OptionDisplayName(*option);
  std::string range = max ? fmt::format("{}..{}", min, *max) : fmt::format(">={}", min);
  option->check(CLI::Validator(
      [name, min, max](std::string& text) -> std::string {
        std::string error = CheckWholeNumber(name, text, min, max);
        if (!error.empty()) throw OptionValueError(error);
        return "";
      },
      range));
  return option;
}

}  // namespace drover::cli

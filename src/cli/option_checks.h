// Checks of numeric command-line values whose errors read as a person would write them, naming the
// flag by its long name: "--cpus-per-task must be a whole number of at least 1, not '-1'".
//
//   WholeNumber(app.add_option("-c,--cpus-per-task", o.cores, "Cores per task"), 1);
//   WholeNumber(app.add_option("--priority", o.priority, "..."), 0, 4000);
//
// The check runs on the text before CLI11 converts it, so "abc", "1.5" and "-1" all get the same
// sentence. A failed check throws OptionValueError, a CLI::ParseError whose what() is that sentence
// alone (CLI11 would otherwise put the option's first name and a colon in front of it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace drover::cli {

class OptionValueError : public CLI::ParseError {
 public:
  explicit OptionValueError(const std::string& message)
      : CLI::ParseError("OptionValueError", message, CLI::ExitCodes::ValidationError) {}
};

// How an option is named in messages: its first long name ("--cpus-per-task"), else its first short
// name ("-c"), else its positional name.
std::string OptionDisplayName(const CLI::Option& option);

// The sentence for a value outside [min, max] (max: none when nullopt), e.g. "must be a whole number
// of at least 1" or "must be a whole number from 0 to 4000".
std::string WholeNumberRule(int64_t min, std::optional<int64_t> max);

// Checks `text` as a whole number in [min, max]; "" when it is one, else the full message naming `name`.
std::string CheckWholeNumber(const std::string& name, const std::string& text, int64_t min,
                             std::optional<int64_t> max);

// Adds the check to `option` (and a short description of the range to its help); returns `option`.
CLI::Option* WholeNumber(CLI::Option* option, int64_t min, std::optional<int64_t> max = std::nullopt);

}  // namespace drover::cli

// Node feature constraints in Slurm's notation (sbatch --constraint): "a", "a&b" (all of them),
// "a|b" (any of them), mixed with & binding tighter than | ("gpu&a100|h100" is (gpu and a100) or
// h100). Feature names are letters, digits, '_', '-', '.' and ':'.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace drover {

class Constraint {
 public:
  // An empty text is the constraint every node satisfies.
  static Result<Constraint> Parse(std::string_view text);

  // True when a node with these features satisfies the constraint.
  bool Matches(const std::vector<std::string>& features) const;
  bool empty() const { return any_of_.empty(); }

 private:
  std::vector<std::vector<std::string>> any_of_;  // OR of ANDs
};

}  // namespace drover

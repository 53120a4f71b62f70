// Slurm's hostlist syntax: a compact way to name many nodes. "node[01-03,07],login" names node01,
// node02, node03, node07 and login; "n[1-2]-ib" names n1-ib and n2-ib; several bracket groups in one
// name give their product ("r[1-2]n[1-2]": r1n1, r1n2, r2n1, r2n2). Ranges keep their zero padding
// ("[08-10]": 08, 09, 10).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace drover {

// Expands a hostlist into names, in the order written, duplicates kept out. An error says what is
// malformed and where. At most `limit` names (a guard against "n[1-999999999]").
Result<std::vector<std::string>> ExpandHostlist(std::string_view text, size_t limit = 1'000'000);

// The shortest usual form of a set of names: names that differ only in a trailing number of the
// same width are folded into one bracket group ("node01,node02,node03,node07" -> "node[01-03,07]").
// Names are sorted first; the result expands back to the same set.
std::string FormatHostlist(std::vector<std::string> names);

}  // namespace drover

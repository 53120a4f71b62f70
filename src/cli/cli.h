// The `drover` command line: daemons (headnode, computenode), the local cluster (up, down) and
// the user commands (submit, run, queue, job, cancel, nodes, node).
#pragma once

namespace drover::cli {

int Main(int argc, char** argv);

}  // namespace drover::cli

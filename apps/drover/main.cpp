// drover: one binary for the head node, the compute nodes and the command line.
#include "cli/cli.h"

int main(int argc, char** argv) { return drover::cli::Main(argc, argv); }

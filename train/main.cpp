// tapelm command-line entry point; the command line itself lives in train/cli.cpp.
#include "train/cli.h"

int main(int argc, char** argv) { return tapelm::run_cli(argc, argv); }

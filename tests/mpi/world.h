// Shared by the MPI tests: the process's Distributed (made by main.cpp before any test runs,
// so every test sees the same job) and the scenarios main.cpp runs instead of tests.
#pragma once

#include <string>

#include <tapelm/train/loop/distributed.h>

namespace tapelm::testing {

const Distributed& world();

// `test_mpi --scenario=NAME` runs one job scenario of launched_jobs_test.cpp (a rank failing,
// a short training run) instead of the tests and returns the process's exit status.
int run_scenario(const std::string& name);

}  // namespace tapelm::testing

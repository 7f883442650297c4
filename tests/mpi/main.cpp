// test_mpi's main: joins the MPI job (or runs as a world of one), then runs the tests on every
// rank in the same order. Rank 0 prints the usual GoogleTest output; the other ranks print
// only their failures, prefixed with their rank, so the log stays readable.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "world.h"

namespace tapelm::testing {
namespace {

const Distributed* the_world = nullptr;

class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}

  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::cout << "[rank " << rank_ << "] " << (result.file_name() ? result.file_name() : "?") << ":"
              << result.line_number() << ": Failure\n"
              << result.message() << std::endl;
  }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Failed()) {
      std::cout << "[rank " << rank_ << "] FAILED " << info.test_suite_name() << "." << info.name() << std::endl;
    }
  }

 private:
  int rank_;
};

}  // namespace

const Distributed& world() { return *the_world; }

}  // namespace tapelm::testing

int main(int argc, char** argv) {
  const std::string scenario_flag = "--scenario=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(scenario_flag, 0) == 0) return tapelm::testing::run_scenario(arg.substr(scenario_flag.size()));
  }
  ::testing::InitGoogleTest(&argc, argv);
  const tapelm::Distributed dist;
  tapelm::testing::the_world = &dist;
  if (!dist.is_root()) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new tapelm::testing::RankFailurePrinter(dist.rank()));
  }
  if (dist.is_root()) std::cout << "test_mpi: " << dist.world_size() << " rank(s)" << std::endl;
  return RUN_ALL_TESTS();
}

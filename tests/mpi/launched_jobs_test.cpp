// Tests that start their own small 2-rank jobs of this binary (test_mpi --scenario=NAME) with
// the launcher command in TAPELM_TEST_MPIEXEC, so they run only outside mpirun:
// - a rank that fails must bring the whole job down instead of leaving the other ranks
//   blocked in a collective forever (rank 1 fails while rank 0 waits in a barrier);
// - two launches of the same data-parallel training compute bitwise the same result.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include <tapelm/data/hash.h>
#include "tiny_training.h"
#include "world.h"

namespace tapelm {
namespace testing {

int run_scenario(const std::string& name) {
  if (name == "abort") {
    // The documented pattern: the caller handles the error, then aborts the job.
    const Distributed dist;
    if (dist.rank() == 1) {
      std::cout << "rank 1: error: disk full" << std::endl;
      dist.abort(3);
    }
    dist.barrier();
    std::cout << "rank " << dist.rank() << " passed the barrier" << std::endl;
    return 0;
  }
  if (name == "exception") {
    // An exception unwinds through the Distributed: the rank exits without MPI_Finalize.
    try {
      const Distributed dist;
      if (dist.rank() == 1) throw std::runtime_error("injected failure on rank 1");
      dist.barrier();
      std::cout << "rank " << dist.rank() << " passed the barrier" << std::endl;
    } catch (const std::exception& e) {
      std::cout << "error: " << e.what() << std::endl;
      return 1;
    }
    return 0;
  }
  if (name == "train") {
    // A fingerprint of every step's loss and the final weights, printed by rank 0.
    const Distributed dist;
    const ScratchDir dir;
    GPT model(tiny_model_config());
    dist.broadcast_parameters(model.named_parameters());
    const TrainingRun run = run_tiny_training(model, tiny_dataset(dir, model.config().vocab_size), 5, 2, dist.rank(),
                                              dist.world_size(), &dist);
    uint64_t h = hash64(run.losses.data(), run.losses.size() * sizeof(double));
    for (const auto& [param_name, var] : run.params) {
      h = hash64(var.data(), static_cast<std::size_t>(var.numel()) * sizeof(float), h);
    }
    if (dist.is_root()) std::cout << "fingerprint " << hex64(h) << std::endl;
    return 0;
  }
  std::cerr << "test_mpi: unknown scenario '" << name << "' (expected abort, exception or train)" << std::endl;
  return 2;
}

namespace {

struct JobResult {
  int exit_code = -1;
  std::string output;
  double seconds = 0.0;
};

JobResult run_two_rank_job(const std::string& launcher, const std::string& scenario) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string command = launcher + " -np 2 " + self + " --scenario=" + scenario + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  JobResult result;
  if (!pipe) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe)) result.output += buffer;
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// The launcher command, or empty (after skipping the test) when it cannot run here.
std::string launcher_or_skip() {
  if (world().uses_mpi()) return "";  // no mpirun inside an mpirun job
  const char* launcher = std::getenv("TAPELM_TEST_MPIEXEC");
  return launcher ? launcher : "";
}

// Rank 0 waits in a barrier the failed rank never reaches: the job must end in far less
// time than the launcher's own timeout, with a failure status, and rank 0 must not pass.
void expect_job_stopped(const JobResult& job, const char* scenario) {
  EXPECT_LT(job.seconds, 30.0) << scenario << ": the job hung until the launcher's timeout\n" << job.output;
  EXPECT_EQ(job.output.find("rank 0 passed the barrier"), std::string::npos) << job.output;
}

TEST(JobFailure, ARankThatAbortsEndsTheJobWithItsExitCode) {
  const std::string launcher = launcher_or_skip();
  if (launcher.empty()) GTEST_SKIP() << "runs outside mpirun, with TAPELM_TEST_MPIEXEC set (ctest sets it)";
  const JobResult job = run_two_rank_job(launcher, "abort");
  EXPECT_EQ(job.exit_code, 3) << job.output;
  EXPECT_NE(job.output.find("rank 1: error: disk full"), std::string::npos) << job.output;
  expect_job_stopped(job, "abort");
}

TEST(JobFailure, AnExceptionLeavingTheDistributedScopeEndsTheJobAfterItsMessage) {
  const std::string launcher = launcher_or_skip();
  if (launcher.empty()) GTEST_SKIP() << "runs outside mpirun, with TAPELM_TEST_MPIEXEC set (ctest sets it)";
  const JobResult job = run_two_rank_job(launcher, "exception");
  EXPECT_NE(job.exit_code, 0) << job.output;
  EXPECT_NE(job.output.find("error: injected failure on rank 1"), std::string::npos) << job.output;
  expect_job_stopped(job, "exception");
}

// The "fingerprint <hex>" line of a train scenario's output, or empty.
std::string fingerprint(const std::string& output) {
  const std::size_t at = output.find("fingerprint ");
  return at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
}

TEST(JobReproducibility, TwoLaunchesOfTheSameJobTrainBitwiseIdentically) {
  const std::string launcher = launcher_or_skip();
  if (launcher.empty()) GTEST_SKIP() << "runs outside mpirun, with TAPELM_TEST_MPIEXEC set (ctest sets it)";
  const JobResult first = run_two_rank_job(launcher, "train");
  const JobResult second = run_two_rank_job(launcher, "train");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_FALSE(fingerprint(first.output).empty()) << first.output;
  EXPECT_EQ(fingerprint(first.output), fingerprint(second.output));
}

}  // namespace
}  // namespace testing
}  // namespace tapelm

// A small data-parallel training loop that fails on purpose, run under mpiexec by test_fault.cpp:
//   fault_program throw      rank 1 throws at step 3 while the others wait in the gradient allreduce
//   fault_program stall DIR  rank 1 stops computing at step 3; the watchdog ends the job
// Errors are handled as apps/main.cpp handles them: a multi-rank job is aborted with the message.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "core/mpi.hpp"
#include "nn/optim.hpp"
#include "parallel/grad_sync.hpp"
#include "parallel/watchdog.hpp"
#include "tiny_model.hpp"

using namespace climseg;

namespace {
int run(const std::string& mode, const std::string& dir) {
  Comm world = Comm::world();
  std::unique_ptr<parallel::Watchdog> watchdog;
  if (mode == "stall") {
    parallel::WatchdogOptions o;
    o.timeout_s = 1;
    o.abort_s = 2;
    o.heartbeat_s = 0.1;
    o.directory = dir;
    watchdog = std::make_unique<parallel::Watchdog>(world, o);
  } else if (mode != "throw") {
    fail_usage("unknown mode '{}'", mode);
  }
  test::TinyModel m(1, 16, 16);
  parallel::GradSync sync(*m.params, *m.graph, world);
  nn::Sgd opt(*m.params, {});
  for (int64_t step = 0; step < 1000; ++step) {
    if (watchdog) watchdog->set_step(step);
    m.fill(step, world.rank());
    m.graph->forward();
    if (world.rank() == 1 && step == 3) {
      if (mode == "throw") fail("injected failure at step {}", step);
      std::this_thread::sleep_for(std::chrono::seconds(120));
    }
    sync.begin_backward();
    m.graph->backward();
    sync.finish();
    opt.step(1e-3);
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  MpiSession mpi(&argc, &argv, /*force=*/true);
  try {
    return run(argc > 1 ? argv[1] : "", argc > 2 ? argv[2] : "");
  } catch (const std::exception& e) {
    Comm world = Comm::world();
    if (world.size() > 1) world.abort(1, e.what());
    std::fprintf(stderr, "climseg: error: %s\n", e.what());
    return 1;
  }
}

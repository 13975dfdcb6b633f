// The climseg executable: MPI lifetime, error reporting and exit codes (the command line: cli.cpp).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "apps/cli.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/mpi.hpp"
#include "core/tensor.hpp"
#include "readers/writer.hpp"

namespace climseg::app {

std::vector<CommandFactory>& command_factories() {
  static std::vector<CommandFactory> factories;
  return factories;
}

bool register_command(CommandFactory factory) {
  command_factories().push_back(std::move(factory));
  return true;
}

void print_error(const std::string& message) {
  std::string line = message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  Comm world = Comm::world();
  if (world.size() > 1)
    std::fprintf(stderr, "climseg: error: [rank %d/%d] %s\n", world.rank(), world.size(), line.c_str());
  else
    std::fprintf(stderr, "climseg: error: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace climseg::app

int main(int argc, char** argv) {
  using namespace climseg;
  keep_freed_memory();           // per-step buffers are reused, not faulted in again each step
  MpiSession mpi(&argc, &argv);  // outlives the handlers below, which may need to abort the job
  int code = 0;
  try {
    code = app::run_cli(argc, argv);
  } catch (const UsageError& e) {
    // Usage errors are the same on every rank (same arguments), so rank 0 alone reports them.
    if (Comm::world().is_root()) app::print_error(e.what());
    code = app::kExitUsage;
  } catch (const std::exception& e) {
    // A runtime error may strike one rank only; the others could then wait forever in a
    // collective, so a multi-rank job is aborted as a whole with this rank's message.
    Comm world = Comm::world();
    if (world.size() > 1) world.abort(app::kExitRuntime, e.what());
    app::print_error(e.what());
    code = app::kExitRuntime;
  }
  if (io::writer_left_files_unclosed()) {
    // A NetCDF-4 file whose writes failed (disk full) was left open, its temporary already removed:
    // HDF5 1.10's exit handler would segfault closing it. The error is reported; leave without it.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

// The climseg executable: global options, MPI lifetime, error reporting and exit codes.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"
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

namespace {

// Exit codes: 0 success, 1 runtime error (bad data, I/O), 2 usage error, 130 interrupted.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

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

int run_main(int argc, char** argv) {
  Comm world = Comm::world();
  install_cleanup_handlers();

  CLI::App app{"climseg: find tropical cyclones, atmospheric rivers and extreme waves in climate archives.", "climseg"};
  app.require_subcommand(0, 1);
  app.fallthrough();
  // Leftover arguments are collected here and refused below unless the command takes them.
  app.allow_extras();
  app.footer(
      "Run 'climseg COMMAND --help' for a command's options.\n"
      "Exit codes: 0 success, 1 runtime error (bad input data, I/O), 2 usage error, 130 interrupted.\n"
      "Under mpirun/srun every command runs on all ranks; rank 0 logs and writes shared files.");
  GlobalOptions global;
  bool show_version = false;
  app.add_flag("--version", show_version, "Print version, git hash, build type and compiled features");
  app.add_flag("-v,--verbose", global.verbosity, "More output (repeat for debug detail)");
  app.add_flag_function(
      "-q,--quiet", [&](int64_t n) { global.verbosity -= static_cast<int>(n); },
      "Less output: warnings and errors only");
  app.add_option("--threads", global.threads, "Threads per process (default: cores / ranks on this node)")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            try {
              size_t used = 0;
              const long long n = std::stoll(text, &used);
              if (used == text.size() && n >= 0 && n <= 65536) return {};
            } catch (const std::exception&) {
            }
            return "--threads " + text + ": give a number of threads (1 or more), or 0 for one per core";
          },
          "N"));
  app.add_flag("--no-progress", global.no_progress, "No progress indicator");

  std::vector<std::unique_ptr<Command>> commands;
  for (auto& make : command_factories()) commands.push_back(make());
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) {
    return a->order() != b->order() ? a->order() < b->order() : a->name() < b->name();
  });
  std::vector<std::pair<CLI::App*, Command*>> subs;
  for (auto& c : commands) {
    if (!c->parent().empty()) continue;
    CLI::App* sub = app.add_subcommand(c->name(), c->summary());
    c->setup(*sub);
    subs.emplace_back(sub, c.get());
  }
  for (auto& c : commands) {
    if (c->parent().empty()) continue;
    CLI::App* parent = nullptr;
    for (auto& [s, pc] : subs)
      if (pc->name() == c->parent() && pc->parent().empty()) parent = s;
    if (parent == nullptr) throw std::logic_error("command '" + c->name() + "' has no parent '" + c->parent() + "'");
    CLI::App* sub = parent->add_subcommand(c->name(), c->summary());
    c->setup(*sub);
    subs.emplace_back(sub, c.get());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return world.is_root() ? app.exit(e) : 0;
  } catch (const CLI::CallForAllHelp& e) {
    return world.is_root() ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (world.is_root()) {
      std::string sub;
      for (auto& [s, c] : subs)
        if (s->parsed()) sub += " " + c->name();
      print_error(fmt::format("{} (see 'climseg{} --help')", e.what(), sub));
    }
    return kExitUsage;
  }

  // The kernels' instruction-set level, chosen once here: a CLIMSEG_ISA this build or CPU cannot run
  // is a usage error before any work starts.
  active_isa();
  if (show_version) {
    if (world.is_root()) std::cout << build::describe();
    return 0;
  }
  log::set_level(
      static_cast<log::Level>(std::clamp(static_cast<int>(log::Level::info) + global.verbosity,
                                         static_cast<int>(log::Level::error), static_cast<int>(log::Level::trace))));
  if (global.no_progress) Progress::set_plain_interval(1e30);
  set_num_threads(global.threads);

  // The innermost parsed command runs (`bench io` runs io, not bench).
  for (auto it = subs.rbegin(); it != subs.rend(); ++it) {
    auto& [sub, cmd] = *it;
    if (sub->parsed()) {
      global.extra_args = app.remaining(true);
      if (!global.extra_args.empty() && !cmd->accepts_extra_args()) {
        std::string sub_path;
        for (auto& [s2, c2] : subs)
          if (s2->parsed()) sub_path += " " + c2->name();
        if (world.is_root())
          print_error(fmt::format("The following argument was not expected: {} (see 'climseg{} --help')",
                                  fmt::join(global.extra_args, " "), sub_path));
        return kExitUsage;
      }
      log::debug("running '{}' on {} rank(s), {} thread(s) each", cmd->name(), world.size(), num_threads());
      return cmd->run(global);
    }
  }
  if (!app.remaining().empty()) {
    if (world.is_root())
      print_error(fmt::format("unknown command or argument '{}' (see 'climseg --help')", app.remaining().front()));
    return kExitUsage;
  }
  if (world.is_root()) std::cout << app.help();
  return kExitUsage;
}

}  // namespace
}  // namespace climseg::app

int main(int argc, char** argv) {
  using namespace climseg;
  MpiSession mpi(&argc, &argv);  // outlives the handlers below, which may need to abort the job
  int code = 0;
  try {
    code = app::run_main(argc, argv);
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

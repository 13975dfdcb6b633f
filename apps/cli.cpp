// The command line: global options, the subcommands wired into one CLI11 app, parsing, and the run
// of the innermost parsed command.
#include "apps/cli.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "apps/command.hpp"
#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/crash_note.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"

namespace climseg::app {

int run_cli(int argc, char** argv) {
  Comm world = Comm::world();
  install_cleanup_handlers();
  install_crash_handlers(world.size() > 1 ? fmt::format("[rank {}/{}] ", world.rank(), world.size()) : "");

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
  std::vector<std::pair<CLI::App*, Command*>> subs;  // top-level commands first, then the nested ones
  for (const bool nested : {false, true})
    for (auto& c : commands) {
      if (c->parent().empty() == nested) continue;
      CLI::App* parent = nested ? nullptr : &app;
      for (auto& [s, pc] : subs)
        if (nested && pc->name() == c->parent() && pc->parent().empty()) parent = s;
      if (parent == nullptr) throw std::logic_error("command '" + c->name() + "' has no parent '" + c->parent() + "'");
      CLI::App* sub = parent->add_subcommand(c->name(), c->summary());
      c->setup(*sub);
      subs.emplace_back(sub, c.get());
    }
  // " bench io" for `climseg bench io ...`: the parsed command path, for the usage messages.
  auto parsed_path = [&subs] {
    std::string path;
    for (auto& [s, c] : subs)
      if (s->parsed()) path += " " + c->name();
    return path;
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all
    return world.is_root() ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (world.is_root()) print_error(fmt::format("{} (see 'climseg{} --help')", e.what(), parsed_path()));
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
        if (world.is_root())
          print_error(fmt::format("The following argument was not expected: {} (see 'climseg{} --help')",
                                  fmt::join(global.extra_args, " "), parsed_path()));
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

}  // namespace climseg::app

// Subcommands register themselves from their own files; main() wires them into one CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace climseg::app {

// Options every subcommand understands (given before or after the subcommand name).
struct GlobalOptions {
  int verbosity = 0;  // -v adds, -q subtracts
  int threads = 0;    // 0: cores on this node / ranks on this node
  bool no_progress = false;
  // Arguments no option claimed, for commands that accept them (accepts_extra_args()).
  std::vector<std::string> extra_args;
};

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string name() const = 0;
  virtual std::string summary() const = 0;
  // Where it appears in `climseg --help` (smaller first), following the data flow.
  virtual int order() const { return 100; }
  // Non-empty for a nested command: "bench" makes this `climseg bench <name>`. The parent must be
  // a registered command whose run() is never reached (it requires a nested command).
  virtual std::string parent() const { return {}; }
  // True for commands that take free-form "--key value" pairs (train's config overrides); for
  // every other command an unknown argument is a usage error.
  virtual bool accepts_extra_args() const { return false; }
  // Declares options and positionals on the subcommand's own CLI11 app.
  virtual void setup(CLI::App& app) = 0;
  // Runs after MPI is up and options are parsed. Returns the exit code (0 success).
  // Throws climseg::UsageError (exit 2) or climseg::Error (exit 1) with a one-line message.
  virtual int run(const GlobalOptions& global) = 0;
};

// A subcommand's options as this run has them, by long name ({"--ivt-threshold": "250", ...}):
// the values given, else the defaults (flags: how often given). Rerun keys hold it, so every
// option that can change an output is in them, options added later included; `skip` names those
// that cannot (--in, --out, --overwrite, ...).
inline nlohmann::json option_values(const CLI::App& app, const std::set<std::string>& skip) {
  nlohmann::json out = nlohmann::json::object();
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty()) continue;
    const std::string name = "--" + o->get_lnames().front();
    if (name == "--help" || skip.count(name)) continue;
    if (o->get_expected_max() == 0) {  // a flag
      out[name] = o->count();
    } else if (o->count() > 0) {
      const auto& r = o->results();
      out[name] = r.size() == 1 ? nlohmann::json(r.front()) : nlohmann::json(r);
    } else {
      out[name] = o->get_default_str();
    }
  }
  return out;
}

using CommandFactory = std::function<std::unique_ptr<Command>()>;
bool register_command(CommandFactory factory);
std::vector<CommandFactory>& command_factories();

}  // namespace climseg::app

// In a subcommand's .cpp file: CLIMSEG_REGISTER_COMMAND(InspectCommand);
#define CLIMSEG_REGISTER_COMMAND(Type)                                           \
  namespace {                                                                    \
  [[maybe_unused]] const bool climseg_registered_##Type =                        \
      ::climseg::app::register_command([] { return std::make_unique<Type>(); }); \
  }

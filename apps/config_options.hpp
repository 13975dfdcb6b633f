// Wires a configuration type into a subcommand: --config FILE, --print-config, today's flags as
// aliases of configuration keys, and free "--a.b value" overrides (src/core/config.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace climseg::app {

class ConfigOptions {
 public:
  // `defaults` is the config type's to_json() of a default-constructed config: it types the
  // values given on the command line and shows the defaults in --help.
  void setup(CLI::App& app, const std::vector<config::Alias>& aliases, nlohmann::json defaults,
             const std::string& config_flags = "--config") {
    defaults_ = std::move(defaults);
    app.add_option(config_flags, file_, "Configuration (JSON): a summary of an earlier run, or keys set by hand")
        ->check(CLI::ExistingFile);
    app.add_flag("--print-config", print_, "Print the resolved configuration (defaults, file, options) and exit");
    for (const config::Alias& a : aliases) {
      const std::string key = a.key;
      const nlohmann::json* d = config::find(defaults_, key);
      CLI::Option* o = nullptr;
      switch (a.kind) {
        case config::Alias::Kind::value:
          o = app.add_option_function<std::string>(
              a.flags,
              [this, key](const std::string& v) {
                given_.push_back({key, v});
              },
              a.help);
          break;
        case config::Alias::Kind::list:
          o = app.add_option_function<std::vector<std::string>>(
              a.flags,
              [this, key](const std::vector<std::string>& v) {
                given_.push_back({key, nlohmann::json(v).dump()});
              },
              a.help);
          break;
        case config::Alias::Kind::flag:
          app.add_flag_callback(
              a.flags,
              [this, key] {
                given_.push_back({key, "true"});
              },
              a.help);
          break;
        case config::Alias::Kind::flag_off:
          app.add_flag_callback(
              a.flags,
              [this, key] {
                given_.push_back({key, "false"});
              },
              a.help);
          break;
        case config::Alias::Kind::set: {
          CLI::Option* f = app.add_flag_callback(
              a.flags,
              [this, key, v = a.value] {
                given_.push_back({key, v});
              },
              a.help);
          for (CLI::Option* other : setters_[key]) f->excludes(other);
          setters_[key].push_back(f);
          break;
        }
      }
      if (o && d && !d->is_null() && !(d->is_string() && d->get<std::string>().empty()) &&
          !(d->is_array() && d->empty()))
        o->default_str(d->is_string() ? d->get<std::string>() : d->dump());
    }
  }

  // defaults < --config file < aliases < "--a.b value" overrides (`extra_args`).
  nlohmann::json resolve(const std::vector<std::string>& extra_args) const {
    nlohmann::json doc = file_.empty() ? nlohmann::json::object() : config::load_file(file_);
    if (!doc.is_object()) fail_usage("{}: the configuration must be a JSON object", file_);
    // A summary or report of an earlier run holds its whole configuration under "config".
    if (doc.contains("config") && doc["config"].is_object() && !defaults_.contains("config")) {
      const nlohmann::json inner = doc["config"];
      doc = inner;
    }
    config::apply_overrides(doc, given_, defaults_);
    config::apply_overrides(doc, config::parse_override_args(extra_args), defaults_);
    return doc;
  }
  bool print() const { return print_; }
  const std::string& file() const { return file_; }

 private:
  nlohmann::json defaults_;
  std::string file_;
  bool print_ = false;
  std::vector<config::Override> given_;
  std::map<std::string, std::vector<CLI::Option*>> setters_;  // Kind::set flags by key
};

}  // namespace climseg::app

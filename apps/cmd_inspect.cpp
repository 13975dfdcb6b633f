// `climseg inspect FILE...`: what is in NetCDF/HDF5 files (raw view) and what climseg makes of them
// (grid, time axis, levels, channels), as text or JSON.
#include <iostream>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "readers/cf_file.hpp"
#include "readers/column_file.hpp"
#include "readers/describe.hpp"
#include "readers/inspect.hpp"

namespace climseg::app {
namespace {

class InspectCommand : public Command {
 public:
  std::string name() const override { return "inspect"; }
  std::string summary() const override {
    return "Describe NetCDF/HDF5 files: format, dimensions, variables, attributes; grid, time, levels, channels";
  }
  int order() const override { return 10; }

  void setup(CLI::App& app) override {
    app.add_option("files", files_, "NetCDF-3/4 or HDF5 files")->required();
    app.add_flag("--json", json_, "Print JSON (an object for one file, an array for several)");
    app.add_flag("--raw", raw_, "Only the raw view (dimensions, variables, attributes), not the semantic one");
    app.footer(
        "The semantic view says what climseg reads: the canonical grid (latitude ascending, longitude from 0) and\n"
        "the file's own orientation, the time axis decoded with its calendar, vertical levels, and the channels\n"
        "that --vars can name (TMQ, U@850, ...). In JSON it is the \"semantic\" member.");
  }

  int run(const GlobalOptions&) override {
    // Inspection is cheap and serial; under MPI rank 0 does it alone.
    if (!Comm::world().is_root()) return 0;
    int failures = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const std::string& f : files_) {
      try {
        nlohmann::json r = io::inspect_raw(f);
        // Unstructured columns (CAM-SE ncol, SCRIP, UGRID) have their own semantic view.
        const bool columns = !raw_ && io::detect_column_layout(f).has_value();
        if (!raw_) r["semantic"] = columns ? io::describe_columns(f) : io::describe_semantic(io::scan_file(f));
        if (json_) {
          all.push_back(std::move(r));
        } else {
          std::string text = io::format_raw(r);
          if (!raw_) text += columns ? io::format_columns(r["semantic"]) : io::format_semantic(r["semantic"]);
          std::cout << text << (files_.size() > 1 ? "\n" : "") << std::flush;
        }
      } catch (const Error& e) {
        std::cerr << "climseg: error: " << e.what() << "\n";
        ++failures;
      }
    }
    if (json_) std::cout << (all.size() == 1 && files_.size() == 1 ? all[0] : all).dump(2) << "\n";
    return failures == 0 ? 0 : 1;
  }

 private:
  std::vector<std::string> files_;
  bool json_ = false;
  bool raw_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(InspectCommand)
}  // namespace climseg::app

// `climseg inspect FILE...`: what is in NetCDF/HDF5 files, as text or JSON.
#include <iostream>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "readers/inspect.hpp"

namespace climseg::app {
namespace {

class InspectCommand : public Command {
 public:
  std::string name() const override { return "inspect"; }
  std::string summary() const override {
    return "Describe NetCDF/HDF5 files: format, dimensions, variables, attributes";
  }
  int order() const override { return 10; }

  void setup(CLI::App& app) override {
    app.add_option("files", files_, "NetCDF-3/4 or HDF5 files")->required();
    app.add_flag("--json", json_, "Print JSON (an object for one file, an array for several)");
  }

  int run(const GlobalOptions&) override {
    // Inspection is cheap and serial; under MPI rank 0 does it alone.
    if (!Comm::world().is_root()) return 0;
    int failures = 0;
    nlohmann::json all = nlohmann::json::array();
    for (const std::string& f : files_) {
      try {
        nlohmann::json r = io::inspect_raw(f);
        if (json_)
          all.push_back(std::move(r));
        else
          std::cout << io::format_raw(r) << (files_.size() > 1 ? "\n" : "") << std::flush;
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
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(InspectCommand)
}  // namespace climseg::app

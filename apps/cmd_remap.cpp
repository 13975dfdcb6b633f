// `climseg remap --in FILES --to GRID --out DIR`: files between unstructured columns (CAM-SE ncol,
// SCRIP, UGRID) and lat-lon grids, with one weights matrix that can also be written for CDO or NCO.
#include <iostream>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "readers/remap_files.hpp"

namespace climseg::app {
namespace {

class RemapCommand : public Command {
 public:
  std::string name() const override { return "remap"; }
  std::string summary() const override {
    return "Remap files between unstructured columns (CAM-SE, SCRIP, UGRID) and lat-lon grids";
  }
  int order() const override { return 22; }

  void setup(CLI::App& app) override {
    app.add_option("--in", o_.inputs, "Files, directories, globs or @list files")->required();
    app.add_option("--out", out_, "Output directory (one <input stem>.remap.nc per input file)")->required();
    app.add_option("--to", o_.to,
                   "Target: HxW (a CAM lat-lon grid) for column inputs; a cubed sphere (ne30np4) or a file of "
                   "columns (ncol, SCRIP grid, UGRID mesh) for lat-lon inputs")
        ->required();
    app.add_option("--vars", o_.vars, "Fields, comma-separated (default: every field)");
    app.add_option("--method", method_, "bilinear or conservative (first order)")
        ->check(CLI::IsMember({"bilinear", "conservative"}))
        ->default_val("bilinear");
    app.add_option("--weights-out", weights_, "Also write the weights as a SCRIP file (cdo remap,GRID,FILE reads it)");
    app.footer(
        "The weights are computed once (on rank 0, then broadcast) and applied to every field and step; a missing\n"
        "value is left out of its targets' sums (docs/grids.md).");
  }

  int run(const GlobalOptions&) override {
    o_.out_dir = out_;
    o_.weights_out = weights_;
    o_.method = method_ == "conservative" ? geo::RemapMethod::conservative : geo::RemapMethod::bilinear;
    const Comm world = Comm::world();
    const io::RemapFilesReport r = io::remap_files(o_, world);
    const int64_t files = world.sum(r.files), steps = world.sum(r.steps);
    log::info("remap ({}): {} -> {}, {} weights; {} file(s), {} step(s) in {}", method_, r.source, r.target, r.links,
              files, steps, out_);
    return 0;
  }

 private:
  io::RemapFilesOptions o_;
  std::string out_, method_, weights_;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(RemapCommand)
}  // namespace climseg::app

// `climseg bench grid`: seconds and memory to set up an unstructured grid (triangulation, neighbours,
// cells, areas) and its remap weights to and from a lat-lon grid, and to apply them.
#include <sys/resource.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/remap.hpp"

namespace climseg::app {
namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

class BenchGridCommand : public Command {
 public:
  std::string name() const override { return "grid"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Time unstructured-grid set-up and remap weights (ne120np4 by default)";
  }
  void setup(CLI::App& app) override {
    app.add_option("--grid", grid_, "Cubed sphere: neXnpY or neXpgY")->default_val("ne120np4");
    app.add_option("--latlon", latlon_, "Lat-lon grid of the weights, HxW (CAM layout)")->default_val("768x1152");
    app.add_flag("--conservative", conservative_, "Also time first-order conservative weights both ways");
    app.footer(
        "One JSON object: columns, threads, grid_s (nodes, triangulation, neighbours, cells, areas), "
        "bilinear_to_latlon_s,\n"
        "bilinear_to_columns_s, conservative_*_s, setup_s (grid and bilinear weights both ways), apply_*_s (one "
        "field)\n"
        "and peak_rss_mb (the process's high-water mark).");
  }

  int run(const GlobalOptions&) override {
    if (!Comm::world().is_root()) return 0;
    const auto spec = geo::parse_cubed_sphere(grid_);
    if (!spec) fail_usage("--grid {}: expected a cubed sphere such as ne120np4 or ne30pg2", grid_);
    std::smatch m;
    if (!std::regex_match(latlon_, m, std::regex(R"((\d+)x(\d+))"))) fail_usage("--latlon {}: expected HxW", latlon_);
    const geo::Grid ll = geo::Grid::cam(std::stoll(m[1]), std::stoll(m[2]));
    nlohmann::ordered_json j;
    j["grid"] = grid_;
    j["latlon"] = latlon_;
    j["threads"] = num_threads();
    Stopwatch sw;
    if (spec->pg == 0) {  // the parts of grid_s: node positions, then their triangulation alone
      std::vector<double> lat, lon;
      geo::cubed_sphere_nodes(spec->ne, spec->np, lat, lon);
      j["nodes_s"] = sw.seconds();
      std::vector<geo::Vec3> p(lat.size());
      for (size_t i = 0; i < lat.size(); ++i) p[i] = geo::unit_vector(lat[i], lon[i]);
      sw.reset();
      const geo::SphereTriangulation t = geo::triangulate_sphere(p);
      j["triangulation_s"] = sw.seconds();
      j["triangulation_peak_rss_mb"] = peak_rss_mb();
    }
    sw.reset();
    const geo::UnstructuredGrid g = geo::cubed_sphere_grid(*spec);
    j["columns"] = g.size();
    j["grid_s"] = sw.seconds();
    sw.reset();
    const geo::RemapWeights to_ll = geo::bilinear_weights(g, ll);
    j["bilinear_to_latlon_s"] = sw.seconds();
    sw.reset();
    const geo::RemapWeights to_cols = geo::bilinear_weights(ll, g);
    j["bilinear_to_columns_s"] = sw.seconds();
    j["setup_s"] =
        j["grid_s"].get<double>() + j["bilinear_to_latlon_s"].get<double>() + j["bilinear_to_columns_s"].get<double>();
    j["setup_peak_rss_mb"] = peak_rss_mb();
    std::vector<float> f(size_t(g.size()), 1.0f), out(size_t(ll.size()));
    sw.reset();
    to_ll.apply(f, out);
    j["apply_to_latlon_s"] = sw.seconds();
    sw.reset();
    to_cols.apply(out, f);
    j["apply_to_columns_s"] = sw.seconds();
    if (conservative_) {
      sw.reset();
      const geo::RemapWeights a = geo::conservative_weights(g, ll);
      j["conservative_to_latlon_s"] = sw.seconds();
      sw.reset();
      const geo::RemapWeights b = geo::conservative_weights(ll, g);
      j["conservative_to_columns_s"] = sw.seconds();
    }
    j["peak_rss_mb"] = peak_rss_mb();
    std::cout << j.dump(2) << "\n";
    return 0;
  }

 private:
  std::string grid_, latlon_;
  bool conservative_ = false;
};

CLIMSEG_REGISTER_COMMAND(BenchGridCommand)

}  // namespace
}  // namespace climseg::app

// Unstructured-grid set-up and remap weights, timed.
#include "models/bench/grid.hpp"

#include <sys/resource.h>

#include <regex>

#include "core/error.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "geo/cubed_sphere.hpp"
#include "geo/remap.hpp"

namespace climseg::bench {
namespace {

double grid_peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

}  // namespace

nlohmann::ordered_json bench_grid(const GridBenchOptions& o) {
  const auto spec = geo::parse_cubed_sphere(o.grid);
  if (!spec) fail_usage("--grid {}: expected a cubed sphere such as ne120np4 or ne30pg2", o.grid);
  std::smatch m;
  if (!std::regex_match(o.latlon, m, std::regex(R"((\d+)x(\d+))"))) fail_usage("--latlon {}: expected HxW", o.latlon);
  const geo::Grid ll = geo::Grid::cam(std::stoll(m[1]), std::stoll(m[2]));
  nlohmann::ordered_json j;
  j["grid"] = o.grid;
  j["latlon"] = o.latlon;
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
    j["triangulation_peak_rss_mb"] = grid_peak_rss_mb();
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
  j["setup_peak_rss_mb"] = grid_peak_rss_mb();
  std::vector<float> f(size_t(g.size()), 1.0f), out(size_t(ll.size()));
  sw.reset();
  to_ll.apply(f, out);
  j["apply_to_latlon_s"] = sw.seconds();
  sw.reset();
  to_cols.apply(out, f);
  j["apply_to_columns_s"] = sw.seconds();
  if (o.conservative) {
    sw.reset();
    const geo::RemapWeights a = geo::conservative_weights(g, ll);
    j["conservative_to_latlon_s"] = sw.seconds();
    sw.reset();
    const geo::RemapWeights b = geo::conservative_weights(ll, g);
    j["conservative_to_columns_s"] = sw.seconds();
  }
  j["peak_rss_mb"] = grid_peak_rss_mb();
  return j;
}

}  // namespace climseg::bench

// Maps of fields on unstructured columns.
#include "analysis/plot_columns.hpp"

#include <cmath>

#include "core/error.hpp"

namespace climseg::plot {

ColumnMap::ColumnMap(const geo::UnstructuredGrid& grid, int64_t height)
    : raster_(geo::Grid::centred(height, 2 * height)), weights_(geo::bilinear_weights(grid, raster_)) {
  raster_.periodic = true;
  nearest_.assign(size_t(raster_.size()), -1);
  for (int64_t t = 0; t < raster_.size(); ++t) {
    double best = -1;
    for (int64_t k = weights_.row_start[size_t(t)]; k < weights_.row_start[size_t(t) + 1]; ++k)
      if (weights_.weight[size_t(k)] > best) {
        best = weights_.weight[size_t(k)];
        nearest_[size_t(t)] = weights_.col[size_t(k)];
      }
  }
}

std::vector<float> ColumnMap::raster_field(std::span<const float> field) const {
  std::vector<float> out(size_t(raster_.size()));
  weights_.apply(field, out);
  return out;
}

std::vector<uint8_t> ColumnMap::raster_classes(std::span<const float> classes) const {
  if (int64_t(classes.size()) != weights_.source_size())
    fail("map: {} class values for {} columns", classes.size(), weights_.source_size());
  std::vector<uint8_t> out(size_t(raster_.size()), 0);
  for (size_t p = 0; p < out.size(); ++p) {
    const int32_t c = nearest_[p];
    if (c >= 0 && classes[size_t(c)] > 0 && classes[size_t(c)] < 256) out[p] = uint8_t(classes[size_t(c)]);
  }
  return out;
}

Image ColumnMap::render(std::span<const float> field, std::span<const float> classes, const std::vector<Track>& tracks,
                        const MapSpec& spec) const {
  std::vector<float> f = raster_field(field), valid(f.size());
  for (size_t k = 0; k < f.size(); ++k) {
    valid[k] = std::isnan(f[k]) ? 0.0f : 1.0f;
    if (std::isnan(f[k])) f[k] = 0.0f;
  }
  const std::vector<uint8_t> cls = classes.empty() ? std::vector<uint8_t>{} : raster_classes(classes);
  return render_map(raster_, f, valid, cls, tracks, spec);
}

}  // namespace climseg::plot

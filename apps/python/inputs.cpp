// The Python module's inputs (inputs.hpp).
#include "apps/python/inputs.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/log.hpp"
#include "readers/orientation.hpp"

namespace climseg::python {
namespace {

// The conversion of a channel from the units of its variable to the model's (as the archive plans
// it for the command line): no units attribute means the model's units (with a warning); a known
// mislabel is read as what it means (with a warning); anything else that cannot be converted is
// refused, naming the fix.
io::UnitConversion conversion_for(const io::ChannelSpec& spec, const std::string& var, std::string& file_units) {
  if (spec.units.empty()) return {};
  const std::string what = fmt::format("variable {} (channel {})", var, spec.name);
  if (io::normalize_units(file_units).empty()) {
    log::warn("{} has no units attribute: taken to be {} (say otherwise with units={{'{}': UNITS}})", what, spec.units,
              var);
    return {};
  }
  std::string why;
  if (io::convertible(file_units, spec.units, spec.bridge, &why))
    return io::unit_conversion(file_units, spec.units, spec.bridge, what);
  const std::string meant = io::known_mislabel(file_units);
  if (!meant.empty() && io::convertible(meant, spec.units, spec.bridge)) {
    log::warn("{}: {}; taken as '{}', which such files hold (say otherwise with units={{'{}': UNITS}})", what, why,
              meant, var);
    file_units = meant;
    return io::unit_conversion(meant, spec.units, spec.bridge, what);
  }
  fail("{}: {}; if its values are in {}, say so with units={{'{}': '{}'}}", what, why, spec.units, var, spec.units);
}

}  // namespace

std::vector<double> to_vector(const DoubleArray& a) {
  if (a.ndim() != 1) throw py::value_error("coordinates must be 1-D");
  return std::vector<double>(a.data(), a.data() + a.size());
}

Steps::Steps(const std::vector<io::ChannelSpec>& specs, std::vector<std::string> names,
             const std::vector<FloatArray>& channels, const std::vector<std::string>& vars,
             std::vector<std::string> file_units, const DoubleArray& lat, const DoubleArray& lon)
    : names_(std::move(names)), vars_(vars), file_units_(std::move(file_units)) {
  const size_t C = specs.size();
  if (channels.size() != C || vars.size() != C || file_units_.size() != C || names_.size() != C)
    throw py::value_error(fmt::format("{} channels expected, {} given", C, channels.size()));
  checking_input([&] {
    const io::CanonicalGrid g = io::canonical_grid(to_vector(lat), to_vector(lon), "the dataset's coordinates");
    grid_ = g.grid;
    orientation_ = g.orientation;
    for (size_t c = 0; c < C; ++c) {
      conv_.push_back(conversion_for(specs[c], vars[c], file_units_[c]));
      units_.push_back(specs[c].units.empty() ? file_units_[c] : specs[c].units);
    }
    return 0;
  });
  Hf_ = static_cast<int64_t>(lat.size());
  Wf_ = static_cast<int64_t>(lon.size());
  for (size_t c = 0; c < C; ++c) {
    const FloatArray& a = channels[c];
    if (a.ndim() != 3 || a.shape(1) != Hf_ || a.shape(2) != Wf_ || (c > 0 && a.shape(0) != T_))
      throw py::value_error(
          fmt::format("variable {}: expected (time, {}, {}) float32 values on the dataset's latitude and longitude",
                      vars[c], Hf_, Wf_));
    T_ = a.shape(0);
    data_.push_back(a.data());
  }
}

void Steps::load(int64_t t, io::Sample& s) const {
  const int64_t H = grid_.height(), W = grid_.width(), n = H * W;
  const auto C = static_cast<int64_t>(data_.size());
  if (s.data.shape() != Shape{C, H, W}) s.data = Tensor::empty({C, H, W});
  s.valid = Tensor();
  s.grid = grid_;
  s.orientation = orientation_;
  s.file = "the dataset";
  s.index = t;
  s.time_index = t;
  s.channels = names_;
  s.units = units_;
  std::vector<int64_t> invalid(static_cast<size_t>(C), 0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    float* out = s.data.data() + c * n;
    io::to_canonical(data_[static_cast<size_t>(c)] + t * Hf_ * Wf_, out, H, W, orientation_);
    // Counted without a branch (a loop the compiler vectorises); rewritten only when there are any.
    int64_t bad = 0;
    for (int64_t k = 0; k < n; ++k) bad += std::abs(out[k]) <= std::numeric_limits<float>::max() ? 0 : 1;
    if (bad > 0)
      for (int64_t k = 0; k < n; ++k)
        if (!std::isfinite(out[k])) out[k] = std::numeric_limits<float>::quiet_NaN();
    if (!conv_[static_cast<size_t>(c)].identity()) conv_[static_cast<size_t>(c)].apply(out, n);
    invalid[static_cast<size_t>(c)] = bad;
  }
  for (int64_t c = 0; c < C; ++c) {
    float* out = s.data.data() + c * n;
    const int64_t bad = invalid[static_cast<size_t>(c)];
    if (bad == 0) continue;
    if (s.valid.numel() == 0) {
      s.valid = Tensor::empty({C, H, W});
      s.valid.fill(1.0f);
    }
    io::finish_mask(out, s.valid.data() + c * n, n);
    if (bad == n)
      log::warn("variable {} (channel {}) at step {} is entirely missing: masked", vars_[static_cast<size_t>(c)],
                names_[static_cast<size_t>(c)], t);
  }
}

}  // namespace climseg::python

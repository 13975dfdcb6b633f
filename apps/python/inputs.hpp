// The Python module's inputs: numpy arrays from xarray (float32, C order: no copy), their units
// converted as the archive converts a file's, laid on climseg's canonical grid one time step at a
// time. Shared by the model's calls (module.cpp) and the pipelines' (pipelines.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "geo/grid.hpp"
#include "readers/archive.hpp"
#include "readers/units.hpp"

namespace climseg::python {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Runs `f`, turning climseg's errors into ValueError: for the steps that check the caller's input.
template <class F>
auto checking_input(F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw py::value_error(e.what());
  }
}

std::vector<double> to_vector(const DoubleArray& a);

// The caller's channels (each (T, H, W) in the data's own layout, variable vars[c] read as
// specs[c]) as climseg samples on the canonical grid, one time step at a time, the way the archive
// reads a file: non-finite values (xarray's decoded fill values) masked, values converted from
// file_units[c] to the spec's units. Samples' channels are named `names`.
class Steps {
 public:
  Steps(const std::vector<io::ChannelSpec>& specs, std::vector<std::string> names,
        const std::vector<FloatArray>& channels, const std::vector<std::string>& vars,
        std::vector<std::string> file_units, const DoubleArray& lat, const DoubleArray& lon);

  int64_t steps() const { return T_; }
  int64_t file_height() const { return Hf_; }
  int64_t file_width() const { return Wf_; }
  const geo::Grid& grid() const { return grid_; }
  const geo::Orientation& orientation() const { return orientation_; }
  const std::vector<std::string>& file_units() const { return file_units_; }

  // Step t into `s` (its buffers reused when they have the shape).
  void load(int64_t t, io::Sample& s) const;

 private:
  geo::Grid grid_;
  geo::Orientation orientation_;
  std::vector<const float*> data_;
  std::vector<io::UnitConversion> conv_;
  std::vector<std::string> names_, vars_, units_, file_units_;
  int64_t T_ = 0, Hf_ = 0, Wf_ = 0;
};

}  // namespace climseg::python

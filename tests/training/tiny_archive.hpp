// A tiny labelled archive for training tests: files of `steps_per_file` steps on a global CAM grid
// with TMQ, U850, V850, PSL and LABELS (1: a warm, low-pressure vortex blob; 2: a moist band),
// written with the CF writer. Features move from step to step so that every sample differs.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/h5.hpp"
#include "readers/writer.hpp"

namespace climseg::test {

// Every tensor of a checkpoint's state_dict, in name order, concatenated: equal vectors mean
// bit-identical weights and buffers.
inline std::vector<float> checkpoint_weights(const std::filesystem::path& ckpt) {
  h5::File f = h5::File::open(ckpt);
  h5::Group sd = f.open_group("state_dict");
  std::vector<float> all;
  for (const std::string& name : sd.members()) {
    Tensor t = sd.read_tensor(name);
    all.insert(all.end(), t.begin(), t.end());
  }
  return all;
}

inline std::vector<std::string> write_tiny_archive(const std::filesystem::path& dir, int files, int steps_per_file,
                                                   int64_t H = 32, int64_t W = 48) {
  using namespace io;
  std::vector<std::string> paths;
  const geo::Grid grid = geo::Grid::cam(H, W);
  for (int f = 0; f < files; ++f) {
    OutputSpec s;
    s.grid = grid;
    s.set_time("days since 2000-01-01 00:00:00", "noleap");
    s.variables = {float_field("TMQ", "kg/m2", "Total (vertically integrated) precipitable water"),
                   float_field("U850", "m/s", "Zonal wind at 850 mbar"),
                   float_field("V850", "m/s", "Meridional wind at 850 mbar"),
                   float_field("PSL", "Pa", "Sea level pressure"),
                   float_field("LABELS", "1", "0 background, 1 tropical cyclone, 2 atmospheric river")};
    s.provenance.command_line = "test";
    s.provenance.timestamp = false;
    std::filesystem::path p = dir / ("tiny_" + std::to_string(f) + ".nc");
    CfWriter w(p, s);
    std::vector<float> tmq(size_t(H * W)), u(tmq.size()), v(tmq.size()), psl(tmq.size()), lab(tmq.size());
    for (int t = 0; t < steps_per_file; ++t) {
      const int step = f * steps_per_file + t;
      w.append_time(0.125 * step);
      const double ci = H * 0.6 + 3 * std::sin(step * 0.7), cj = std::fmod(7.0 * step, double(W));
      const double band = H * 0.3 + 2 * std::cos(step * 0.5);
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          double dj = std::remainder(double(j) - cj, double(W)), di = double(i) - ci;
          double r2 = di * di + dj * dj;
          double blob = std::exp(-r2 / 8.0);
          double moist = std::exp(-(double(i) - band) * (double(i) - band) / 2.0) *
                         (0.5 + 0.5 * std::sin(6.2832 * (double(j) + step) / double(W)));
          size_t k = size_t(i * W + j);
          tmq[k] = float(20 + 25 * blob + 20 * moist + 0.5 * std::sin(0.3 * double(i * j + step)));
          u[k] = float(-12 * di / 3 * blob + 5);
          v[k] = float(12 * dj / 3 * blob + 8 * moist);
          psl[k] = float(101000 - 2500 * blob);
          lab[k] = blob > 0.35 ? 1.0f : (moist > 0.45 ? 2.0f : 0.0f);
        }
      w.write("TMQ", t, tmq.data());
      w.write("U850", t, u.data());
      w.write("V850", t, v.data());
      w.write("PSL", t, psl.data());
      w.write("LABELS", t, lab.data());
    }
    w.close();
    paths.push_back(p.string());
  }
  return paths;
}

}  // namespace climseg::test

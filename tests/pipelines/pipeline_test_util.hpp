// Shared by the pipeline tests: a small synth archive made in-process, and NetCDF files compared
// variable by variable, byte for byte.
#pragma once

#include <gtest/gtest.h>
#include <netcdf.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/mpi.hpp"
#include "models/synth/archive.hpp"
#include "readers/netcdf_file.hpp"

namespace climseg::test {

// 8 three-hourly steps at 32x48 in files of 4, with cyclones and rivers planted (LABELS).
inline std::vector<std::filesystem::path> small_archive(const std::filesystem::path& dir, int64_t steps = 8) {
  synth::SynthConfig c;
  c.height = 32;
  c.width = 48;
  c.steps = steps;
  c.steps_per_file = 4;
  c.seed = 5;
  c.deflate_level = 0;
  synth::write_archive(c, dir, Comm::world(), false);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".nc") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Every variable's bytes (as stored, native type) and the global attribute climseg_run_key.
inline std::map<std::string, std::vector<char>> nc_contents(const std::filesystem::path& path) {
  std::map<std::string, std::vector<char>> out;
  io::NcFile f(path);
  int nvars = 0;
  EXPECT_EQ(nc_inq_nvars(f.id(), &nvars), NC_NOERR) << path;
  for (int v = 0; v < nvars; ++v) {
    char name[NC_MAX_NAME + 1];
    nc_type type;
    EXPECT_EQ(nc_inq_var(f.id(), v, name, &type, nullptr, nullptr, nullptr), NC_NOERR);
    size_t size = 0, n = 1;
    nc_inq_type(f.id(), type, nullptr, &size);
    for (size_t d : io::nc_var_shape(f.id(), v)) n *= d;
    std::vector<char> bytes(n * size);
    if (n > 0) {
      EXPECT_EQ(nc_get_var(f.id(), v, bytes.data()), NC_NOERR) << path << " " << name;
    }
    out[name] = std::move(bytes);
  }
  size_t len = 0;
  if (nc_inq_attlen(f.id(), NC_GLOBAL, "climseg_run_key", &len) == NC_NOERR) {
    std::vector<char> key(len);
    nc_get_att_text(f.id(), NC_GLOBAL, "climseg_run_key", key.data());
    out["(climseg_run_key)"] = key;
  }
  return out;
}

inline std::vector<float> nc_floats(const std::filesystem::path& path, const char* name) {
  io::NcFile f(path);
  const int var = io::nc_find_var(f.id(), name);
  EXPECT_GE(var, 0) << path << " " << name;
  size_t n = 1;
  for (size_t d : io::nc_var_shape(f.id(), var)) n *= d;
  std::vector<float> v(n);
  io::nc_check(nc_get_var_float(f.id(), var, v.data()), path.string(), "read", name);
  return v;
}

}  // namespace climseg::test

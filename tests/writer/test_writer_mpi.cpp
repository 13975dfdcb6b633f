// Output under MPI: one file written collectively (parallel NetCDF-4) equals the serial file, whether
// ranks split the time steps or the latitude bands; per-rank files hold each rank's steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/mpi.hpp"
#include "readers/netcdf_file.hpp"
#include "readers/writer.hpp"
#include "shared_dir.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;
using namespace climseg::io;

namespace {

constexpr int64_t kH = 12, kW = 16, kSteps = 7;

OutputSpec spec() {
  OutputSpec s;
  s.grid = geo::Grid::cam(kH, kW);
  s.orientation.lat_descending = true;  // exercise the reorientation on every path
  s.orientation.lon_shift = 5;
  s.set_time("hours since 1996-06-09 00:00:00", "noleap");
  s.dims = {{"lev", 3}};
  s.variables = {float_field("TMQ", "kg/m2", "precipitable water"),
                 mask_field("class_mask", {"Background", "Tropical Cyclone", "Atmospheric River"}),
                 float_field("Q", "kg/kg", "specific humidity", {"time", "lev", "lat", "lon"})};
  VarDef lev;
  lev.name = "lev";
  lev.type = NC_DOUBLE;
  lev.dims = {"lev"};
  lev.attrs = {Attr::str("units", "hPa")};
  s.variables.push_back(lev);
  s.provenance.command_line = "climseg test";
  s.provenance.timestamp = false;
  return s;
}

float value(int64_t t, int64_t l, int64_t i, int64_t j) { return float(t * 10000 + l * 1000 + i * 50 + j) * 0.5f; }

std::vector<float> tmq(int64_t t0, int64_t nt) {
  std::vector<float> v;
  for (int64_t t = t0; t < t0 + nt; ++t)
    for (int64_t i = 0; i < kH; ++i)
      for (int64_t j = 0; j < kW; ++j) v.push_back(value(t, 0, i, j));
  return v;
}
std::vector<float> mask(int64_t t0, int64_t nt) {
  std::vector<float> v;
  for (int64_t t = t0; t < t0 + nt; ++t)
    for (int64_t k = 0; k < kH * kW; ++k) v.push_back(float((k + t) % 3));
  return v;
}
std::vector<float> q(int64_t t0, int64_t nt) {
  std::vector<float> v;
  for (int64_t t = t0; t < t0 + nt; ++t)
    for (int64_t l = 0; l < 3; ++l)
      for (int64_t i = 0; i < kH; ++i)
        for (int64_t j = 0; j < kW; ++j) v.push_back(value(t, l, i, j) * 1e-6f);
  return v;
}
std::vector<double> times(int64_t t0, int64_t nt) {
  std::vector<double> v;
  for (int64_t t = t0; t < t0 + nt; ++t) v.push_back(3.0 * double(t));
  return v;
}

// Contiguous blocks as TECA splits them: the first N mod P ranks take one more.
std::pair<int64_t, int64_t> block(int64_t n, int rank, int size) {
  int64_t base = n / size, extra = n % size;
  int64_t start = rank * base + std::min<int64_t>(rank, extra);
  return {start, base + (rank < extra ? 1 : 0)};
}

void write_serial(const fs::path& p) {
  CfWriter w(p, spec());
  w.write_values("lev", std::vector<double>{850, 500, 200});
  w.write_time(0, times(0, kSteps));
  auto a = tmq(0, kSteps), m = mask(0, kSteps), b = q(0, kSteps);
  w.write("TMQ", 0, kSteps, a.data());
  w.write("class_mask", 0, kSteps, m.data());
  w.write("Q", 0, kSteps, b.data());
  w.close();
}

// The whole file as ncdump prints it (data and storage details), without its first line (the name).
std::string dump(const fs::path& p) {
  auto r = test::run_command("ncdump -s " + p.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(r.out.find('\n'));
}

}  // namespace

TEST(WriterMpi, CollectiveTimeBlocksEqualTheSerialFile) {
  Comm world = Comm::world();
  ASSERT_GT(world.size(), 1);
  test::SharedDir dir(world);
  if (world.is_root()) write_serial(dir.path / "serial.nc");
  auto [t0, nt] = block(kSteps, world.rank(), world.size());
  {
    CfWriter w(dir.path / "collective.nc", spec(), world);
    EXPECT_TRUE(w.collective());
    w.write_values("lev", std::vector<double>{850, 500, 200});  // every rank passes it; rank 0 writes it
    w.write_time(t0, times(t0, nt));
    auto a = tmq(t0, nt), m = mask(t0, nt), b = q(t0, nt);
    w.write("TMQ", t0, nt, a.data());
    w.write("class_mask", t0, nt, m.data());
    w.write("Q", t0, nt, b.data());
    EXPECT_FALSE(fs::exists(dir.path / "collective.nc"));
    w.close();
  }
  EXPECT_TRUE(fs::exists(dir.path / "collective.nc"));  // on every rank once close() returns
  if (world.is_root()) {
    std::string serial = dump(dir.path / "serial.nc"), collective = dump(dir.path / "collective.nc");
    EXPECT_EQ(serial, collective);
    EXPECT_NE(serial.find("time = UNLIMITED ; // (7 currently)"), std::string::npos) << serial.substr(0, 400);
  }
  world.barrier();
}

TEST(WriterMpi, CollectiveLatitudeBandsEqualTheSerialFile) {
  Comm world = Comm::world();
  test::SharedDir dir(world);
  if (world.is_root()) write_serial(dir.path / "serial.nc");
  auto [r0, nr] = block(kH, world.rank(), world.size());
  {
    CfWriter w(dir.path / "bands.nc", spec(), world);
    w.write_values("lev", std::vector<double>{850, 500, 200});
    // Time and the 4-D variable in time blocks; the 3-D ones in latitude bands of each step.
    auto [t0, nt] = block(kSteps, world.rank(), world.size());
    w.write_time(t0, times(t0, nt));
    auto b = q(t0, nt);
    w.write("Q", t0, nt, b.data());
    for (int64_t t = 0; t < kSteps; ++t) {
      auto a = tmq(t, 1), m = mask(t, 1);
      w.write_rows("TMQ", t, r0, nr, a.data() + r0 * kW);
      w.write_rows("class_mask", t, r0, nr, m.data() + r0 * kW);
    }
    w.close();
  }
  if (world.is_root()) {
    EXPECT_EQ(dump(dir.path / "serial.nc"), dump(dir.path / "bands.nc"));
  }
  world.barrier();
}

TEST(WriterMpi, PerRankFilesHoldEachRanksSteps) {
  Comm world = Comm::world();
  test::SharedDir dir(world);
  auto [t0, nt] = block(kSteps, world.rank(), world.size());
  fs::path mine = dir.path / ("part." + std::to_string(world.rank()) + ".nc");
  {
    CfWriter w(mine, spec());  // serial writer: this rank alone
    EXPECT_FALSE(w.collective());
    for (int64_t t = t0; t < t0 + nt; ++t) {
      int64_t k = w.append_time(3.0 * double(t));
      auto a = tmq(t, 1);
      w.write("TMQ", k, a.data());
    }
    w.close();
  }
  world.barrier();
  // Every rank checks every part: together they cover each step once, in order.
  int64_t covered = 0;
  for (int r = 0; r < world.size(); ++r) {
    auto [s0, sn] = block(kSteps, r, world.size());
    NcFile f(dir.path / ("part." + std::to_string(r) + ".nc"));
    int tv = nc_find_var(f.id(), "time");
    std::vector<double> tvals(static_cast<size_t>(sn));
    ASSERT_EQ(nc_get_var_double(f.id(), tv, tvals.data()), NC_NOERR);
    for (int64_t k = 0; k < sn; ++k) EXPECT_EQ(tvals[size_t(k)], 3.0 * double(s0 + k));
    // TMQ at file row 0 (north pole), file column 5 (longitude 0): canonical (kH - 1, 0).
    int v = nc_find_var(f.id(), "TMQ");
    for (int64_t k = 0; k < sn; ++k) {
      size_t start[3] = {size_t(k), 0, 5}, count[3] = {1, 1, 1};
      float x = 0;
      ASSERT_EQ(nc_get_vara_float(f.id(), v, start, count, &x), NC_NOERR);
      EXPECT_EQ(x, value(s0 + k, 0, kH - 1, 0));
    }
    covered += sn;
  }
  EXPECT_EQ(covered, kSteps);
  world.barrier();
}

// Archives built from small files written here with the raw NetCDF/HDF5 libraries: time order,
// refusals (overlap, backwards, grids, calendars), levels, packing and masks, fill policies,
// DeepCAM HDF5, labels, 3-D fields with hybrid coefficients, inputs, the prefetcher.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "core/threads.hpp"
#include "nc_builder.hpp"
#include "readers/archive.hpp"
#include "readers/describe.hpp"
#include "readers/direct_read.hpp"
#include "readers/orientation.hpp"
#include "readers/overlap.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/write_behind.hpp"
#include "test_support.hpp"

using namespace climseg::io;
using climseg::test::NcBuilder;
using climseg::test::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr size_t kH = 4, kW = 8;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const climseg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A CAM-like file: TMQ(time, lat, lon) with value 1000*step + 10*i + j (file order), times given.
fs::path cam_file(const TempDir& dir, const std::string& name, std::vector<double> times,
                  const char* units = "days since 2000-01-01 00:00:00", const char* calendar = "noleap",
                  double lat0 = -67.5, double lat_step = 45) {
  fs::path p = dir / name;
  std::vector<double> tmq;
  for (size_t t = 0; t < times.size(); ++t)
    for (size_t i = 0; i < kH; ++i)
      for (size_t j = 0; j < kW; ++j) tmq.push_back(1000.0 * double(t) + 10.0 * double(i) + double(j));
  NcBuilder(p)
      .dim("time", 0)
      .dim("lat", kH)
      .dim("lon", kW)
      .var("time", NC_DOUBLE, {"time"}, times)
      .att("time", "units", units)
      .att("time", "calendar", calendar)
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, lat0, lat_step))
      .att("lat", "units", "degrees_north")
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
      .att("lon", "units", "degrees_east")
      .var("TMQ", NC_FLOAT, {"time", "lat", "lon"}, tmq)
      .att("TMQ", "units", "kg m-2")
      .write();
  return p;
}

ArchiveOptions channels(const std::string& list) {
  ArchiveOptions o;
  o.channels = parse_channels(list);
  return o;
}

}  // namespace

TEST(ChannelSpec, ParsesNamesLevelsAndFiles) {
  ChannelSpec a = ChannelSpec::parse("TMQ");
  EXPECT_EQ(a.name, "TMQ");
  EXPECT_EQ(a.var, "TMQ");
  EXPECT_TRUE(a.level.empty());
  ChannelSpec b = ChannelSpec::parse("U@850");
  EXPECT_EQ(b.name, "U850");
  EXPECT_EQ(b.var, "U");
  EXPECT_EQ(b.level, "850");
  EXPECT_EQ(ChannelSpec::parse("U@850hPa").name, "U850");
  EXPECT_EQ(ChannelSpec::parse("U@85000Pa").name, "U85000Pa");
  ChannelSpec c = ChannelSpec::parse("u500=u[U500storm]");
  EXPECT_EQ(c.name, "u500");
  EXPECT_EQ(c.var, "u");
  EXPECT_EQ(c.file, "U500storm");
  auto list = parse_channels("TMQ, U@850,v=v[*V*.cdf]");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2].file, "*V*.cdf");
  EXPECT_THROW(parse_channels("TMQ,,PSL"), climseg::UsageError);
  EXPECT_THROW(parse_channels("TMQ,TMQ"), climseg::UsageError);
  EXPECT_THROW(ChannelSpec::parse("U@"), climseg::UsageError);
  EXPECT_THROW(ChannelSpec::parse("=U"), climseg::UsageError);
  EXPECT_THROW(ChannelSpec::parse("U[]"), climseg::UsageError);
}

TEST(Partition, BlocksCoverEverythingOnceFirstRanksTakeOneMore) {
  for (int64_t n : {0, 1, 5, 7, 64, 1000})
    for (int p : {1, 2, 3, 4, 7}) {
      int64_t next = 0;
      for (int r = 0; r < p; ++r) {
        Block b = block_partition(n, r, p);
        EXPECT_EQ(b.begin, next);
        EXPECT_EQ(b.size(), n / p + (r < n % p ? 1 : 0));
        next = b.end;
      }
      EXPECT_EQ(next, n);
    }
  // TECA's rule on 10 samples over 4 ranks: 3, 3, 2, 2.
  EXPECT_EQ(block_partition(10, 1, 4).begin, 3);
  EXPECT_EQ(block_partition(10, 2, 4).begin, 6);
  EXPECT_EQ(block_partition(10, 3, 4).size(), 2);
}

TEST(Orientation, FieldsRoundTripAndFileCoordinatesComeBack) {
  std::vector<double> lat = {60, 30, 0, -30}, lon = {-180, -90, 0, 90};
  CanonicalGrid cg = canonical_grid(lat, lon, "test");
  EXPECT_TRUE(cg.grid.periodic);
  EXPECT_EQ(cg.grid.lat, (std::vector<double>{-30, 0, 30, 60}));
  EXPECT_EQ(cg.grid.lon, (std::vector<double>{0, 90, 180, 270}));
  EXPECT_EQ(cg.orientation.lon_shift, 2);
  std::vector<float> file(16), canon(16), back(16);
  for (int k = 0; k < 16; ++k) file[static_cast<size_t>(k)] = float(k);
  to_canonical(file.data(), canon.data(), 4, 4, cg.orientation);
  // canonical (0, 0) is file row 3 (lat -30), file column 2 (lon 0) → 3*4+2 = 14.
  EXPECT_EQ(canon[0], 14.0f);
  EXPECT_EQ(canon[15], 1.0f);  // (60N, 270E) = file (0, 1) at lon -90
  to_file_order(canon.data(), back.data(), 4, 4, cg.orientation);
  EXPECT_EQ(back, file);
  EXPECT_EQ(file_latitudes(cg.grid, cg.orientation), lat);
  EXPECT_EQ(file_longitudes(cg.grid, cg.orientation), lon);
  EXPECT_THROW(canonical_grid({0, 10, 5}, lon, "x"), climseg::Error);
  EXPECT_THROW(canonical_grid(lat, {10, 0, 20, 30}, "x"), climseg::Error);
}

// Issue 16 item 6: a global grid that repeats its first meridian (0..360 or -180..180 inclusive)
// is global with the column once; a region that crosses the 0/360 line in a file that counts
// 0..360 ascends modulo 360.
TEST(Orientation, RepeatedMeridianIsGlobalAndCountedOnce) {
  const std::vector<double> lat = {-45, 45};
  for (const auto& lon : {std::vector<double>{0, 90, 180, 270, 360}, std::vector<double>{-180, -90, 0, 90, 180}}) {
    CanonicalGrid cg = canonical_grid(lat, lon, "test");
    EXPECT_TRUE(cg.grid.periodic);
    EXPECT_TRUE(cg.orientation.lon_repeated);
    EXPECT_EQ(cg.grid.lon, (std::vector<double>{0, 90, 180, 270}));
    EXPECT_EQ(cg.orientation.file_width(4), 5);
    // File (2, 5) with the last column equal to the first; canonical (2, 4).
    std::vector<float> file = {1, 2, 3, 4, 1, 5, 6, 7, 8, 5}, canon(8), back(10);
    to_canonical(file.data(), canon.data(), 2, 4, cg.orientation);
    const std::vector<float> want =
        lon[0] == 0 ? std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8} : std::vector<float>{3, 4, 1, 2, 7, 8, 5, 6};
    EXPECT_EQ(canon, want);
    to_file_order(canon.data(), back.data(), 2, 4, cg.orientation);
    EXPECT_EQ(back, file);
    EXPECT_EQ(file_longitudes(cg.grid, cg.orientation), lon);
  }
  // Not evenly spaced: regional, kept as it is.
  CanonicalGrid uneven = canonical_grid(lat, {0, 90, 180, 300, 350}, "test");
  EXPECT_FALSE(uneven.grid.periodic);
  EXPECT_FALSE(uneven.orientation.lon_repeated);
}

TEST(Orientation, RegionAcrossTheZeroMeridianAscendsModulo360) {
  const std::vector<double> lat = {20, 30};
  CanonicalGrid cg = canonical_grid(lat, {340, 350, 0, 10, 20}, "test");
  EXPECT_FALSE(cg.grid.periodic);
  EXPECT_EQ(cg.grid.lon, (std::vector<double>{340, 350, 360, 370, 380}));
  EXPECT_FALSE(cg.orientation.lon_signed);
  EXPECT_EQ(cg.orientation.file_longitude(370), 10);
  // The same region written -20..20 is signed: tables give it back as -20..20.
  CanonicalGrid s = canonical_grid(lat, {-20, -10, 0, 10, 20}, "test");
  EXPECT_EQ(s.grid.lon, cg.grid.lon);
  EXPECT_TRUE(s.orientation.lon_signed);
  EXPECT_EQ(s.orientation.file_longitude(350), -10);
  // Descending longitudes, two crossings and more than a turn stay refused.
  EXPECT_THROW(canonical_grid(lat, {20, 10, 0}, "x"), climseg::Error);
  EXPECT_THROW(canonical_grid(lat, {340, 0, 340, 0}, "x"), climseg::Error);
  EXPECT_THROW(canonical_grid(lat, {300, 350, 0, 100, 200, 310}, "x"), climseg::Error);
}

TEST(Archive, FilesAreOrderedByTimeNotByName) {
  TempDir dir;
  cam_file(dir, "c.nc", {0, 0.125});
  cam_file(dir, "a.nc", {0.5, 0.625});
  cam_file(dir, "b.nc", {0.25, 0.375});
  Archive a = Archive::open({dir.path().string()}, channels("TMQ"));
  ASSERT_EQ(a.size(), 6);
  EXPECT_EQ(fs::path(a.info(0).file).filename(), "c.nc");
  EXPECT_EQ(fs::path(a.info(2).file).filename(), "b.nc");
  EXPECT_EQ(fs::path(a.info(5).file).filename(), "a.nc");
  EXPECT_EQ(a.info(3).date.iso(), "2000-01-01T09:00:00");
  EXPECT_EQ(a.info(3).time_index, 1);
  EXPECT_EQ(a.calendar(), "noleap");
  Sample s = a.load(3);
  EXPECT_EQ(s.time_iso, "2000-01-01T09:00:00");
  EXPECT_EQ(s.data[2 * kW + 5], 1025.0f);  // step 1 of b.nc, row 2, column 5
  EXPECT_EQ(s.index, 3);
  // A glob and an @list give the same archive.
  EXPECT_EQ(Archive::open({(dir / "*.nc").string()}, channels("TMQ")).size(), 6);
  std::ofstream(dir / "list.txt") << "# files\na.nc\n" << (dir / "b.nc").string() << "\n";
  EXPECT_EQ(Archive::open({"@" + (dir / "list.txt").string()}, channels("TMQ")).size(), 4);
}

TEST(Archive, RefusesOverlapBackwardsGridsAndCalendars) {
  TempDir dir;
  auto a = cam_file(dir, "a.nc", {0, 1});
  auto b = cam_file(dir, "b.nc", {1, 2});
  std::string e = error_of([&] { Archive::open({a.string(), b.string()}, channels("TMQ")); });
  EXPECT_NE(e.find("b.nc: time steps overlap with " + a.string()), std::string::npos) << e;
  auto back = cam_file(dir, "back.nc", {5, 4});
  e = error_of([&] { Archive::open({back.string()}, channels("TMQ")); });
  EXPECT_EQ(e, back.string() +
                   ": time steps go backwards or repeat: step 1 (2000-01-05T00:00:00) is not after step 0 "
                   "(2000-01-06T00:00:00)");
  auto other = cam_file(dir, "other_grid.nc", {10}, "days since 2000-01-01", "noleap", -60, 40);
  e = error_of([&] { Archive::open({a.string(), other.string()}, channels("TMQ")); });
  EXPECT_EQ(
      e.rfind(other.string() + ": grid differs from the first file of the archive: latitude 0 is -60 but -67.5", 0), 0u)
      << e;
  auto std_cal = cam_file(dir, "standard.nc", {20}, "days since 2000-01-01", "standard");
  e = error_of([&] { Archive::open({a.string(), std_cal.string()}, channels("TMQ")); });
  EXPECT_NE(e.find("calendar standard differs from noleap"), std::string::npos) << e;
  e = error_of([&] { Archive::open({(dir / "missing.nc").string()}, channels("TMQ")); });
  EXPECT_EQ(e, (dir / "missing.nc").string() + ": no such file");
  e = error_of([&] { Archive::open({(dir / "*.nope").string()}, channels("TMQ")); });
  EXPECT_EQ(e, (dir / "*.nope").string() + ": no files match");
  std::ofstream(dir / "notes.nc") << "not netcdf";
  e = error_of([&] { Archive::open({(dir / "notes.nc").string()}, channels("TMQ")); });
  EXPECT_NE(e.find("not a NetCDF or HDF5 file"), std::string::npos) << e;
}

TEST(Archive, PackingFillMissingValidRangeAndUnsigned) {
  TempDir dir;
  fs::path p = dir / "packed.nc";
  // Row-major (lat 2, lon 4): raw shorts; scale 0.5, offset 100.
  NcBuilder(p, 0)
      .dim("lat", 2)
      .dim("lon", 4)
      .var("lat", NC_FLOAT, {"lat"}, {-45, 45})
      .att("lat", "units", "degrees_north")
      .var("lon", NC_FLOAT, {"lon"}, {0, 90, 180, 270})
      .att("lon", "units", "degrees_east")
      .var("P", NC_SHORT, {"lat", "lon"}, {0, 10, -32767, 20, 30, -1, 3000, 40})
      .att("P", "scale_factor", NC_DOUBLE, {0.5})
      .att("P", "add_offset", NC_DOUBLE, {100})
      .att("P", "_FillValue", NC_SHORT, {-32767})
      .att("P", "missing_value", NC_SHORT, {-1})
      .att("P", "valid_range", NC_SHORT, {0, 1000})
      .var("B", NC_BYTE, {"lat", "lon"}, {1, -1, -56, 0, 5, 6, 7, 8})
      .att("B", "_Unsigned", "true")
      .var("F", NC_FLOAT, {"lat", "lon"}, {1, 2, 3, 4, 5, 6, 7, 8})  // no _FillValue: default fill masked
      .write();
  Archive a = Archive::open({p.string()}, channels("P,B"));
  Sample s = a.load(0);
  const std::vector<float> p_expect = {100, 105, 0, 110, 115, 0, 0, 120};
  const std::vector<float> p_valid = {1, 1, 0, 1, 1, 0, 0, 1};  // fill, missing, above valid_range
  for (size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(s.data[static_cast<int64_t>(k)], p_expect[k]) << k;
    EXPECT_EQ(s.valid[static_cast<int64_t>(k)], p_valid[k]) << k;
  }
  // _Unsigned bytes: -1 → 255, -56 → 200.
  EXPECT_EQ(s.data[8 + 1], 255.0f);
  EXPECT_EQ(s.data[8 + 2], 200.0f);
  EXPECT_EQ(s.valid[8 + 1], 1.0f);
}

TEST(Archive, LevelsInPascalsOrHectopascalsAndTwoDimensionalFallback) {
  TempDir dir;
  for (const char* units : {"Pa", "hPa"}) {
    fs::path p = dir / (std::string("lev_") + units + ".nc");
    const double f = std::string(units) == "Pa" ? 100 : 1;
    std::vector<double> u;
    for (int l = 0; l < 3; ++l)
      for (size_t k = 0; k < kH * kW; ++k) u.push_back(l * 100 + double(k));
    NcBuilder(p)
        .dim("lev", 3)
        .dim("lat", kH)
        .dim("lon", kW)
        .var("lev", NC_DOUBLE, {"lev"}, {1000 * f, 850 * f, 500 * f})
        .att("lev", "units", units)
        .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, -67.5, 45))
        .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
        .var("U", NC_FLOAT, {"lev", "lat", "lon"}, u)
        .var("V850", NC_FLOAT, {"lat", "lon"}, std::vector<double>(kH * kW, 7.0))
        .write();
    Sample s = Archive::open({p.string()}, channels("U@850,V@850")).load(0);
    EXPECT_EQ(s.channels, (std::vector<std::string>{"U850", "V850"}));
    EXPECT_EQ(s.data[5], 105.0f) << units;
    EXPECT_EQ(s.data[int64_t(kH * kW) + 5], 7.0f) << units;
    std::string e = error_of([&] { Archive::open({p.string()}, channels("U@700")); });
    EXPECT_NE(e.find("variable 'U' has no level 700"), std::string::npos) << e;
    Field3D f3 = Archive::open({p.string()}, channels("V@850")).load_field(0, "U");
    EXPECT_EQ(f3.data.shape(), (climseg::Shape{3, int64_t(kH), int64_t(kW)}));
    EXPECT_EQ(f3.level_pa, (std::vector<double>{100000, 85000, 50000}));
    EXPECT_EQ(f3.data[2 * int64_t(kH * kW) + 1], 201.0f);
    EXPECT_FALSE(f3.hybrid());
  }
}

TEST(Archive, HybridCoefficientsComeWithThreeDimensionalFields) {
  TempDir dir;
  fs::path p = dir / "cam_hybrid.nc";
  NcBuilder(p)
      .dim("time", 0)
      .dim("lev", 2)
      .dim("lat", kH)
      .dim("lon", kW)
      .var("time", NC_DOUBLE, {"time"}, {0})
      .att("time", "units", "days since 1850-01-01")
      .var("lev", NC_DOUBLE, {"lev"}, {500, 900})
      .att("lev", "units", "level")
      .att("lev", "positive", "down")
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, -67.5, 45))
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
      .var("hyam", NC_DOUBLE, {"lev"}, {0.4, 0.1})
      .var("hybm", NC_DOUBLE, {"lev"}, {0.1, 0.8})
      .var("P0", NC_DOUBLE, {}, {100000})
      .var("PS", NC_FLOAT, {"time", "lat", "lon"}, std::vector<double>(kH * kW, 98000))
      .att("PS", "units", "Pa")
      .var("Q", NC_FLOAT, {"time", "lev", "lat", "lon"}, std::vector<double>(2 * kH * kW, 0.01))
      .write();
  Archive a = Archive::open({p.string()}, channels("PS"));
  Field3D q = a.load_field(0, "Q");
  ASSERT_TRUE(q.hybrid());
  EXPECT_EQ(q.hyam, (std::vector<double>{0.4, 0.1}));
  EXPECT_EQ(q.p0, 100000.0);
  EXPECT_EQ(q.ps[0], 98000.0f);
  EXPECT_TRUE(q.level_pa.empty());  // "level" is not a pressure unit
}

TEST(Archive, AllFillFieldsMaskSkipOrFail) {
  TempDir dir;
  fs::path p = dir / "holes.nc";
  std::vector<double> v;
  for (int t = 0; t < 3; ++t)
    for (size_t k = 0; k < kH * kW; ++k) v.push_back(t == 1 ? -9999 : double(k));
  NcBuilder(p)
      .dim("time", 0)
      .dim("lat", kH)
      .dim("lon", kW)
      .var("time", NC_INT, {"time"}, {0, 6, 12})
      .att("time", "units", "hours since 2001-01-01")
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, -67.5, 45))
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
      .var("T", NC_FLOAT, {"time", "lat", "lon"}, v)
      .att("T", "_FillValue", NC_FLOAT, {-9999})
      .write();
  ArchiveOptions o = channels("T");
  Sample masked = Archive::open({p.string()}, o).load(1);
  EXPECT_FALSE(masked.skip);
  EXPECT_EQ(masked.empty_channels, std::vector<std::string>{"T"});
  for (float x : masked.valid) EXPECT_EQ(x, 0.0f);
  for (float x : masked.data) EXPECT_EQ(x, 0.0f);

  o.all_fill = FillPolicy::skip;
  Archive skipping = Archive::open({p.string()}, o);
  EXPECT_TRUE(skipping.load(1).skip);
  Prefetcher pf(skipping, {0, 1, 2});
  std::vector<int64_t> got;
  while (auto s = pf.next()) got.push_back(s->index);
  EXPECT_EQ(got, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(pf.skipped(), 1);

  o.all_fill = FillPolicy::error;
  std::string e = error_of([&] { Archive::open({p.string()}, o).load(1); });
  EXPECT_EQ(e, p.string() + ": variable T (channel T) at 2001-01-01T06:00:00 is entirely fill values");
}

TEST(Archive, PrefetcherKeepsOrderAndPassesErrorsOn) {
  TempDir dir;
  cam_file(dir, "a.nc", {0, 1, 2, 3, 4, 5, 6, 7});
  Archive a = Archive::open({dir.path().string()}, channels("TMQ"));
  std::vector<int64_t> order = {7, 0, 3, 3, 5};
  Prefetcher pf(a, order, 2);
  for (int64_t i : order) {
    auto s = pf.next();
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->index, i);
    EXPECT_EQ(s->data[0], 1000.0f * float(i));
  }
  EXPECT_FALSE(pf.next().has_value());
  Prefetcher bad(a, {1, 99}, 1);
  EXPECT_TRUE(bad.next().has_value());
  EXPECT_THROW(bad.next(), climseg::Error);
  { Prefetcher abandoned(a, {0, 1, 2, 3, 4, 5, 6, 7}, 1); }  // destroyed while loading: no hang
}

// Background reading and writing by default only where they have cores of their own: this
// process's share of the node (online cores / ranks on the node, within its mask) above its compute
// threads. on and off are what they say.
TEST(Overlap, AutomaticOnlyWithCoresBeyondTheComputeThreads) {
  const char* saved = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const std::string old = saved ? saved : "";
  const int threads = climseg::num_threads();
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "1", 1);
  const int share = climseg::core_share();
  EXPECT_EQ(share, climseg::threads_for(climseg::available_cores(), climseg::online_cores(), 1));
  climseg::set_num_threads(share);  // compute fills the share: no spare core
  EXPECT_FALSE(climseg::io::spare_io_cores());
  EXPECT_FALSE(climseg::io::background_io(climseg::io::Overlap::automatic));
  EXPECT_TRUE(climseg::io::background_io(climseg::io::Overlap::on));
  EXPECT_FALSE(climseg::io::background_io(climseg::io::Overlap::off));
  if (share > 1) {
    climseg::set_num_threads(share - 1);  // one core left for reading and writing
    EXPECT_TRUE(climseg::io::background_io(climseg::io::Overlap::automatic));
  }
  // As many ranks on the node as cores: each rank's share is one core, taken by its one thread.
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", std::to_string(climseg::online_cores()).c_str(), 1);
  climseg::set_num_threads(1);
  EXPECT_FALSE(climseg::io::background_io(climseg::io::Overlap::automatic));
  if (saved)
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", old.c_str(), 1);
  else
    unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  climseg::set_num_threads(threads);
}

// Work on a background thread (the write-behind's tasks, the prefetcher's loads) runs OpenMP teams
// of the cores compute leaves, at least 1, not OpenMP's process default (every core): with compute
// taking the whole share, a background decode's team of every core spun against the compute
// threads (and, oversubscribed, against other ranks: a 0.6 s 4-rank training test took 15 s).
TEST(Overlap, BackgroundThreadsTakeOnlyTheCoresComputeLeaves) {
  const int threads = climseg::num_threads();
  for (int compute : {climseg::core_share(), 1}) {
    climseg::set_num_threads(compute);
    const int want = std::max(1, climseg::core_share() - compute);
    EXPECT_EQ(climseg::background_threads(), want);
    int max_threads = 0, team = 0;
    {
      climseg::io::WriteBehind writes(true);
      writes.post([&] {
        max_threads = omp_get_max_threads();
#pragma omp parallel
#pragma omp single
        team = omp_get_num_threads();
      });
      writes.finish();
    }
    EXPECT_EQ(max_threads, want) << "compute on " << compute << " of " << climseg::core_share() << " cores";
    EXPECT_EQ(team, want);
    int loader = 0;
    std::thread t = climseg::background_thread([&] { loader = omp_get_max_threads(); });
    t.join();
    EXPECT_EQ(loader, want);
  }
  climseg::set_num_threads(threads);
}

TEST(Archive, SiblingFilesAndLabelsAndTheFirstTimeStepsFields) {
  TempDir dir;
  for (const char* var : {"TMQ", "PSL", "LABELS"}) {
    NcBuilder(dir / (std::string(var) + ".nc"))
        .dim("time", 0)
        .dim("lat", kH)
        .dim("lon", kW)
        .var("time", NC_DOUBLE, {"time"}, {0, 3})
        .att("time", "units", "hours since 2010-06-01")
        .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, -67.5, 45))
        .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
        .var(var, std::string(var) == "LABELS" ? NC_BYTE : NC_FLOAT, {"time", "lat", "lon"},
             std::vector<double>(2 * kH * kW, std::string(var) == "LABELS" ? 2 : 1))
        .write();
  }
  ArchiveOptions o;
  o.labels = "auto";
  Archive a = Archive::open({dir.path().string()}, o);
  EXPECT_EQ(a.size(), 2);
  EXPECT_EQ(a.channel_names(), (std::vector<std::string>{"PSL", "TMQ"}));  // every field, LABELS apart
  ASSERT_TRUE(a.has_labels());
  Sample s = a.load(1);
  EXPECT_EQ(s.labels.numel(), int64_t(kH * kW));
  EXPECT_EQ(s.labels[3], 2.0f);
  o.labels = "MISSING_LABELS";
  std::string e = error_of([&] { Archive::open({dir.path().string()}, o); });
  EXPECT_NE(e.find("unknown variable 'MISSING_LABELS' (available: LABELS, PSL, TMQ)"), std::string::npos) << e;
}

TEST(Archive, DeepCamHdf5LayoutChannelLastWithLabels) {
  TempDir dir;
  const hsize_t H = 6, W = 8, C = 16;
  fs::path p = dir / "data-2106-05-05-01-1.h5";
  {
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "climate", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<float> data(H * W * C);
    for (hsize_t i = 0; i < H; ++i)
      for (hsize_t j = 0; j < W; ++j)
        for (hsize_t c = 0; c < C; ++c) data[(i * W + j) * C + c] = float(c * 1000 + i * 10 + j);
    hsize_t dims3[3] = {H, W, C}, dims2[2] = {H, W};
    hid_t s3 = H5Screate_simple(3, dims3, nullptr);
    hid_t d = H5Dcreate2(g, "data", H5T_IEEE_F32LE, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
    std::vector<int32_t> labels(H * W, 0);
    labels[3 * W + 4] = 1;
    labels[5 * W + 7] = 2;
    hid_t s2 = H5Screate_simple(2, dims2, nullptr);
    hid_t l = H5Dcreate2(g, "labels_0", H5T_STD_I32LE, s2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(l, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data());
    H5Dclose(l);
    H5Sclose(s2);
    H5Dclose(d);
    H5Sclose(s3);
    H5Gclose(g);
    H5Fclose(f);
  }
  ArchiveOptions o = channels("TMQ,U@850,PSL,ZBOT");
  o.labels = "auto";
  Archive a = Archive::open({p.string()}, o);
  ASSERT_EQ(a.size(), 1);
  EXPECT_EQ(a.grid().shape_str(), "6x8");
  EXPECT_DOUBLE_EQ(a.grid().lat.front(), -90.0);
  EXPECT_TRUE(a.grid().periodic);
  Sample s = a.load(0);
  EXPECT_EQ(s.channels, (std::vector<std::string>{"TMQ", "U850", "PSL", "ZBOT"}));
  // Channel k of the channel-last block: TMQ 0, U850 1, PSL 7, ZBOT 15.
  EXPECT_EQ(s.data[2 * int64_t(W) + 3], 23.0f);
  EXPECT_EQ(s.data[int64_t(H * W) + 2 * int64_t(W) + 3], 1023.0f);
  EXPECT_EQ(s.data[2 * int64_t(H * W) + 5], 7005.0f);
  EXPECT_EQ(s.data[3 * int64_t(H * W) + int64_t(H * W) - 1], 15057.0f);
  ASSERT_TRUE(a.has_labels());
  EXPECT_EQ(s.labels[3 * int64_t(W) + 4], 1.0f);
  EXPECT_EQ(s.labels[5 * int64_t(W) + 7], 2.0f);
  EXPECT_EQ(s.labels[0], 0.0f);
  // What inspect says about it.
  nlohmann::json d = describe_semantic(scan_file(p.string()));
  EXPECT_EQ(d["deepcam"], true);
  EXPECT_EQ(d["grid"]["shape"], nlohmann::json({6, 8}));
  EXPECT_EQ(d["grid"]["extent"], "global");
  EXPECT_EQ(d["labels"], "climate/labels_0");
  EXPECT_EQ(d["channels"].size(), 17u);
  EXPECT_EQ(d["channels"][1]["spec"], "U850");
  EXPECT_TRUE(d["time"].is_null());
}

TEST(Archive, TruncatedFilesAreRefusedByName) {
  TempDir dir;
  auto p = cam_file(dir, "whole.nc", {0, 1, 2});
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir / "cut.nc", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string e = error_of([&] { Archive::open({(dir / "cut.nc").string()}, channels("TMQ")).load(2); });
  EXPECT_EQ(e.rfind((dir / "cut.nc").string() + ": ", 0), 0u) << e;
  EXPECT_NE(e.find("truncated or damaged"), std::string::npos) << e;
}

// A file in -180..180 inclusive (the first meridian repeated) reads as the global grid with each
// column once, through the library and through direct chunk reads, in netCDF-4 and netCDF-3.
TEST(Archive, RepeatedMeridianReadsOnce) {
  TempDir dir;
  const size_t H = 3, W = 4;  // file: 5 columns, -180 -90 0 90 180
  for (const int format : {NC_NETCDF4, 0}) {
    std::vector<double> v;
    for (size_t i = 0; i < H; ++i)
      for (size_t j = 0; j <= W; ++j) v.push_back(j == W ? 10.0 * double(i) : 10.0 * double(i) + double(j));
    v[2 * (W + 1)] = -999;  // one missing cell, repeated at the row's end
    v[2 * (W + 1) + W] = -999;
    const fs::path p = dir / (format ? "nc4.nc" : "nc3.nc");
    NcBuilder(p, format)
        .dim("lat", H)
        .dim("lon", W + 1)
        .var("lat", NC_DOUBLE, {"lat"}, {-30, 0, 30})
        .att("lat", "units", "degrees_north")
        .var("lon", NC_DOUBLE, {"lon"}, {-180, -90, 0, 90, 180})
        .att("lon", "units", "degrees_east")
        .var("T", NC_FLOAT, {"lat", "lon"}, v)
        .att("T", "_FillValue", NC_FLOAT, {-999})
        .write();
    for (const bool direct : {true, false}) {
      ArchiveOptions o = channels("T");
      o.direct_read = direct;
      Archive a = Archive::open({p.string()}, o);
      EXPECT_TRUE(a.grid().periodic);
      EXPECT_EQ(a.grid().lon, (std::vector<double>{0, 90, 180, 270}));
      Sample s = a.load(0);
      // Canonical column j is file column (j + 2) % 4.
      EXPECT_EQ(s.data[0 * W + 0], 2.0f);
      EXPECT_EQ(s.data[1 * W + 2], 10.0f);
      ASSERT_EQ(s.valid.numel(), int64_t(H * W));
      float invalid = 0;
      for (int64_t k = 0; k < s.valid.numel(); ++k) invalid += 1.0f - s.valid[k];
      EXPECT_EQ(invalid, 1.0f) << "the missing cell counts once (direct " << direct << ")";
      EXPECT_EQ(s.valid[2 * W + 2], 0.0f);
    }
  }
}

TEST(Archive, DirectChunkReadsEqualLibraryReads) {
  // Layouts the direct path handles (netCDF-4 contiguous, chunked with edge chunks, deflate with and
  // without shuffle, several planes per chunk, levels; netCDF-3 classic, 64-bit offset and CDF5 with
  // and without records): the values must be bit for bit those of nc_get_vara.
  TempDir dir;
  const size_t T = 3, L = 2, H = 7, W = 10;
  std::vector<double> v;
  for (size_t t = 0; t < T; ++t)
    for (size_t l = 0; l < L; ++l)
      for (size_t i = 0; i < H; ++i)
        for (size_t j = 0; j < W; ++j)
          v.push_back((t == 1 && i == 3 && j == 4) ? -1e30 : 100.0 * t + 10.0 * l + std::sin(double(i * W + j)));
  struct Layout {
    const char* name;
    int format;
    std::vector<size_t> chunks;
    int deflate;
    bool shuffle;
    bool unlimited;
  };
  // netCDF-3 files too: big-endian runs at offsets from the header, records interleaved with V's.
  const std::vector<Layout> layouts = {{"contiguous", NC_NETCDF4, {}, 0, false, false},
                                       {"chunked_edges", NC_NETCDF4, {1, 1, 3, 4}, 0, false, false},
                                       {"deflate", NC_NETCDF4, {1, 1, H, W}, 4, false, true},
                                       {"deflate_shuffle_edges", NC_NETCDF4, {2, 2, 4, 6}, 1, true, false},
                                       {"shuffle_only", NC_NETCDF4, {1, 2, H, W}, 0, true, false},
                                       {"classic_records", 0, {}, 0, false, true},
                                       {"offset64_fixed", NC_64BIT_OFFSET, {}, 0, false, false},
                                       {"cdf5_records", NC_64BIT_DATA, {}, 0, false, true}};
  for (const Layout& layout : layouts) {
    fs::path p = dir / (std::string(layout.name) + ".nc");
    NcBuilder b(p, layout.format);
    b.dim("time", layout.unlimited ? 0 : T)
        .dim("lev", L)
        .dim("lat", H)
        .dim("lon", W)
        .var("time", NC_DOUBLE, {"time"}, {0, 1, 2})
        .att("time", "units", "days since 2000-01-01")
        .var("lev", NC_DOUBLE, {"lev"}, {850, 500})
        .att("lev", "units", "hPa")
        .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(H, 60, -20))  // north first
        .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(W, -180, 36))
        .var("U", NC_FLOAT, {"time", "lev", "lat", "lon"}, v)
        .att("U", "_FillValue", NC_FLOAT, {-1e30})
        .att("U", "scale_factor", NC_FLOAT, {2.0})
        .var("V", NC_SHORT, {"time", "lat", "lon"}, std::vector<double>(T * H * W, 3));
    if (layout.format == NC_NETCDF4) b.storage("U", layout.chunks, layout.deflate, layout.shuffle);
    b.write();
    for (int64_t t = 0; t < int64_t(T); ++t) {
      ArchiveOptions direct = channels("U@850,U5=U@500"), library = direct;
      library.direct_read = false;
      Sample a = Archive::open({p.string()}, direct).load(t), c = Archive::open({p.string()}, library).load(t);
      ASSERT_EQ(a.data.numel(), c.data.numel());
      for (int64_t k = 0; k < a.data.numel(); ++k)
        ASSERT_EQ(a.data[k], c.data[k]) << layout.name << " t=" << t << " k=" << k;
      ASSERT_EQ(a.valid.numel(), c.valid.numel()) << layout.name;
      for (int64_t k = 0; k < a.valid.numel(); ++k) ASSERT_EQ(a.valid[k], c.valid[k]) << layout.name;
      // canonical row H-1-3 is file row 3; column (4 + 5) % 10 holds file column 4 (lon -36 → 324).
      EXPECT_EQ(a.valid.numel() > 0, t == 1) << layout.name;
      if (t == 1) {
        EXPECT_EQ(a.valid[int64_t((H - 1 - 3) * W + 9)], 0.0f) << layout.name;
      }
      EXPECT_FLOAT_EQ(a.data[int64_t(H * W) + 0],
                      float(2 * (100.0 * double(t) + 10 + std::sin(double((H - 1) * W + 5)))));
    }
    // The plan really is direct for these layouts.
    FileMeta m = scan_file(p.string());
    FieldReader r(p.string());
    DirectPlan plan;
    Unpacking u;
    EXPECT_TRUE(r.plan_direct(m, *m.find_var("U"), 2, 1, plan, u)) << layout.name;
    EXPECT_EQ(u.scale, 2.0);
  }
}

// Whether the last page of [addr, addr + bytes) of an open file is in the page cache.
bool last_page_cached(int fd, uint64_t addr, uint64_t bytes) {
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t at = (addr + bytes - 1) / page * page;
  void* m = mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(at));
  if (m == MAP_FAILED) return false;
  unsigned char v = 0;
  const bool ok = mincore(m, page, &v) == 0;
  munmap(m, page);
  return ok && (v & 1) != 0;
}

// Loading a step asks the kernel for the next step's stored bytes of the same channels (and this
// step's, all at once), so an archive that is not in the page cache is read while the step is used.
// A file of three 2 MB uncompressed chunks is dropped from the page cache; after load(0), the end
// of step 1's chunk (beyond any readahead of step 0's reads: 2 MB on) arrives within 2 s.
TEST(Archive, LoadingAStepStartsReadingTheNextOne) {
  TempDir dir;
  const size_t T = 3, H = 512, W = 1024;
  std::vector<double> v(T * H * W);
  for (size_t k = 0; k < v.size(); ++k) v[k] = std::sin(0.001 * double(k));
  const fs::path p = dir / "cold.nc";
  NcBuilder b(p, NC_NETCDF4);
  b.dim("time", T)
      .dim("lat", H)
      .dim("lon", W)
      .var("time", NC_DOUBLE, {"time"}, {0, 1, 2})
      .att("time", "units", "days since 2000-01-01")
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(H, -89.8, 180.0 / H))
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(W, 0, 360.0 / W))
      .var("U", NC_FLOAT, {"time", "lat", "lon"}, v)
      .storage("U", {1, H, W}, 0, false);
  b.write();
  FileMeta m = scan_file(p.string());
  DirectPlan step1;
  Unpacking u;
  ASSERT_TRUE(FieldReader(p.string()).plan_direct(m, *m.find_var("U"), 1, 0, step1, u));
  ASSERT_EQ(step1.pieces.size(), 1u);
  const uint64_t addr = step1.pieces[0].addr, bytes = step1.pieces[0].bytes;
  ASSERT_EQ(bytes, H * W * 4);
  const int fd = ::open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ::fdatasync(fd);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (last_page_cached(fd, addr, bytes)) {
    ::close(fd);
    GTEST_SKIP() << "this file system keeps " << p << " in memory (tmpfs?): nothing to read ahead";
  }
  Archive a = Archive::open({p.string()}, channels("U"));
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // what opening read
  ASSERT_FALSE(last_page_cached(fd, addr, bytes));
  Sample s = a.load(0);
  EXPECT_FLOAT_EQ(s.data[int64_t(W) + 1], float(std::sin(0.001 * double(W + 1))));  // south first, as stored
  bool cached = false;
  for (int i = 0; i < 200 && !cached; ++i) {
    cached = last_page_cached(fd, addr, bytes);
    if (!cached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
  EXPECT_TRUE(cached) << "step 1's chunk was not read ahead";
}

TEST(Archive, LevelNotOnTheThreeDimensionalFieldFallsBackToTheTwoDimensionalOne) {
  // CAM h2-like: U on two hybrid-ish levels and U850 as its own 2-D field.
  TempDir dir;
  fs::path p = dir / "h2.nc";
  std::vector<double> u(2 * kH * kW);
  for (size_t k = 0; k < u.size(); ++k) u[k] = k < kH * kW ? 5.0 : 2.0;
  NcBuilder(p)
      .dim("lev", 2)
      .dim("lat", kH)
      .dim("lon", kW)
      .var("lev", NC_DOUBLE, {"lev"}, {500, 200})
      .att("lev", "units", "hPa")
      .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, -67.5, 45))
      .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 45))
      .var("U", NC_FLOAT, {"lev", "lat", "lon"}, u)
      .var("U850", NC_FLOAT, {"lat", "lon"}, std::vector<double>(kH * kW, 8.5))
      .write();
  Sample s = Archive::open({p.string()}, channels("U@850,U@500,U@200")).load(0);
  EXPECT_EQ(s.data[0], 8.5f);
  EXPECT_EQ(s.data[int64_t(kH * kW)], 5.0f);
  EXPECT_EQ(s.data[2 * int64_t(kH * kW)], 2.0f);
  std::string e = error_of([&] { Archive::open({p.string()}, channels("U@700")); });
  EXPECT_NE(e.find("variable 'U' has no level 700 (levels: 500, 200 hPa)"), std::string::npos) << e;
}

TEST(Archive, LoadIntoReusesBuffersAndPrefetcherRecycles) {
  TempDir dir;
  cam_file(dir, "a.nc", {0, 1, 2, 3});
  Archive a = Archive::open({dir.path().string()}, channels("TMQ"));
  Sample s = a.load(0);
  const float* before = s.data.data();
  a.load_into(2, s);
  EXPECT_EQ(s.data.data(), before);  // same storage
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.data[0], 2000.0f);
  Prefetcher pf(a, {0, 1, 2, 3}, 1);
  std::set<const float*> buffers;
  int64_t expect = 0;
  while (auto x = pf.next()) {
    EXPECT_EQ(x->data[0], 1000.0f * float(expect++));
    buffers.insert(x->data.data());
    pf.recycle(std::move(*x));
  }
  EXPECT_EQ(expect, 4);
  EXPECT_LE(buffers.size(), 3u);  // depth 1: at most a few buffers in circulation
}

// CF coordinate discovery: latitude, longitude, time and levels found by standard_name alone, by axis
// alone, by units alone, and by the names y/x, which count only with degree units (a projection's
// y/x in metres is not a latitude-longitude grid). Field values 100*level + 10*row + column in file
// order; the latitudes run north to south so the canonical grid is flipped.
TEST(CfDiscovery, CoordinatesByStandardNameAxisUnitsAndYXNames) {
  TempDir dir;
  using Atts = std::vector<std::pair<std::string, std::string>>;
  struct Case {
    const char* what;
    const char* lat;
    Atts lat_atts;
    const char* lon;
    Atts lon_atts;
    const char* time;
    Atts time_atts;
    const char* lev;
    Atts lev_atts;
    const char* refusal;  // "" when the grid must be found
  };
  const Case cases[] = {
      {"standard_name only",
       "phi",
       {{"standard_name", "latitude"}},
       "lam",
       {{"standard_name", "longitude"}},
       "when",
       {{"standard_name", "time"}, {"units", "hours since 2000-01-01"}},
       "pp",
       {{"standard_name", "air_pressure"}, {"units", "Pa"}},
       ""},
      {"axis only",
       "yc",
       {{"axis", "Y"}},
       "xc",
       {{"axis", "X"}},
       "rec",
       {{"axis", "T"}, {"units", "hours since 2000-01-01"}},
       "kk",
       {{"axis", "Z"}, {"units", "hPa"}},
       ""},
      {"units only",
       "aa",
       {{"units", "degrees_north"}},
       "bb",
       {{"units", "degrees_east"}},
       "tt",
       {{"units", "hours since 2000-01-01"}},
       "qq",
       {{"units", "mbar"}},
       ""},
      {"y/x in degrees",
       "y",
       {{"units", "degrees"}},
       "x",
       {{"units", "degrees"}},
       "time",
       {{"units", "hours since 2000-01-01"}},
       "lev",
       {{"units", "hPa"}},
       ""},
      {"y/x in metres",
       "y",
       {{"units", "m"}},
       "x",
       {{"units", "m"}},
       "time",
       {{"units", "hours since 2000-01-01"}},
       "lev",
       {{"units", "hPa"}},
       "no latitude/longitude coordinates"},
      {"y/x without units",
       "y",
       {},
       "x",
       {},
       "time",
       {{"units", "hours since 2000-01-01"}},
       "lev",
       {{"units", "hPa"}},
       "no latitude/longitude coordinates"},
      {"axis Y/X in metres",
       "yc",
       {{"axis", "Y"}, {"units", "m"}},
       "xc",
       {{"axis", "X"}, {"units", "m"}},
       "time",
       {{"units", "hours since 2000-01-01"}},
       "lev",
       {{"units", "hPa"}},
       "no latitude/longitude coordinates"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const fs::path p = dir / (std::string(c.lat) + "_" + c.lon + "_" + std::to_string(&c - cases) + ".nc");
    std::vector<double> u;
    for (int l = 0; l < 2; ++l)
      for (size_t i = 0; i < kH; ++i)
        for (size_t j = 0; j < kW; ++j) u.push_back(100.0 * l + 10.0 * double(i) + double(j));
    const double pa = std::string(c.what) == "standard_name only" ? 100 : 1;
    NcBuilder b(p);
    b.dim(c.time, 0).dim(c.lev, 2).dim(c.lat, kH).dim(c.lon, kW);
    b.var(c.time, NC_DOUBLE, {c.time}, {6.0});
    b.var(c.lev, NC_DOUBLE, {c.lev}, {850 * pa, 500 * pa});
    b.var(c.lat, NC_DOUBLE, {c.lat}, NcBuilder::lats(kH, 67.5, -45));
    b.var(c.lon, NC_DOUBLE, {c.lon}, NcBuilder::lons(kW, 0, 45));
    for (const auto& [var, atts] : {std::pair{c.lat, c.lat_atts}, std::pair{c.lon, c.lon_atts},
                                    std::pair{c.time, c.time_atts}, std::pair{c.lev, c.lev_atts}})
      for (const auto& [k, v] : atts) b.att(var, k, v);
    b.var("U", NC_FLOAT, {c.time, c.lev, c.lat, c.lon}, u);
    b.write();
    FileMeta m = scan_file(p.string());
    if (*c.refusal) {
      EXPECT_NE(m.grid_error.find(c.refusal), std::string::npos) << m.grid_error;
      std::string e = error_of([&] { Archive::open({p.string()}, channels("U@850")); });
      EXPECT_NE(e.find(c.refusal), std::string::npos) << e;
      continue;
    }
    EXPECT_EQ(m.grid_error, "");
    EXPECT_EQ(m.lat_name, c.lat);
    EXPECT_EQ(m.lon_name, c.lon);
    EXPECT_EQ(m.time_dim, c.time);
    EXPECT_TRUE(m.time_decoded);
    ASSERT_EQ(m.levels.size(), 1u);
    EXPECT_EQ(m.levels[0].name, c.lev);
    EXPECT_TRUE(m.levels[0].is_pressure());
    EXPECT_TRUE(m.orientation.lat_descending);
    Archive a = Archive::open({p.string()}, channels("U@850,U@500"));
    Sample s = a.load(0);
    EXPECT_EQ(s.time_iso, "2000-01-01T06:00:00");
    EXPECT_DOUBLE_EQ(s.grid.lat.front(), -67.5);
    EXPECT_DOUBLE_EQ(s.grid.lat.back(), 67.5);
    // Canonical row 0 is file row 3: U850 there is 10*3 + j, U500 is 100 + 10*3 + j.
    EXPECT_EQ(s.data[2], 32.0f);
    EXPECT_EQ(s.data[int64_t(kH * kW) + 2], 132.0f);
    EXPECT_EQ(s.data[3 * int64_t(kW) + 5], 5.0f);
  }
}

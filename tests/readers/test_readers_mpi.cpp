// Readers under MPI (run with 2 and 4 ranks): the sample partition covers every sample once, the
// metadata scan and the sample reads touch only each rank's files, stats equal the serial ones,
// latitude bands read collectively equal the serial field.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "core/error.hpp"
#include "core/mpi.hpp"
#include "nc_builder.hpp"
#include "readers/archive.hpp"
#include "readers/parallel_read.hpp"
#include "readers/partition.hpp"
#include "readers/prefetch.hpp"
#include "readers/stats.hpp"
#include "shared_dir.hpp"
#include "test_support.hpp"

using namespace climseg;
using namespace climseg::io;
using climseg::test::NcBuilder;
namespace fs = std::filesystem;

namespace {

constexpr size_t kH = 9, kW = 12, kSteps = 3, kFiles = 7;

// kFiles files of kSteps 6-hourly steps, one archive of 21 samples; rank 0 writes, all wait.
// TMQ has fill in one cell per step; PSL is packed as shorts; latitude is stored north first.
std::vector<std::string> write_archive(const fs::path& dir, int format = NC_NETCDF4) {
  std::vector<std::string> files;
  for (size_t f = 0; f < kFiles; ++f) files.push_back((dir / ("h2." + std::to_string(f) + ".nc")).string());
  if (Comm::world().is_root()) {
    for (size_t f = 0; f < kFiles; ++f) {
      std::vector<double> times, tmq, psl;
      for (size_t t = 0; t < kSteps; ++t) {
        times.push_back(0.25 * double(f * kSteps + t));
        for (size_t i = 0; i < kH; ++i)
          for (size_t j = 0; j < kW; ++j) {
            double v = 20 + 10 * std::sin(0.3 * double(i) + 0.7 * double(j) + double(f * kSteps + t));
            tmq.push_back(i == 2 && j == t ? -999.0 : v);
            psl.push_back(std::round((101000 + 500 * std::cos(0.2 * double(i * j + t + f)) - 100000) / 0.5));
          }
      }
      NcBuilder(files[f], format)
          .dim("time", 0)
          .dim("lat", kH)
          .dim("lon", kW)
          .var("time", NC_DOUBLE, {"time"}, times)
          .att("time", "units", "days since 1980-01-01 00:00:00")
          .att("time", "calendar", "noleap")
          .var("lat", NC_DOUBLE, {"lat"}, NcBuilder::lats(kH, 80, -20))
          .att("lat", "units", "degrees_north")
          .var("lon", NC_DOUBLE, {"lon"}, NcBuilder::lons(kW, 0, 30))
          .att("lon", "units", "degrees_east")
          .var("TMQ", NC_FLOAT, {"time", "lat", "lon"}, tmq)
          .att("TMQ", "_FillValue", NC_FLOAT, {-999})
          .var("PSL", NC_SHORT, {"time", "lat", "lon"}, psl)
          .att("PSL", "scale_factor", NC_DOUBLE, {0.5})
          .att("PSL", "add_offset", NC_DOUBLE, {100000})
          .write();
    }
  }
  Comm::world().barrier();
  return files;
}

ArchiveOptions options(Comm comm) {
  ArchiveOptions o;
  o.channels = parse_channels("TMQ,PSL");
  o.comm = comm;
  return o;
}

}  // namespace

TEST(ReadersMpi, PartitionCoversEverySampleExactlyOnce) {
  test::SharedDir dir(Comm::world());
  auto files = write_archive(dir.path);
  Comm w = Comm::world();
  Archive a = Archive::open(files, options(w));
  ASSERT_EQ(a.size(), int64_t(kFiles * kSteps));
  Block b = block_partition(a.size(), w.rank(), w.size());
  std::string mine;
  for (int64_t i = b.begin; i < b.end; ++i) mine += std::to_string(a.load(i).index) + " ";
  std::multiset<int64_t> seen;
  for (const std::string& part : w.allgather(mine)) {
    std::stringstream ss(part);
    int64_t i = 0;
    while (ss >> i) seen.insert(i);
  }
  ASSERT_EQ(seen.size(), size_t(a.size()));
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  // The first 21 mod P ranks take one more.
  EXPECT_EQ(b.size(), a.size() / w.size() + (w.rank() < a.size() % w.size() ? 1 : 0));
}

TEST(ReadersMpi, EachRankScansAboutNOverPFilesAndOpensOnlyItsOwn) {
  test::SharedDir dir(Comm::world());
  auto files = write_archive(dir.path);
  Comm w = Comm::world();
  Archive a = Archive::open(files, options(w));
  EXPECT_EQ(a.files_scanned(), block_partition(kFiles, w.rank(), w.size()).size());
  EXPECT_EQ(w.sum(a.files_scanned()), int64_t(kFiles));
  Block b = block_partition(a.size(), w.rank(), w.size());
  std::set<std::string> expected;
  std::vector<int64_t> mine(static_cast<size_t>(b.size()));
  std::iota(mine.begin(), mine.end(), b.begin);
  for (int64_t i : mine) expected.insert(a.info(i).file);
  Prefetcher loader(a, mine);
  int64_t n = 0;
  while (auto s = loader.next()) ++n;
  EXPECT_EQ(n, b.size());
  auto opened = a.files_opened();
  EXPECT_EQ(std::set<std::string>(opened.begin(), opened.end()), expected);
}

TEST(ReadersMpi, StatsOverRanksEqualSerialStats) {
  test::SharedDir dir(Comm::world());
  auto files = write_archive(dir.path);
  Comm w = Comm::world();
  // Serial: this rank alone reads everything.
  Archive serial = Archive::open(files, options(Comm::self()));
  StatsAccumulator ref(serial.channel_names(), serial.channel_units(), serial.grid().row_areas());
  for (int64_t i = 0; i < serial.size(); ++i) ref.add(serial.load(i));
  // Parallel: each rank its block, then the pairwise merge over ranks.
  Archive a = Archive::open(files, options(w));
  Block b = block_partition(a.size(), w.rank(), w.size());
  StatsAccumulator acc(a.channel_names(), a.channel_units(), a.grid().row_areas());
  for (int64_t i = b.begin; i < b.end; ++i) acc.add(a.load(i));
  acc.allreduce(w);
  ChannelStats s = ref.result(), p = acc.result();
  EXPECT_EQ(p.samples, int64_t(kFiles * kSteps));
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(p.channels[c].count, s.channels[c].count);
    EXPECT_EQ(p.channels[c].min, s.channels[c].min);
    EXPECT_EQ(p.channels[c].max, s.channels[c].max);
    EXPECT_NEAR(p.channels[c].mean, s.channels[c].mean, 1e-12 * std::abs(s.channels[c].mean));
    EXPECT_NEAR(p.channels[c].std, s.channels[c].std, 1e-10 * s.channels[c].std);
  }
  EXPECT_EQ(p.channels[0].count, int64_t(kFiles * kSteps * (kH * kW - 1)));  // one fill per step
}

TEST(ReadersMpi, LatitudeBandsReadCollectivelyEqualTheSerialField) {
  test::SharedDir dir(Comm::world());
  Comm w = Comm::world();
  for (int format : {NC_NETCDF4, NC_64BIT_OFFSET}) {
    auto files = write_archive(dir.path, format);
    Sample whole = Archive::open({files[3]}, options(Comm::self())).load(1);
    for (const char* channel : {"TMQ", "PSL"}) {
      const int64_t c = whole.channel_index(channel);
      LatBand band = read_lat_band(files[3], channel, 1, w);
      EXPECT_EQ(band.collective, format == NC_NETCDF4 && w.size() > 1);
      Block rows = block_partition(kH, w.rank(), w.size());
      ASSERT_EQ(band.row0, rows.begin);
      ASSERT_EQ(band.rows, rows.size());
      for (int64_t i = 0; i < band.rows; ++i)
        for (int64_t j = 0; j < int64_t(kW); ++j) {
          const int64_t k = (c * int64_t(kH) + band.row0 + i) * int64_t(kW) + j;
          ASSERT_EQ(band.data[i * int64_t(kW) + j], whole.data[k]) << channel << " row " << band.row0 + i;
          const float v = band.valid.numel() ? band.valid[i * int64_t(kW) + j] : 1.0f;
          ASSERT_EQ(v, whole.valid.numel() ? whole.valid[k] : 1.0f);
        }
      // Every row of the grid is in exactly one band.
      EXPECT_EQ(w.sum(band.rows), int64_t(kH));
    }
    w.barrier();
  }
}

TEST(ReadersMpi, ABadFileScannedByOneRankFailsEveryRankWithTheSameLine) {
  test::SharedDir dir(Comm::world());
  auto files = write_archive(dir.path);
  const std::string bad = (dir.path / "h2.9.nc").string();  // sorts last: scanned by the last rank
  if (Comm::world().is_root()) std::ofstream(bad) << "not a netcdf file";
  Comm::world().barrier();
  files.push_back(bad);
  std::string message;
  try {
    Archive::open(files, options(Comm::world()));
  } catch (const climseg::Error& e) {
    message = e.what();
  }
  EXPECT_EQ(message, bad + ": not a NetCDF or HDF5 file (unrecognised signature)");
  auto all = Comm::world().allgather(message);
  for (const std::string& m : all) EXPECT_EQ(m, message);
}

// The reader on every real file in ../shared/data/real: values checked against `ncdump` readings
// and hand computations, orientation made canonical, refusals with the right message.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/error.hpp"
#include "readers/archive.hpp"
#include "readers/cf_file.hpp"
#include "test_support.hpp"

using namespace climseg::io;
using climseg::test::real_file;

namespace {
ArchiveOptions channels(const std::string& list) {
  ArchiveOptions o;
  o.channels = parse_channels(list);
  return o;
}
float at(const Sample& s, int64_t c, int64_t i, int64_t j) {
  return s.data[(c * s.grid.height() + i) * s.grid.width() + j];
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const climseg::Error& e) {
    return e.what();
  }
  return "(no error)";
}
// Valid values of channel c over every sample of an archive: how many, and their mean (in double).
struct ChannelSummary {
  int64_t count = 0;
  double mean = 0.0;
};
ChannelSummary summary(const Archive& a, int64_t c) {
  ChannelSummary r;
  double sum = 0.0;
  for (int64_t n = 0; n < a.size(); ++n) {
    Sample s = a.load(n);
    const int64_t hw = s.grid.height() * s.grid.width();
    for (int64_t k = c * hw; k < (c + 1) * hw; ++k) {
      if (s.valid.numel() && s.valid[k] == 0.0f) continue;
      ++r.count;
      sum += s.data[k];
    }
  }
  r.mean = r.count ? sum / double(r.count) : 0.0;
  return r;
}
}  // namespace

TEST(RealFiles, Era5PackedSurfacePressureUnpackedAndFlipped) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto path = real_file("geocat_era5_1995-07-14T12.nc").string();
  Archive a = Archive::open({path}, channels("sp"));
  ASSERT_EQ(a.size(), 1);
  Sample s = a.load(0);
  EXPECT_EQ(s.time_iso, "1995-07-14T12:00:00");  // scalar time 837420 hours since 1900-01-01
  EXPECT_EQ(s.units, std::vector<std::string>{"Pa"});
  // Latitude 50..24 descending in the file, longitude -125..-66: canonical rows run 24..50 and
  // columns 235..294 (regional, not periodic).
  EXPECT_TRUE(s.orientation.lat_descending);
  EXPECT_TRUE(s.orientation.lon_signed);
  EXPECT_FALSE(s.grid.periodic);
  EXPECT_DOUBLE_EQ(s.grid.lat.front(), 24.0);
  EXPECT_DOUBLE_EQ(s.grid.lat.back(), 50.0);
  EXPECT_DOUBLE_EQ(s.grid.lon.front(), 235.0);
  EXPECT_DOUBLE_EQ(s.grid.lon.back(), 294.0);
  // ncdump: sp(0,0) = 29701, sp(52,118) = 24576, sp(104,236) = 29730; scale 0.554670929150199,
  // offset 85005.4101645354 → 101479.691, 98637.003, 101495.777 Pa. File row r is canonical 104 - r.
  EXPECT_NEAR(at(s, 0, 104, 0), 101479.69143, 0.01);
  EXPECT_NEAR(at(s, 0, 52, 118), 98637.00292, 0.01);
  EXPECT_NEAR(at(s, 0, 0, 236), 101495.77689, 0.01);
  EXPECT_EQ(s.valid.numel(), 0);  // no fill in sp
}

TEST(RealFiles, NcepUAt850hPaFromSeventeenLevels) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto path = real_file("geocat_NCEP_06_climo.nc").string();
  Archive a = Archive::open({path}, channels("U@850,PSL"));
  EXPECT_EQ(a.channel_names(), (std::vector<std::string>{"U850", "PSL"}));
  Sample s = a.load(0);
  // Gaussian latitudes -87.8638..87.8638 ascending already; lon 0..357.1875 (periodic).
  EXPECT_TRUE(s.grid.periodic);
  EXPECT_TRUE(s.orientation.identity());
  EXPECT_NEAR(s.grid.lat[0], -87.8638, 1e-4);
  // ncdump -f c: U(0,2,0,0) = -4.945847, U(0,2,40,64) = -5.255155, U(0,2,63,127) = 0.5254544
  // (level index 2 is 850 mb); PSL(0,40,64) = 1018.112 millibars.
  EXPECT_FLOAT_EQ(at(s, 0, 0, 0), -4.945847f);
  EXPECT_FLOAT_EQ(at(s, 0, 40, 64), -5.255155f);
  EXPECT_FLOAT_EQ(at(s, 0, 63, 127), 0.5254544f);
  EXPECT_FLOAT_EQ(at(s, 1, 40, 64), 1018.112f);
  // The same level named in Pa, and by index.
  Sample pa = Archive::open({path}, channels("U@85000Pa,U@#2")).load(0);
  EXPECT_FLOAT_EQ(at(pa, 0, 40, 64), -5.255155f);
  EXPECT_FLOAT_EQ(at(pa, 1, 40, 64), -5.255155f);
  // A level that is not there, and a variable that is not there.
  std::string e = error_of([&] { Archive::open({path}, channels("U@800")); });
  EXPECT_NE(e.find("has no level 800 (levels: 1000, 925, 850, 700"), std::string::npos) << e;
  e = error_of([&] { Archive::open({path}, channels("UWND")); });
  EXPECT_NE(e.find("unknown variable 'UWND' (available: LHFLX, "), std::string::npos) << e;
  e = error_of([&] { Archive::open({path}, channels("U")); });
  EXPECT_NE(e.find("has 17 levels"), std::string::npos) << e;
}

TEST(RealFiles, CcsmPlevInPascalsSelectedInHectopascals) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto path = real_file("headscratcher_sresa1b_ncar_ccsm3-example.nc").string();
  Archive a = Archive::open({path}, channels("ua@850,tas"));
  Sample s = a.load(0);
  EXPECT_EQ(s.time_iso, "2000-05-16T12:00:00");
  EXPECT_EQ(s.calendar, "noleap");
  EXPECT_EQ(a.calendar(), "noleap");
  // ncdump -f c: ua(0,2,64,128) = -8.411019 (plev index 2 is 85000 Pa), tas(0,64,128) = 299.8411.
  EXPECT_FLOAT_EQ(at(s, 0, 64, 128), -8.411019f);
  EXPECT_FLOAT_EQ(at(s, 1, 64, 128), 299.8411f);
  FileMeta m = scan_file(path);
  ASSERT_NE(m.find_level("plev"), nullptr);
  EXPECT_EQ(find_level_index(*m.find_level("plev"), "850"), 2);
  EXPECT_EQ(find_level_index(*m.find_level("plev"), "85000Pa"), 2);
  EXPECT_EQ(find_level_index(*m.find_level("plev"), "850hPa"), 2);
  EXPECT_EQ(find_level_index(*m.find_level("plev"), "851"), -1);
}

TEST(RealFiles, Merra2LongitudesFromMinus180AreRotatedToStartAtZero) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto path = real_file("climdeeplearn_IWV_IVT_MERRA_20170228_00.nc").string();
  Archive a = Archive::open({path}, channels("IWV,IVT"));
  Sample s = a.load(0);
  EXPECT_EQ(s.time_iso, "2017-02-28T00:00:00");
  EXPECT_TRUE(s.grid.periodic);
  EXPECT_FALSE(s.orientation.lat_descending);
  EXPECT_TRUE(s.orientation.lon_signed);
  EXPECT_EQ(s.orientation.lon_shift, 288);  // file column 288 is longitude 0
  ASSERT_EQ(s.grid.width(), 576);
  EXPECT_DOUBLE_EQ(s.grid.lon[0], 0.0);
  EXPECT_DOUBLE_EQ(s.grid.lon[575], 359.375);
  // ncdump -f c: IVT(0,180,0) = 338.5034 at lon -180 moves to canonical column 288 (lon 180);
  // IVT(0,180,288) = 108.7359 at lon 0 moves to column 0; IVT(0,360,575) = 38.7685 (lon 179.375)
  // to column 287.
  EXPECT_FLOAT_EQ(at(s, 1, 180, 288), 338.5034f);
  EXPECT_FLOAT_EQ(at(s, 1, 180, 0), 108.7359f);
  EXPECT_FLOAT_EQ(at(s, 1, 360, 287), 38.7685f);
  EXPECT_DOUBLE_EQ(s.grid.lon[288], 180.0);
}

TEST(RealFiles, EraInterimDescendingLatitudeAndSignedLongitudeOnAMonthAxis) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  auto path = real_file("xrdata_eraint_uvz.nc").string();
  Archive a = Archive::open({path}, channels("u@850"));
  ASSERT_EQ(a.size(), 2);  // month = 1, 7: a record axis without CF time
  EXPECT_FALSE(a.info(1).has_date);
  EXPECT_EQ(a.info(1).time_value, 7.0);
  Sample s = a.load(0), s1 = a.load(1);
  EXPECT_TRUE(s.orientation.lat_descending);
  EXPECT_EQ(s.orientation.lon_shift, 240);
  EXPECT_TRUE(s.grid.periodic);
  EXPECT_DOUBLE_EQ(s.grid.lat.front(), -90.0);
  EXPECT_DOUBLE_EQ(s.grid.lon.front(), 0.0);
  // Packed int16, scale -0.00157270493804553, offset 26.96875 (level index 2 = 850 hPa):
  // u(0,2,120,240) = 17396 at (0N, 0E) → -0.390025 at canonical (120, 0);
  // u(0,2,0,0) = 15106 at (90N, 180W) → 3.211469 at (240, 240);
  // u(0,2,240,479) = 16259 at (90S, 179.25E) → 1.398140 at (0, 239);
  // u(1,2,0,0) = 17252 → -0.163556 at (240, 240) of the second month.
  EXPECT_NEAR(at(s, 0, 120, 0), -0.3900251, 1e-5);
  EXPECT_NEAR(at(s, 0, 240, 240), 3.2114692, 1e-5);
  EXPECT_NEAR(at(s, 0, 0, 239), 1.3981404, 1e-5);
  EXPECT_NEAR(at(s1, 0, 240, 240), -0.1635556, 1e-5);
}

TEST(RealFiles, StormSeriesFromSixFilesIsSixChannelsBySixtyFourSteps) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  std::vector<std::string> files;
  for (const char* v : {"P", "T", "U", "V", "U500", "V500"})
    files.push_back(real_file(std::string("geocat_") + v + "storm.cdf").string());
  // u and v are in two files each: the file selector says which.
  Archive a = Archive::open(files, channels("p,t,u[Ustorm],v[Vstorm],u500=u[U500],v500=v[V500]"));
  ASSERT_EQ(a.size(), 64);
  EXPECT_EQ(a.channel_names(), (std::vector<std::string>{"p", "t", "u", "v", "u500", "v500"}));
  EXPECT_EQ(a.grid().shape_str(), "33x36");
  EXPECT_FALSE(a.grid().periodic);  // regional 20-60N, 140W-52.5W
  EXPECT_DOUBLE_EQ(a.grid().lon.front(), 220.0);
  EXPECT_DOUBLE_EQ(a.grid().lon.back(), 307.5);
  // timestep = 0, 6, ..., 378 hours after reftime "1996 01 05 00:00".
  EXPECT_EQ(a.info(0).date.iso(), "1996-01-05T00:00:00");
  EXPECT_EQ(a.info(1).date.iso(), "1996-01-05T06:00:00");
  EXPECT_EQ(a.info(63).date.iso(), "1996-01-20T18:00:00");
  Sample s5 = a.load(5), s63 = a.load(63);
  EXPECT_EQ(s5.channels_count(), 6);
  // ncdump -f c: p(5,10,20) = 102029.9, u(5,10,20) = -0.6500702 (Ustorm), 26.24706 (U500storm),
  // p(63,32,35) = 100924.6; p(0,0,0) is _ (fill -9999).
  EXPECT_FLOAT_EQ(at(s5, 0, 10, 20), 102029.9f);
  EXPECT_FLOAT_EQ(at(s5, 2, 10, 20), -0.6500702f);
  EXPECT_FLOAT_EQ(at(s5, 4, 10, 20), 26.24706f);
  EXPECT_FLOAT_EQ(at(s63, 0, 32, 35), 100924.6f);
  // t, v (Vstorm) and v500 (V500storm) at the same points, read independently with
  // /usr/bin/python3 + netCDF4 (d['t'][5,10,20] etc.); the grid is already canonical (lat 20..60
  // ascending, lon -140..-52.5 only shifted by 360), so file (i, j) is canonical (i, j).
  EXPECT_FLOAT_EQ(at(s5, 1, 10, 20), 284.32425f);
  EXPECT_FLOAT_EQ(at(s5, 3, 10, 20), 1.3603821f);
  EXPECT_FLOAT_EQ(at(s5, 5, 10, 20), 5.818756f);
  EXPECT_FLOAT_EQ(at(s63, 1, 32, 35), 261.1192f);
  EXPECT_FLOAT_EQ(at(s63, 3, 32, 35), 8.203594f);
  EXPECT_FLOAT_EQ(at(s63, 5, 32, 35), 36.51581f);
  Sample s30 = a.load(30);
  EXPECT_FLOAT_EQ(at(s30, 1, 16, 18), 276.7674f);
  EXPECT_FLOAT_EQ(at(s30, 3, 16, 18), -3.57306f);
  EXPECT_FLOAT_EQ(at(s30, 5, 16, 18), -28.637177f);
  // Over all 64 steps, valid count and mean of each channel: netCDF4 masked arrays,
  // a.count() and a.mean(dtype=numpy.float64) of d['t'][:] etc. (-9999 fill masked).
  ChannelSummary t = summary(a, 1), v = summary(a, 3), v500 = summary(a, 5);
  EXPECT_EQ(t.count, 60732);
  EXPECT_NEAR(t.mean, 275.2502404658728, 1e-9);
  EXPECT_EQ(v.count, 59768);
  EXPECT_NEAR(v.mean, 0.053015859311180025, 1e-12);
  EXPECT_EQ(v500.count, 60732);
  EXPECT_NEAR(v500.mean, -0.7821604853003642, 1e-12);
  Sample s0 = a.load(0);
  ASSERT_EQ(s0.valid.numel(), 6 * 33 * 36);
  EXPECT_EQ(s0.valid[0], 0.0f);
  EXPECT_EQ(at(s0, 0, 0, 0), 0.0f);  // fill never flows on as a number
  // Over all 64 steps p has 14336 fill values (counted in ncdump's output).
  int64_t invalid = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    Sample s = a.load(i);
    for (int64_t k = 0; k < 33 * 36; ++k) invalid += s.valid.numel() && s.valid[k] == 0.0f;
  }
  EXPECT_EQ(invalid, 14336);
  // Without the selector, u is ambiguous.
  std::string e = error_of([&] { Archive::open(files, channels("u")); });
  EXPECT_NE(e.find("variable 'u' is in several files of the same time step"), std::string::npos) << e;
}

TEST(RealFiles, EveryRealFileIsReadOrRefusedWithTheRightMessage) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  struct Case {
    const char* file;
    const char* channels;  // "" to take every 2-D field
    int64_t samples;
    const char* refusal;  // "" when it must read
  };
  const Case cases[] = {
      {"climdeeplearn_IWV_IVT_MERRA_20170228_00.nc", "", 1, ""},
      {"geocat_NCEP_06_climo.nc", "PSL,T@500,Z3@200", 1, ""},
      {"geocat_Pstorm.cdf", "", 64, ""},
      {"geocat_Tstorm.cdf", "", 64, ""},
      {"geocat_Ustorm.cdf", "", 64, ""},
      {"geocat_Vstorm.cdf", "", 64, ""},
      {"geocat_U500storm.cdf", "", 64, ""},
      {"geocat_V500storm.cdf", "", 64, ""},
      {"geocat_era5_1995-07-14T12.nc", "", 1, ""},
      {"geocat_hgt.nc", "HGT", 21, ""},
      {"geocat_landsea.nc", "LSMASK", 1, ""},
      {"geocat_uvt.nc", "U@850,T@500", 1, ""},
      {"geocat_nc4uvt.nc", "U@850,V@850", 1, ""},
      {"headscratcher_sresa1b_ncar_ccsm3-example.nc", "tas,pr,ua@500", 1, ""},
      {"xrdata_eraint_uvz.nc", "z@500,u@200,v@850", 2, ""},
      {"geocat_camse_unstructured_grid.nc", "", 0,
       "unstructured grid (lat and lon are both over dimension ncol, 48602 columns): this command reads "
       "latitude-longitude grids; climseg remap --to HxW makes one"},
      {"wavespectra_ww3file.nc", "", 0, "point or station data, not a latitude-longitude grid"},
  };
  for (const Case& c : cases) {
    auto path = real_file(c.file).string();
    ArchiveOptions o;
    if (*c.channels) o.channels = parse_channels(c.channels);
    if (*c.refusal) {
      std::string e = error_of([&] { Archive::open({path}, o); });
      EXPECT_EQ(e.rfind(path + ": ", 0), 0u) << e;
      EXPECT_NE(e.find(c.refusal), std::string::npos) << c.file << ": " << e;
      continue;
    }
    try {
      Archive a = Archive::open({path}, o);
      EXPECT_EQ(a.size(), c.samples) << c.file;
      Sample s = a.load(a.size() - 1);
      for (int64_t k = 0; k < s.data.numel(); ++k) ASSERT_TRUE(std::isfinite(s.data[k])) << c.file;
    } catch (const climseg::Error& e) {
      ADD_FAILURE() << c.file << ": " << e.what();
    }
  }
}

// Point values at canonical (lat, lon) and means, for the files the table above only opens. Every
// expected number was read independently with /usr/bin/python3 + netCDF4 + numpy (masked arrays,
// fill values masked; means as a.mean(dtype=numpy.float64), counts as a.count()); the script's
// indexing is the file's, the comments say where that lands on the canonical grid.
TEST(RealFiles, UvtPointValuesAfterRotationAndMeans) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  for (const char* file : {"geocat_uvt.nc", "geocat_nc4uvt.nc"}) {
    SCOPED_TRACE(file);
    Archive a = Archive::open({real_file(file).string()}, channels("U@850,T@500,V@850"));
    ASSERT_EQ(a.size(), 1);
    Sample s = a.load(0);
    // Latitude -87.8638..87.8638 ascending (Gaussian), longitude -180..177.1875: file column 64
    // (lon 0) is canonical column 0, so file column j lands at canonical (j + 64) mod 128.
    EXPECT_FALSE(s.orientation.lat_descending);
    EXPECT_TRUE(s.orientation.lon_signed);
    EXPECT_EQ(s.orientation.lon_shift, 64);
    EXPECT_TRUE(s.grid.periodic);
    EXPECT_DOUBLE_EQ(s.grid.lon[0], 0.0);
    EXPECT_DOUBLE_EQ(s.grid.lon[64], 180.0);
    // python: lev.index(850) = 1, lev.index(500) = 3; U[0,1,0,0] = -6.241851 at (-87.86, -180)
    // → canonical (0, 64); U[0,1,63,127] = 6.846947 at (87.86, 177.19) → (63, 63);
    // U[0,1,10,100] = 3.965544 → (10, 36); U[0,1,31,64] = -1.092855 at lon 0 → (31, 0).
    EXPECT_FLOAT_EQ(at(s, 0, 0, 64), -6.241851329803467f);
    EXPECT_FLOAT_EQ(at(s, 0, 63, 63), 6.846946716308594f);
    EXPECT_FLOAT_EQ(at(s, 0, 10, 36), 3.9655439853668213f);
    EXPECT_FLOAT_EQ(at(s, 0, 31, 0), -1.092855453491211f);
    // T[0,3,0,0] = 239.72002, T[0,3,63,127] = 232.39041; V[0,1,0,0] = 10.038234,
    // V[0,1,10,100] = -1.0013949.
    EXPECT_FLOAT_EQ(at(s, 1, 0, 64), 239.7200164794922f);
    EXPECT_FLOAT_EQ(at(s, 1, 63, 63), 232.39041137695312f);
    EXPECT_FLOAT_EQ(at(s, 2, 0, 64), 10.038233757019043f);
    EXPECT_FLOAT_EQ(at(s, 2, 10, 36), -1.0013948678970337f);
    // No fill in these levels: 8192 = 64 x 128 values each.
    ChannelSummary u850 = summary(a, 0), t500 = summary(a, 1), v850 = summary(a, 2);
    EXPECT_EQ(u850.count, 8192);
    EXPECT_NEAR(u850.mean, 1.5208514388286467, 1e-12);
    EXPECT_EQ(t500.count, 8192);
    EXPECT_NEAR(t500.mean, 252.74058133922517, 1e-10);
    EXPECT_EQ(v850.count, 8192);
    EXPECT_NEAR(v850.mean, 0.0584514079559284, 1e-12);
  }
}

TEST(RealFiles, HgtValuesAndLandSeaMaskValues) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  Archive h = Archive::open({real_file("geocat_hgt.nc").string()}, channels("HGT"));
  ASSERT_EQ(h.size(), 21);
  // Latitude -90..90 ascending, longitude 0..357.5: already canonical, file (t, i, j) is (t, i, j).
  Sample h0 = h.load(0), h2 = h.load(2), h20 = h.load(20);
  EXPECT_TRUE(h0.orientation.identity());
  EXPECT_TRUE(h0.grid.periodic);
  EXPECT_EQ(h0.grid.shape_str(), "73x144");
  // python: HGT[0,0,0] = 5168.4 (90S), HGT[0,36,72] = 5857.9 (equator, 180E),
  // HGT[2,50,10] = 5590.1, HGT[20,72,143] = 5036.8 (90N, 357.5E).
  EXPECT_FLOAT_EQ(at(h0, 0, 0, 0), 5168.4f);
  EXPECT_FLOAT_EQ(at(h0, 0, 36, 72), 5857.9f);
  EXPECT_FLOAT_EQ(at(h2, 0, 50, 10), 5590.1f);
  EXPECT_FLOAT_EQ(at(h20, 0, 72, 143), 5036.8f);
  // All 21 x 73 x 144 = 220752 values valid; mean 5479.09734056106 gpm.
  ChannelSummary hs = summary(h, 0);
  EXPECT_EQ(hs.count, 220752);
  EXPECT_NEAR(hs.mean, 5479.09734056106, 1e-8);

  Archive l = Archive::open({real_file("geocat_landsea.nc").string()}, channels("LSMASK"));
  Sample s = l.load(0);
  EXPECT_TRUE(s.orientation.identity());  // lat -89.5..89.5, lon 0.5..359.5
  EXPECT_DOUBLE_EQ(s.grid.lat[130], 40.5);
  EXPECT_DOUBLE_EQ(s.grid.lon[280], 280.5);
  // python: LSMASK[130,280] = 1 (land at 40.5N 79.5W), LSMASK[90,0] = 0 (ocean at 0.5N 0.5E),
  // LSMASK[0,0] = 1 (Antarctica), LSMASK[179,359] = 0 (Arctic Ocean), LSMASK[40,100] = 0.
  EXPECT_EQ(at(s, 0, 130, 280), 1.0f);
  EXPECT_EQ(at(s, 0, 90, 0), 0.0f);
  EXPECT_EQ(at(s, 0, 0, 0), 1.0f);
  EXPECT_EQ(at(s, 0, 179, 359), 0.0f);
  EXPECT_EQ(at(s, 0, 40, 100), 0.0f);
  // numpy.bincount: 42388 ocean, 21684 land, 143 lake, 108 small island, 477 ice shelf;
  // mean 0.3734876543209876.
  int64_t classes[5] = {0, 0, 0, 0, 0};
  for (int64_t k = 0; k < s.data.numel(); ++k) {
    ASSERT_TRUE(s.data[k] >= 0 && s.data[k] <= 4);
    ++classes[int(s.data[k])];
  }
  EXPECT_EQ(classes[0], 42388);
  EXPECT_EQ(classes[1], 21684);
  EXPECT_EQ(classes[2], 143);
  EXPECT_EQ(classes[3], 108);
  EXPECT_EQ(classes[4], 477);
  ChannelSummary ls = summary(l, 0);
  EXPECT_EQ(ls.count, 64800);
  EXPECT_NEAR(ls.mean, 0.3734876543209876, 1e-14);
}

TEST(RealFiles, HgtMonthsAndLandSeaBytes) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  Archive h = Archive::open({real_file("geocat_hgt.nc").string()}, channels("HGT"));
  // time = 0, 1, 13, ..., 229 months since 1958-1-1.
  EXPECT_EQ(h.info(0).date.iso(), "1958-01-01T00:00:00");
  EXPECT_EQ(h.info(2).date.iso(), "1959-02-01T00:00:00");
  EXPECT_EQ(h.info(20).date.iso(), "1977-02-01T00:00:00");
  Archive l = Archive::open({real_file("geocat_landsea.nc").string()}, channels("LSMASK"));
  Sample s = l.load(0);
  EXPECT_EQ(s.grid.shape_str(), "180x360");
  EXPECT_FALSE(l.info(0).has_date);
  for (int64_t k = 0; k < s.data.numel(); ++k) ASSERT_TRUE(s.data[k] >= 0 && s.data[k] <= 4);
}

TEST(RealFiles, ThreeDimensionalFieldWithItsPressureLevels) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  Archive a = Archive::open({real_file("geocat_NCEP_06_climo.nc").string()}, channels("PSL"));
  Field3D u = a.load_field(0, "U");
  EXPECT_EQ(u.data.shape(), (climseg::Shape{17, 64, 128}));
  EXPECT_EQ(u.levels.name, "lev");
  EXPECT_EQ(u.levels.units, "millibars");
  ASSERT_EQ(u.level_pa.size(), 17u);
  EXPECT_EQ(u.level_pa[0], 100000.0);
  EXPECT_EQ(u.level_pa[2], 85000.0);
  EXPECT_EQ(u.level_pa[16], 1000.0);
  // ncdump -f c: U(0,2,40,64) = -5.255155 (850 mb).
  EXPECT_FLOAT_EQ(u.data[(2 * 64 + 40) * 128 + 64], -5.255155f);
  EXPECT_FALSE(u.hybrid());
}

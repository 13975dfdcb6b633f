// The CF-NetCDF writer: values and metadata read back with the raw NetCDF API, the input's
// orientation restored, packing, masks as flags, atomic output, provenance and reproducibility.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <fstream>
#include <numeric>

#include "core/error.hpp"
#include "readers/netcdf_file.hpp"
#include "readers/orientation.hpp"
#include "readers/writer.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg;
using namespace climseg::io;

namespace {

std::vector<double> read_doubles(int ncid, const std::string& var) {
  int v = nc_find_var(ncid, var);
  EXPECT_GE(v, 0) << var;
  if (v < 0) return {};
  size_t n = 1;
  for (size_t d : nc_var_shape(ncid, v)) n *= d;
  std::vector<double> out(n);
  EXPECT_EQ(nc_get_var_double(ncid, v, out.data()), NC_NOERR) << var;
  return out;
}

// Raw stored values of an integer variable (no unpacking).
std::vector<int> read_ints(int ncid, const std::string& var) {
  int v = nc_find_var(ncid, var);
  size_t n = 1;
  for (size_t d : nc_var_shape(ncid, v)) n *= d;
  std::vector<int> out(n);
  EXPECT_EQ(nc_get_var_int(ncid, v, out.data()), NC_NOERR) << var;
  return out;
}

nc_type var_type(int ncid, const std::string& var) {
  nc_type t = NC_NAT;
  nc_inq_vartype(ncid, nc_find_var(ncid, var), &t);
  return t;
}

// A 3x4 CAM-style grid: latitudes -90, 0, 90; longitudes 0, 90, 180, 270.
OutputSpec small_spec() {
  OutputSpec s;
  s.grid = geo::Grid::cam(3, 4);
  s.set_time("days since 2000-01-01 00:00:00", "noleap");
  s.variables = {float_field("TMQ", "kg/m2", "Total (vertically integrated) precipitable water"),
                 mask_field("class_mask", {"Background", "Tropical Cyclone", "Atmospheric River"}),
                 probability_field("prob_tc", "probability of Tropical Cyclone")};
  s.global_attrs = {Attr::str("title", "writer test")};
  s.provenance.command_line = "climseg predict --in x.nc";
  s.provenance.timestamp = false;
  return s;
}

// Field value at canonical (i, j) of step t: encodes its own position.
float value_at(int64_t t, int64_t i, int64_t j) { return float(100 * t + 10 * i + j); }

std::vector<float> field(int64_t t, int64_t H, int64_t W) {
  std::vector<float> f(size_t(H * W));
  for (int64_t i = 0; i < H; ++i)
    for (int64_t j = 0; j < W; ++j) f[size_t(i * W + j)] = value_at(t, i, j);
  return f;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(Writer, SerialValuesCoordinatesAndMetadata) {
  test::TempDir dir;
  fs::path p = dir / "out.nc";
  {
    CfWriter w(p, small_spec());
    for (int t = 0; t < 3; ++t) {
      EXPECT_EQ(w.append_time(0.125 * t), t);
      auto f = field(t, 3, 4);
      w.write("TMQ", t, f.data());
      std::vector<float> mask(12, 0.0f);
      mask[5] = 1.0f;
      mask[11] = 2.0f;
      w.write("class_mask", t, mask.data());
      std::vector<float> prob(12, 0.25f);
      w.write("prob_tc", t, prob.data());
    }
    EXPECT_EQ(w.steps(), 3);
    EXPECT_FALSE(fs::exists(p)) << "the final name appears only at close";
    w.close();
  }
  ASSERT_TRUE(fs::exists(p));
  NcFile f(p);
  EXPECT_EQ(f.format_name(), "netCDF-4");
  int id = f.id();
  EXPECT_EQ(read_doubles(id, "lat"), (std::vector<double>{-90, 0, 90}));
  EXPECT_EQ(read_doubles(id, "lon"), (std::vector<double>{0, 90, 180, 270}));
  EXPECT_EQ(read_doubles(id, "time"), (std::vector<double>{0, 0.125, 0.25}));
  int tv = nc_find_var(id, "time");
  EXPECT_EQ(nc_att_text(id, tv, "units"), "days since 2000-01-01 00:00:00");
  EXPECT_EQ(nc_att_text(id, tv, "calendar"), "noleap");
  EXPECT_EQ(nc_att_text(id, nc_find_var(id, "lat"), "standard_name"), "latitude");
  EXPECT_EQ(nc_att_text(id, nc_find_var(id, "lon"), "units"), "degrees_east");
  int unlimited = -1;
  nc_inq_unlimdim(id, &unlimited);
  EXPECT_EQ(nc_dim_name(id, unlimited), "time");

  auto tmq = read_doubles(id, "TMQ");
  ASSERT_EQ(tmq.size(), 36u);
  EXPECT_EQ(tmq[0 * 12 + 1 * 4 + 2], 12.0);   // t 0, lat 0, lon 180
  EXPECT_EQ(tmq[2 * 12 + 2 * 4 + 3], 223.0);  // t 2, lat 90, lon 270
  int tmq_id = nc_find_var(id, "TMQ");
  EXPECT_EQ(var_type(id, "TMQ"), NC_FLOAT);
  EXPECT_EQ(nc_att_text(id, tmq_id, "units"), "kg/m2");
  // Chunked one time step at a time, deflated.
  int storage = 0;
  size_t chunks[3] = {};
  nc_inq_var_chunking(id, tmq_id, &storage, chunks);
  EXPECT_EQ(storage, NC_CHUNKED);
  EXPECT_EQ(chunks[0], 1u);
  EXPECT_EQ(chunks[1], 3u);
  EXPECT_EQ(chunks[2], 4u);
  int shuffle = 0, deflate = 0, level = 0;
  nc_inq_var_deflate(id, tmq_id, &shuffle, &deflate, &level);
  EXPECT_EQ(deflate, 1);
  EXPECT_EQ(level, 4);
  EXPECT_EQ(shuffle, 1);

  EXPECT_EQ(var_type(id, "class_mask"), NC_BYTE);
  int m = nc_find_var(id, "class_mask");
  EXPECT_EQ(nc_att_numbers(id, m, "flag_values"), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(nc_att_text(id, m, "flag_meanings"), "Background Tropical_Cyclone Atmospheric_River");
  EXPECT_EQ(nc_att_numbers(id, m, "_FillValue"), (std::vector<double>{-1}));
  auto mask = read_ints(id, "class_mask");
  EXPECT_EQ(mask[12 + 5], 1);
  EXPECT_EQ(mask[12 + 11], 2);
  EXPECT_EQ(std::accumulate(mask.begin(), mask.end(), 0), 9);
  EXPECT_EQ(nc_att_numbers(id, nc_find_var(id, "prob_tc"), "valid_range"), (std::vector<double>{0, 1}));
  EXPECT_EQ(read_doubles(id, "prob_tc")[7], 0.25);

  EXPECT_EQ(nc_att_text(id, NC_GLOBAL, "Conventions"), "CF-1.8");
  EXPECT_EQ(nc_att_text(id, NC_GLOBAL, "title"), "writer test");
  EXPECT_EQ(nc_att_text(id, NC_GLOBAL, "history"), "climseg predict --in x.nc");
  EXPECT_FALSE(nc_att_text(id, NC_GLOBAL, "climseg_version").empty());
  EXPECT_FALSE(nc_att_text(id, NC_GLOBAL, "climseg_git").empty());
}

TEST(Writer, RestoresTheInputOrientation) {
  // A MERRA-2-like file: latitude descending, longitudes -180..90 with canonical column 0 (lon 0)
  // at file column 2.
  test::TempDir dir;
  fs::path p = dir / "o.nc";
  OutputSpec s = small_spec();
  s.orientation.lat_descending = true;
  s.orientation.lon_shift = 2;
  s.orientation.lon_signed = true;
  s.dims = {{"lev", 2}};
  s.variables.push_back(float_field("U", "m/s", "Zonal wind", {"time", "lev", "lat", "lon"}));
  VarDef gw;
  gw.name = "gw";
  gw.type = NC_DOUBLE;
  gw.dims = {"lat"};
  s.variables.push_back(gw);
  {
    CfWriter w(p, s);
    w.append_time(1.0);
    auto f = field(0, 3, 4);
    w.write("TMQ", 0, f.data());
    std::vector<float> u(24);
    for (int l = 0; l < 2; ++l)
      for (int k = 0; k < 12; ++k) u[size_t(l * 12 + k)] = float(1000 * l) + f[size_t(k)];
    w.write("U", 0, u.data());
    w.write_values("gw", std::vector<double>{0.1, 0.2, 0.3});  // canonical: south to north
    w.close();
  }
  NcFile f(p);
  int id = f.id();
  EXPECT_EQ(read_doubles(id, "lat"), (std::vector<double>{90, 0, -90}));
  EXPECT_EQ(read_doubles(id, "lon"), (std::vector<double>{-180, -90, 0, 90}));
  EXPECT_EQ(read_doubles(id, "gw"), (std::vector<double>{0.3, 0.2, 0.1}));
  auto tmq = read_doubles(id, "TMQ");
  // File (row r, col c) holds canonical (2 - r, (c + 2) % 4): lat 90 lon -180 is canonical (2, 2).
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(tmq[size_t(r * 4 + c)], value_at(0, 2 - r, (c + 2) % 4)) << r << "," << c;
  auto u = read_doubles(id, "U");
  EXPECT_EQ(u[12 + 0], 1000 + value_at(0, 2, 2));
  EXPECT_EQ(u[12 + 11], 1000 + value_at(0, 0, 1));
  std::vector<float> canon(12), back(12);
  for (int k = 0; k < 12; ++k) canon[size_t(k)] = float(k);
  to_file_order(canon.data(), back.data(), 3, 4, s.orientation);
  EXPECT_EQ(back[0], canon[2 * 4 + 2]);
}

// Issue 16 item 1: one VarDef (float_field, mask_field with their default axes) fits an output
// whose input names its axes latitude/longitude (ERA5), y/x, or timestep for time.
TEST(Writer, AxesTakeTheOutputsOwnNames) {
  test::TempDir dir;
  for (const auto& [lat, lon, time] : std::vector<std::array<std::string, 3>>{
           {"latitude", "longitude", "time"}, {"y", "x", "timestep"}, {"lat", "lon", "month"}}) {
    OutputSpec s = small_spec();
    s.lat_name = lat;
    s.lon_name = lon;
    s.time_dim = s.time_name = time;
    s.variables.push_back(float_field("gridded", "1", "gridded"));
    const fs::path p = dir / (lat + ".nc");
    {
      CfWriter w(p, s);
      EXPECT_EQ(w.append_time(3.0), 0);
      const auto f = field(0, 3, 4);
      for (const char* v : {"TMQ", "class_mask", "prob_tc", "gridded"}) w.write(v, 0, f.data());
      w.close();
    }
    NcFile f(p);
    const int id = f.id();
    for (const char* v : {"TMQ", "class_mask", "prob_tc", "gridded"}) {
      std::vector<std::string> dims;
      for (int d : nc_var_dims(id, nc_find_var(id, v))) dims.push_back(nc_dim_name(id, d));
      EXPECT_EQ(dims, (std::vector<std::string>{time, lat, lon})) << v;
    }
    EXPECT_EQ(read_doubles(id, lat), (std::vector<double>{-90, 0, 90}));
    EXPECT_EQ(read_doubles(id, time), (std::vector<double>{3.0}));
  }
}

// Issue 16 item 2: an input with a scalar time (ERA5) or none gives outputs without a time
// dimension: the scalar copied (and named in `coordinates`), or nothing.
TEST(Writer, ScalarTimeAndNoTime) {
  test::TempDir dir;
  for (const TimeKind kind : {TimeKind::scalar, TimeKind::none}) {
    OutputSpec s = small_spec();
    s.time_kind = kind;
    s.time_type = NC_INT;
    const fs::path p = dir / (kind == TimeKind::scalar ? "scalar.nc" : "none.nc");
    {
      CfWriter w(p, s);
      EXPECT_EQ(w.append_time(831000.0), 0);
      const auto f = field(0, 3, 4);
      w.write("TMQ", 0, f.data());
      EXPECT_THROW(w.append_time(831006.0), climseg::Error);  // one step only
      EXPECT_THROW(w.write("TMQ", 1, f.data()), climseg::Error);
      w.close();
    }
    NcFile f(p);
    const int id = f.id();
    const int tmq = nc_find_var(id, "TMQ");
    EXPECT_EQ(nc_var_dims(id, tmq).size(), 2u);
    const auto want = field(0, 3, 4);
    EXPECT_EQ(read_doubles(id, "TMQ"), (std::vector<double>(want.begin(), want.end())));
    int ndims = -1;
    nc_inq_ndims(id, &ndims);
    EXPECT_EQ(ndims, 2);  // lat, lon
    if (kind == TimeKind::scalar) {
      EXPECT_EQ(read_doubles(id, "time"), (std::vector<double>{831000.0}));
      EXPECT_EQ(var_type(id, "time"), NC_INT);
      EXPECT_EQ(nc_att_text(id, tmq, "coordinates"), "time");
      EXPECT_EQ(nc_att_text(id, nc_find_var(id, "time"), "units"), "days since 2000-01-01 00:00:00");
    } else {
      EXPECT_LT(nc_find_var(id, "time"), 0);
      EXPECT_EQ(nc_att_text(id, tmq, "coordinates"), "");
    }
  }
}

// Issue 16 item 6: a repeated first meridian comes back on write, with its coordinate value.
TEST(Writer, RestoresARepeatedMeridian) {
  test::TempDir dir;
  OutputSpec s = small_spec();
  const CanonicalGrid cg = canonical_grid({-90, 0, 90}, {-180, -90, 0, 90, 180}, "test");
  s.grid = cg.grid;
  s.orientation = cg.orientation;
  const fs::path p = dir / "r.nc";
  {
    CfWriter w(p, s);
    w.append_time(0);
    const auto f = field(0, 3, 4);
    w.write("TMQ", 0, f.data());
    w.write_rows("prob_tc", 0, 1, 2, f.data() + 4);  // rows 1, 2 as a band
    w.write_rows("prob_tc", 0, 0, 1, f.data());
    w.close();
  }
  NcFile f(p);
  const int id = f.id();
  EXPECT_EQ(read_doubles(id, "lon"), (std::vector<double>{-180, -90, 0, 90, 180}));
  for (const char* v : {"TMQ", "prob_tc"}) {
    const auto x = read_doubles(id, v);
    ASSERT_EQ(x.size(), 15u);
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 4; ++c) EXPECT_EQ(x[size_t(r * 5 + c)], value_at(0, r, (c + 2) % 4)) << v;
      EXPECT_EQ(x[size_t(r * 5 + 4)], x[size_t(r * 5)]) << v << ": the repeated meridian";
    }
  }
}

TEST(Writer, LatitudeBandsEqualWholeFields) {
  test::TempDir dir;
  OutputSpec s = small_spec();
  s.orientation.lat_descending = true;
  s.orientation.lon_shift = 1;
  auto f = field(0, 3, 4);
  {
    CfWriter w(dir / "whole.nc", s);
    w.append_time(0);
    w.write("TMQ", 0, f.data());
    w.close();
  }
  {
    CfWriter w(dir / "bands.nc", s);
    w.append_time(0);
    w.write_rows("TMQ", 0, 0, 2, f.data());
    w.write_rows("TMQ", 0, 2, 1, f.data() + 8);
    w.close();
  }
  NcFile a(dir / "whole.nc"), b(dir / "bands.nc");
  EXPECT_EQ(read_doubles(a.id(), "TMQ"), read_doubles(b.id(), "TMQ"));
}

TEST(Writer, PacksIntegersAndStoresFillForNaN) {
  test::TempDir dir;
  fs::path p = dir / "hs.nc";
  OutputSpec s = small_spec();
  VarDef hs = float_field("hs", "m", "significant height of wind and swell waves");
  hs.type = NC_SHORT;
  hs.packed = true;
  hs.scale_factor = 0.002;
  hs.fill_value = -32767;
  s.variables = {hs};
  {
    CfWriter w(p, s);
    w.append_time(0);
    std::vector<float> v = {0.0f, 1.0f, 2.5f, NAN, 10.0f, -0.003f, 0, 0, 0, 0, 0, 0};
    w.write("hs", 0, v.data());
    w.close();
  }
  NcFile f(p);
  auto raw = read_ints(f.id(), "hs");
  EXPECT_EQ(raw[0], 0);
  EXPECT_EQ(raw[1], 500);
  EXPECT_EQ(raw[2], 1250);
  EXPECT_EQ(raw[3], -32767);
  EXPECT_EQ(raw[4], 5000);
  EXPECT_EQ(raw[5], -2);  // -1.5 rounds to even
  int v = nc_find_var(f.id(), "hs");
  EXPECT_NEAR(nc_att_numbers(f.id(), v, "scale_factor")[0], 0.002, 1e-9);
  EXPECT_EQ(nc_att_numbers(f.id(), v, "add_offset")[0], 0.0);
}

TEST(Writer, RejectsBadRequestsWithOneLine) {
  test::TempDir dir;
  EXPECT_THROW(CfWriter(dir / "no" / "such" / "dir.nc", small_spec()), Error);
  CfWriter w(dir / "e.nc", small_spec());
  w.append_time(0);
  std::vector<float> f(12, 0.0f);
  try {
    w.write("PRECT", 0, f.data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no variable PRECT"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("e.nc"), std::string::npos) << e.what();
  }
  f[3] = 300.0f;  // not a byte
  EXPECT_THROW(w.write("class_mask", 0, f.data()), Error);
  f[3] = NAN;  // a mask has a fill value for unknown cells
  EXPECT_NO_THROW(w.write("class_mask", 0, f.data()));
  OutputSpec bad = small_spec();
  bad.variables.push_back(float_field("X", "1", "x", {"time", "nope", "lon"}));
  EXPECT_THROW(CfWriter(dir / "b.nc", bad), Error);
}

TEST(Writer, UncommittedOutputLeavesNothing) {
  test::TempDir dir;
  {
    CfWriter w(dir / "gone.nc", small_spec());
    w.append_time(0);
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Writer, SameInputsGiveByteIdenticalFiles) {
  test::TempDir dir;
  for (const char* name : {"a.nc", "b.nc"}) {
    CfWriter w(dir / name, small_spec());
    for (int t = 0; t < 2; ++t) {
      w.append_time(t);
      auto f = field(t, 3, 4);
      w.write("TMQ", t, f.data());
    }
    w.close();
  }
  EXPECT_EQ(slurp(dir / "a.nc"), slurp(dir / "b.nc"));
}

TEST(Writer, ProvenanceRecordsCheckpointHashAndHistory) {
  test::TempDir dir;
  { std::ofstream(dir / "model.h5") << "abc"; }
  OutputSpec s = small_spec();
  s.provenance.checkpoint = (dir / "model.h5").string();
  s.provenance.previous_history = "Mon Jan  1 00:00:00 2018: ncks in.nc";
  s.provenance.timestamp = true;
  s.provenance.inputs = {"a.nc", "b.nc"};
  {
    CfWriter w(dir / "p.nc", s);
    w.close();
  }
  NcFile f(dir / "p.nc");
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(nc_att_text(f.id(), NC_GLOBAL, "model_checkpoint_sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(nc_att_text(f.id(), NC_GLOBAL, "source_files"), "a.nc b.nc");
  std::string h = nc_att_text(f.id(), NC_GLOBAL, "history");
  // "YYYY-MM-DDTHH:MM:SSZ: climseg predict --in x.nc\n<previous>"
  EXPECT_EQ(h.size(),
            20 + 2 + std::string("climseg predict --in x.nc").size() + 1 + s.provenance.previous_history.size())
      << h;
  EXPECT_EQ(h.substr(20), ": climseg predict --in x.nc\nMon Jan  1 00:00:00 2018: ncks in.nc") << h;
  EXPECT_EQ(h[10], 'T');
}

TEST(Provenance, Sha256MatchesKnownDigests) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million.data(), million.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_THROW(file_sha256("/no/such/checkpoint.h5"), Error);
}

TEST(Provenance, CommandLineIsThisProcess) {
  std::string cmd = process_command_line();
  EXPECT_EQ(cmd.rfind("test_writer", 0), 0u) << cmd;
}

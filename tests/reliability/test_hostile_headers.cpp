// Hostile headers and the memory budget: sizes claimed by a header are checked before anything is
// allocated; NaN/Inf in fields are counted, masked and never passed on as numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "bad_input_files.hpp"
#include "core/error.hpp"
#include "readers/archive.hpp"
#include "readers/limits.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

namespace climseg::test {
namespace {

namespace fs = std::filesystem;

// Restores the default budget when a test ends.
struct Budget {
  explicit Budget(int64_t bytes) { io::set_memory_budget(bytes); }
  ~Budget() { io::set_memory_budget(0); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MemoryBudget, SizesParseAndPrint) {
  EXPECT_EQ(io::parse_bytes("4096"), 4096);
  EXPECT_EQ(io::parse_bytes("512M"), int64_t{512} << 20);
  EXPECT_EQ(io::parse_bytes("16G"), int64_t{16} << 30);
  EXPECT_EQ(io::parse_bytes("1.5GiB"), int64_t{3} << 29);
  EXPECT_EQ(io::parse_bytes("2T"), int64_t{2} << 40);
  EXPECT_THROW(io::parse_bytes("lots"), UsageError);
  EXPECT_THROW(io::parse_bytes("12Q"), UsageError);
  EXPECT_THROW(io::parse_bytes("-5G"), UsageError);
  EXPECT_EQ(io::format_bytes(40), "40 B");
  EXPECT_EQ(io::format_bytes(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
}

TEST(MemoryBudget, ChecksCountTimesSizeWithoutOverflow) {
  Budget b(1000);
  EXPECT_NO_THROW(io::check_allocation("f.nc", "x", 250, 4));
  EXPECT_EQ(error_of([] { io::check_allocation("f.nc", "variable x", 251, 4); }),
            "f.nc: variable x would need 1004 B (251 values of 4 bytes), more than the memory budget of 1000 B (set "
            "CLIMSEG_MEMORY_BUDGET to allow more)");
  // 2^62 values of 8 bytes overflow 64 bits: still refused, never wrapped to a small number.
  EXPECT_THROW(io::check_allocation("f.nc", "x", int64_t{1} << 62, 8), Error);
  EXPECT_EQ(error_of([] { io::check_allocation("f.nc", "variable x", -3, 4); }),
            "f.nc: variable x has a negative or invalid size (-3 values): the file is damaged");
}

TEST(HostileHeaders, HugeGridIsRefusedBeforeAllocating) {
  TempDir dir;
  // 10^10 cells declared, never written (the CLI case HugeGrid claims 10^12).
  huge_grid_file(dir / "huge.nc", 100000, 100000);
  Budget b(int64_t{16} << 30);  // as on a 32 GiB node (the default is half the memory)
  const std::string e = error_of([&] { io::Archive::open({(dir / "huge.nc").string()}); });
  EXPECT_NE(e.find("huge.nc: one sample (1 channels on a 100000x100000 grid) would need 111.8 GiB"), std::string::npos)
      << e;
  EXPECT_NE(e.find("more than the memory budget"), std::string::npos) << e;
}

TEST(HostileHeaders, BudgetIsConfigurable) {
  TempDir dir;
  huge_grid_file(dir / "big.nc", 512, 1024);  // 0.5 M cells: 6 MiB per 1-channel sample with mask and labels
  {
    Budget b(int64_t{4} << 20);
    EXPECT_NE(error_of([&] { io::Archive::open({(dir / "big.nc").string()}); }).find("memory budget of 4.0 MiB"),
              std::string::npos);
  }
  Budget b(int64_t{64} << 20);
  io::Archive a = io::Archive::open({(dir / "big.nc").string()});
  const io::Sample s = a.load(0);  // never written: all fill values, masked
  EXPECT_EQ(s.data.shape(), (Shape{1, 512, 1024}));
  EXPECT_EQ(s.empty_channels, std::vector<std::string>{"TMQ"});
}

TEST(HostileHeaders, DeepCamBlockWithoutRowsIsRefused) {
  const fs::path f = fs::path(CLIMSEG_FUZZ_CORPUS) / "archive_open" / "edge_h5_zero_height.h5";
  EXPECT_EQ(error_of([&] { io::Archive::open({f.string()}); }),
            f.string() + ": climate/data is 0x8x16: no latitude-longitude grid to read");
}

TEST(BadValues, NanAndInfAreCountedMaskedAndNotFill) {
  TempDir dir;
  // 12 cells: one NaN, +Inf, -Inf (bad values) and one -999 (the declared _FillValue).
  ncgen(dir / "nan.nc", cam_cdl("-30, 0, 30", "0", "1, NaNf, 3, Infinityf, 5, -999, 7, 8, 9, 10, 11, -Infinityf"));
  io::ArchiveOptions o;
  o.channels = io::parse_channels("TMQ");
  for (bool direct : {true, false}) {
    o.direct_read = direct;
    io::Archive a = io::Archive::open({(dir / "nan.nc").string()}, o);
    const io::Sample s = a.load(0);
    ASSERT_EQ(s.nonfinite, std::vector<int64_t>{3});
    ASSERT_EQ(s.valid.numel(), 12);
    int invalid = 0;
    for (int64_t i = 0; i < 12; ++i) {
      EXPECT_TRUE(std::isfinite(s.data[i])) << i;
      invalid += s.valid[i] == 0.0f;
    }
    EXPECT_EQ(invalid, 4);  // three bad values and one fill value, all masked
  }
  // When NaN is the declared fill value (ERA5 does this), NaNs are fill, not bad values.
  std::string cdl = cam_cdl("-30, 0, 30", "0", "1, NaNf, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12");
  cdl.replace(cdl.find("-999.f"), 6, "NaNf");
  ncgen(dir / "nanfill.nc", cdl);
  io::Archive a = io::Archive::open({(dir / "nanfill.nc").string()}, o);
  const io::Sample s = a.load(0);
  EXPECT_TRUE(s.nonfinite.empty());
  EXPECT_EQ(s.valid[1], 0.0f);
}

// Found by fuzzing (tests/fuzz/regressions/archive_open/invalid_utf8_attribute.nc): a text attribute
// that is not UTF-8 made the metadata gather throw nlohmann's type_error. Old files write "°" as
// the Latin-1 byte 0xB0; it now reads as UTF-8 "°".
TEST(HostileHeaders, Latin1AttributesBecomeUtf8) {
  TempDir dir;
  ncgen(dir / "latin1.nc", cam_cdl());
  int nc = -1, var = -1;
  ASSERT_EQ(nc_open((dir / "latin1.nc").c_str(), NC_WRITE, &nc), NC_NOERR);
  ASSERT_EQ(nc_inq_varid(nc, "TMQ", &var), NC_NOERR);
  ASSERT_EQ(nc_redef(nc), NC_NOERR);
  ASSERT_EQ(nc_put_att_text(nc, var, "units", 2,
                            "\xb0"
                            "C"),
            NC_NOERR);
  ASSERT_EQ(nc_put_att_text(nc, NC_GLOBAL, "title", 5, "caf\xe9\xff"), NC_NOERR);
  ASSERT_EQ(nc_close(nc), NC_NOERR);
  io::ArchiveOptions o;
  o.channels = io::parse_channels("TMQ");
  io::Archive a = io::Archive::open({(dir / "latin1.nc").string()}, o);
  EXPECT_EQ(a.channel_units(), std::vector<std::string>{"\xc2\xb0"
                                                        "C"});
  EXPECT_EQ(io::to_utf8("caf\xe9\xff"), "caf\xc3\xa9\xc3\xbf");
  EXPECT_EQ(io::to_utf8("\xe2\x82\xac ok"), "\xe2\x82\xac ok");  // valid UTF-8 is kept
  EXPECT_EQ(io::to_utf8("\xe2\x82"), "\xc3\xa2\xc2\x82");        // a cut sequence is not
}

// Found by fuzzing (nan_coordinate_json_null.nc): a NaN longitude became JSON null in the metadata
// gather and failed there with a type_error; the file's own grid error is reported now.
TEST(HostileHeaders, NanLongitudeIsAGridError) {
  TempDir dir;
  std::string cdl = cam_cdl();
  cdl.replace(cdl.find("lon = 0, 90"), 11, "lon = NaN, 90");
  ncgen(dir / "nanlon.nc", cdl);
  EXPECT_EQ(error_of([&] { io::Archive::open({(dir / "nanlon.nc").string()}); }),
            (dir / "nanlon.nc").string() + ": coordinates lat/lon: longitude value nan is not finite");
}

}  // namespace
}  // namespace climseg::test

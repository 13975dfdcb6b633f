// File sniffing and the NcFile wrapper on small files made here.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace climseg::io;

TEST(Sniff, RecognisesSignatures) {
  climseg::test::TempDir dir;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  EXPECT_EQ(sniff_file(write("a.nc", std::string("CDF\x01", 4) + "rest")), FileKind::netcdf3_classic);
  EXPECT_EQ(sniff_file(write("b.nc", std::string("CDF\x02", 4) + "rest")), FileKind::netcdf3_64bit_offset);
  EXPECT_EQ(sniff_file(write("c.nc", std::string("CDF\x05", 4) + "rest")), FileKind::netcdf3_cdf5);
  EXPECT_EQ(sniff_file(write("d.h5", std::string("\x89HDF\r\n\x1a\n", 8) + "rest")), FileKind::hdf5);
  EXPECT_EQ(sniff_file(write("e.txt", "hello world")), FileKind::unknown);
  EXPECT_EQ(sniff_file(write("f.nc", "")), FileKind::empty);
  EXPECT_EQ(sniff_file(dir / "none.nc"), FileKind::missing);
  EXPECT_EQ(sniff_file(dir.path()), FileKind::directory);
}

TEST(NcFile, OpensAndReportsFormat) {
  climseg::test::TempDir dir;
  fs::path p = dir / "t.nc";
  int ncid = 0, dim = 0, var = 0;
  ASSERT_EQ(nc_create(p.c_str(), NC_CLOBBER | NC_64BIT_DATA, &ncid), NC_NOERR);
  nc_def_dim(ncid, "x", 3, &dim);
  nc_def_var(ncid, "v", NC_SHORT, 1, &dim, &var);
  nc_put_att_text(ncid, var, "units", 1, "K");
  double scale = 0.5;
  nc_put_att_double(ncid, var, "scale_factor", NC_DOUBLE, 1, &scale);
  nc_enddef(ncid);
  nc_close(ncid);
  NcFile f(p);
  EXPECT_EQ(f.format_name(), "netCDF-3 CDF5");
  int v = nc_find_var(f.id(), "v");
  ASSERT_GE(v, 0);
  EXPECT_EQ(nc_find_var(f.id(), "nope"), -1);
  EXPECT_EQ(nc_att_text(f.id(), v, "units"), "K");
  EXPECT_EQ(nc_att_numbers(f.id(), v, "scale_factor"), std::vector<double>{0.5});
  EXPECT_EQ(nc_var_shape(f.id(), v), std::vector<size_t>{3});
}

TEST(NcFile, ErrorsNameTheFile) {
  try {
    NcFile f("/no/such/file.nc");
    FAIL();
  } catch (const climseg::Error& e) {
    EXPECT_STREQ(e.what(), "/no/such/file.nc: no such file");
  }
}

// Reads the installed sample file through climseg::readers: "<format> <lat> <lon>" (netCDF-4 96 144).
#include <cstdio>

#include "readers/netcdf_file.hpp"

int main(int argc, char** argv) {
  using namespace climseg::io;
  NcFile f(argc > 1 ? argv[1] : CLIMSEG_DATA "/sample/synth.cam.h2.2000-01-01-00000.nc");
  const int lat = nc_find_var(f.id(), "lat"), lon = nc_find_var(f.id(), "lon");
  std::printf("%s %zu %zu\n", f.format_name().c_str(), nc_var_shape(f.id(), lat).at(0),
              nc_var_shape(f.id(), lon).at(0));
}

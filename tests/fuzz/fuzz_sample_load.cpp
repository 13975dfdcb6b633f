// Fuzz target: a NetCDF/HDF5 file's bytes through Archive::load (CF handling: packing, fill values,
// valid ranges, calendars, orientation, levels; the direct chunk reader) for the first samples, and
// the 3-D field reader.
#include "fuzz_support.hpp"
#include "readers/archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace climseg;
  fuzz::quiet();
  static fuzz::InputFile input(".nc");
  const auto& path = input.write(data, size);
  for (bool direct : {true, false}) {
    fuzz::expect_clean_error([&] {
      io::ArchiveOptions o;
      o.direct_read = direct;
      o.labels = "auto";
      o.read_threads = 1;
      io::Archive a = io::Archive::open({path.string()}, o);
      const int64_t n = std::min<int64_t>(a.size(), 3);
      io::Sample s;
      for (int64_t i = 0; i < n; ++i) a.load_into(i, s);
    });
  }
  // Every variable with levels, as a 3-D field (IVT's input).
  fuzz::expect_clean_error([&] {
    io::Archive a = io::Archive::open({path.string()});
    if (a.size() == 0) return;
    for (const auto& f : a.files())
      for (const auto& v : f.vars)
        if (v.field && v.level_dim >= 0) fuzz::expect_clean_error([&] { (void)a.load_field(0, v.name); });
  });
  return 0;
}

// Fuzz target: a NetCDF/HDF5 file's bytes through the raw inspector and Archive::open (format sniffing,
// the netCDF-3 header parser, CF coordinate discovery, time decoding, the catalog).
#include "fuzz_support.hpp"
#include "readers/archive.hpp"
#include "readers/describe.hpp"
#include "readers/inspect.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace climseg;
  fuzz::quiet();
  static fuzz::InputFile input(".nc");
  const auto& path = input.write(data, size);
  fuzz::expect_clean_error([&] { (void)io::format_raw(io::inspect_raw(path)); });
  fuzz::expect_clean_error([&] {
    io::Archive a = io::Archive::open({path.string()});
    for (const auto& f : a.files()) (void)io::format_semantic(io::describe_semantic(f));
    for (int64_t i = 0; i < a.size(); ++i) (void)a.info(i);
  });
  return 0;
}

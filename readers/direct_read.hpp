// Reading netCDF-4 float fields straight from the file's bytes: the chunk (or contiguous block)
// addresses come from HDF5 under the global lock, then the bytes are read with pread() and, when
// compressed, inflated with libdeflate (and unshuffled) on as many threads as there are channels to read.
// Debian's HDF5 is not thread-safe, so this is how several cores help one process read a sample.
#pragma once

#include <hdf5.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "readers/cf_file.hpp"

namespace climseg::io {

// How to read one (record, level) plane of a variable, (rows, cols) in file order.
struct DirectPlan {
  struct Piece {
    uint64_t addr = 0, bytes = 0;  // where the stored chunk (or block) is in the file
    bool deflate = false, shuffle = false;
    int64_t r0 = 0, c0 = 0;                  // its first row and column in the plane
    int64_t chunk_rows = 0, chunk_cols = 0;  // its (lat, lon) extent as stored (edge chunks overhang)
    int64_t plane_offset = 0;                // elements before our plane inside the chunk (leading dims)
    int64_t chunk_elems = 0;                 // elements in the whole chunk
    bool big_endian = false;                 // netCDF-3 data are stored big-endian
  };
  int fd = -1;
  int64_t rows = 0, cols = 0;
  std::vector<Piece> pieces;
};

// Opens the HDF5 side of a netCDF-4 file beside NetCDF's own handle, read-only; closed on
// destruction (under the HDF5 lock).
class Hdf5Direct {
 public:
  explicit Hdf5Direct(const std::string& path);
  ~Hdf5Direct();
  Hdf5Direct(const Hdf5Direct&) = delete;
  Hdf5Direct& operator=(const Hdf5Direct&) = delete;
  bool ok() const { return file_ >= 0 && fd_ >= 0; }

  // Builds the plan for plane (t, level) of a float variable of the root group; false (and the
  // caller reads through NetCDF) when the layout is not one this handles: not little-endian
  // float32, filters other than shuffle and deflate, chunks not allocated (fill), ...
  // Takes the HDF5 lock.
  bool plan(const VarMeta& var, int64_t t, int64_t level, DirectPlan& out);

 private:
  std::string path_;
  hid_t file_ = -1;
  int fd_ = -1;
  uint64_t base_ = 0;  // user block size: HDF5 addresses are relative to it
};

// The same for netCDF-3 files (classic, 64-bit offset, CDF5): data are uncompressed and laid out
// by the header (readers/cdf_header.hpp), so a plane is one contiguous run of big-endian floats.
class ClassicDirect {
 public:
  explicit ClassicDirect(const std::string& path);
  ~ClassicDirect();
  ClassicDirect(const ClassicDirect&) = delete;
  ClassicDirect& operator=(const ClassicDirect&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool plan(const VarMeta& var, int64_t t, int64_t level, DirectPlan& out) const;

 private:
  int fd_ = -1;
  int64_t numrecs_ = 0, record_bytes_ = 0;
  std::vector<std::pair<std::string, std::array<int64_t, 3>>> vars_;  // name → {type, begin, record}
};

// Executes a plan into `dst` (rows, cols) in file order. Thread-safe, takes no lock; `scratch` is
// the caller's per-thread buffer. Throws Error naming `path` when the bytes cannot be read or
// inflated (a damaged file).
void execute_direct(const DirectPlan& plan, const std::string& path, float* dst, std::vector<unsigned char>& scratch);

// Asks the kernel to start reading a plan's stored bytes into the page cache and returns at once
// (posix_fadvise WILLNEED): the disk or the parallel file system then works while the caller does
// something else, on none of its cores. A hint: errors are ignored.
void advise_willneed(const DirectPlan& plan);

}  // namespace climseg::io

// Direct reads of netCDF-4 float planes: chunk addresses from HDF5, bytes by pread, zlib inflate.
#include "readers/direct_read.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/error.hpp"
#include "core/h5.hpp"
#include "readers/cdf_header.hpp"

namespace climseg::io {
namespace {

// Closes an HDF5 id with the matching function on scope exit.
struct H5Id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~H5Id() {
    if (id >= 0) close(id);
  }
};

// Silences HDF5's error stack printing while probing (a missing dataset is not an error here).
struct QuietHdf5 {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func, data); }
};

void pread_all(int fd, unsigned char* buf, uint64_t bytes, uint64_t addr, const std::string& path) {
  uint64_t done = 0;
  while (done < bytes) {
    ssize_t n = ::pread(fd, buf + done, bytes - done, static_cast<off_t>(addr + done));
    if (n <= 0) fail("{}: cannot read {} bytes at offset {}: the file is truncated or damaged", path, bytes, addr);
    done += static_cast<uint64_t>(n);
  }
}

}  // namespace

Hdf5Direct::Hdf5Direct(const std::string& path) : path_(path) {
  h5::LibraryLock lock(h5::library_mutex());
  QuietHdf5 quiet;
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) return;
  H5Id fcpl{H5Fget_create_plist(file_), H5Pclose};
  hsize_t ub = 0;
  if (fcpl.id >= 0 && H5Pget_userblock(fcpl.id, &ub) >= 0) base_ = ub;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

Hdf5Direct::~Hdf5Direct() {
  h5::LibraryLock lock(h5::library_mutex());
  if (file_ >= 0) H5Fclose(file_);
  if (fd_ >= 0) ::close(fd_);
}

bool Hdf5Direct::plan(const VarMeta& var, int64_t t, int64_t level, DirectPlan& out) {
  if (!ok() || var.type != "float" || var.deepcam_channel >= 0) return false;
  h5::LibraryLock lock(h5::library_mutex());
  QuietHdf5 quiet;
  H5Id dset{H5Dopen2(file_, var.name.c_str(), H5P_DEFAULT), H5Dclose};
  if (dset.id < 0) return false;
  H5Id type{H5Dget_type(dset.id), H5Tclose};
  if (type.id < 0 || H5Tequal(type.id, H5T_IEEE_F32LE) <= 0) return false;
  H5Id space{H5Dget_space(dset.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank != static_cast<int>(var.dims.size()) || rank < 2) return false;
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  H5Id dcpl{H5Dget_create_plist(dset.id), H5Pclose};
  const H5D_layout_t layout = H5Pget_layout(dcpl.id);

  out = DirectPlan{};
  out.fd = fd_;
  out.rows = static_cast<int64_t>(dims[static_cast<size_t>(rank - 2)]);
  out.cols = static_cast<int64_t>(dims[static_cast<size_t>(rank - 1)]);
  // Index of the plane along the leading dimensions (record, level, length-1 others).
  std::vector<hsize_t> lead(static_cast<size_t>(rank - 2), 0);
  for (int d = 0; d < rank - 2; ++d) {
    if (d == var.time_dim) lead[static_cast<size_t>(d)] = static_cast<hsize_t>(t);
    if (d == var.level_dim) lead[static_cast<size_t>(d)] = static_cast<hsize_t>(level);
    if (lead[static_cast<size_t>(d)] >= dims[static_cast<size_t>(d)]) return false;
  }

  if (layout == H5D_CONTIGUOUS) {
    if (H5Pget_nfilters(dcpl.id) != 0) return false;
    const haddr_t addr = H5Dget_offset(dset.id);
    if (addr == HADDR_UNDEF) return false;
    int64_t plane = 0;
    for (int d = 0; d < rank - 2; ++d)
      plane = plane * static_cast<int64_t>(dims[static_cast<size_t>(d)]) +
              static_cast<int64_t>(lead[static_cast<size_t>(d)]);
    DirectPlan::Piece p;
    p.addr = base_ + addr + static_cast<uint64_t>(plane * out.rows * out.cols) * 4u;
    p.bytes = static_cast<uint64_t>(out.rows * out.cols) * 4u;
    p.chunk_rows = out.rows;
    p.chunk_cols = out.cols;
    p.chunk_elems = out.rows * out.cols;
    out.pieces.push_back(p);
    return true;
  }
  if (layout != H5D_CHUNKED) return false;
  bool shuffle = false, deflate = false;
  const int nfilters = H5Pget_nfilters(dcpl.id);
  for (int k = 0; k < nfilters; ++k) {
    unsigned flags = 0;
    size_t nelem = 0;
    unsigned config = 0;
    H5Z_filter_t f = H5Pget_filter2(dcpl.id, static_cast<unsigned>(k), &flags, &nelem, nullptr, 0, nullptr, &config);
    if (f == H5Z_FILTER_SHUFFLE && k == 0)
      shuffle = true;
    else if (f == H5Z_FILTER_DEFLATE && k == nfilters - 1)
      deflate = true;
    else
      return false;
  }
  std::vector<hsize_t> chunk(static_cast<size_t>(rank));
  if (H5Pget_chunk(dcpl.id, rank, chunk.data()) != rank) return false;
  int64_t chunk_elems = 1;
  for (hsize_t c : chunk) chunk_elems *= static_cast<int64_t>(c);
  int64_t plane_offset = 0;
  for (int d = 0; d < rank - 2; ++d)
    plane_offset = plane_offset * static_cast<int64_t>(chunk[static_cast<size_t>(d)]) +
                   static_cast<int64_t>(lead[static_cast<size_t>(d)] % chunk[static_cast<size_t>(d)]);
  plane_offset *= static_cast<int64_t>(chunk[static_cast<size_t>(rank - 2)] * chunk[static_cast<size_t>(rank - 1)]);
  const auto cr = static_cast<int64_t>(chunk[static_cast<size_t>(rank - 2)]);
  const auto cc = static_cast<int64_t>(chunk[static_cast<size_t>(rank - 1)]);
  std::vector<hsize_t> offset(static_cast<size_t>(rank));
  for (int d = 0; d < rank - 2; ++d)
    offset[static_cast<size_t>(d)] =
        lead[static_cast<size_t>(d)] / chunk[static_cast<size_t>(d)] * chunk[static_cast<size_t>(d)];
  for (int64_t r0 = 0; r0 < out.rows; r0 += cr)
    for (int64_t c0 = 0; c0 < out.cols; c0 += cc) {
      offset[static_cast<size_t>(rank - 2)] = static_cast<hsize_t>(r0);
      offset[static_cast<size_t>(rank - 1)] = static_cast<hsize_t>(c0);
      unsigned mask = 0;
      haddr_t addr = HADDR_UNDEF;
      hsize_t size = 0;
      if (H5Dget_chunk_info_by_coord(dset.id, offset.data(), &mask, &addr, &size) < 0 || addr == HADDR_UNDEF ||
          size == 0)
        return false;  // unallocated chunk: fill values, leave it to the library
      DirectPlan::Piece p;
      p.addr = base_ + addr;
      p.bytes = size;
      // A set bit in the mask means that filter was skipped for this chunk.
      p.shuffle = shuffle && !(mask & 1u);
      p.deflate = deflate && !(mask & (1u << (nfilters - 1)));
      p.r0 = r0;
      p.c0 = c0;
      p.chunk_rows = cr;
      p.chunk_cols = cc;
      p.plane_offset = plane_offset;
      p.chunk_elems = chunk_elems;
      out.pieces.push_back(p);
    }
  return true;
}

ClassicDirect::ClassicDirect(const std::string& path) {
  CdfLayout layout = check_cdf_file(path);
  numrecs_ = layout.numrecs;
  record_bytes_ = layout.record_bytes;
  for (const CdfVar& v : layout.vars) vars_.push_back({v.name, {v.type, v.begin, v.record ? 1 : 0}});
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

ClassicDirect::~ClassicDirect() {
  if (fd_ >= 0) ::close(fd_);
}

bool ClassicDirect::plan(const VarMeta& var, int64_t t, int64_t level, DirectPlan& out) const {
  constexpr int kFloat = 5;
  if (!ok() || var.type != "float") return false;
  const auto it = std::find_if(vars_.begin(), vars_.end(), [&](const auto& v) { return v.first == var.name; });
  if (it == vars_.end() || it->second[0] != kFloat) return false;
  const bool record = it->second[2] != 0;
  if (record && var.time_dim != 0) return false;  // a record dimension that is not the time axis
  if (record && (t < 0 || t >= numrecs_)) return false;
  const int rank = static_cast<int>(var.dims.size());
  int64_t plane = 0;  // index of the plane among the non-record leading dimensions
  for (int d = record ? 1 : 0; d < rank - 2; ++d) {
    const int64_t index = d == var.time_dim ? t : d == var.level_dim ? level : 0;
    if (index < 0 || index >= var.shape[static_cast<size_t>(d)]) return false;
    plane = plane * var.shape[static_cast<size_t>(d)] + index;
  }
  out = DirectPlan{};
  out.fd = fd_;
  out.rows = var.shape[static_cast<size_t>(rank - 2)];
  out.cols = var.shape[static_cast<size_t>(rank - 1)];
  DirectPlan::Piece p;
  p.bytes = static_cast<uint64_t>(out.rows * out.cols) * 4u;
  p.addr =
      static_cast<uint64_t>(it->second[1] + (record ? t * record_bytes_ : 0)) + static_cast<uint64_t>(plane) * p.bytes;
  p.chunk_rows = out.rows;
  p.chunk_cols = out.cols;
  p.chunk_elems = out.rows * out.cols;
  p.big_endian = true;
  out.pieces.push_back(p);
  return true;
}

void advise_willneed(const DirectPlan& plan) {
  for (const DirectPlan::Piece& p : plan.pieces)
    (void)posix_fadvise(plan.fd, static_cast<off_t>(p.addr), static_cast<off_t>(p.bytes), POSIX_FADV_WILLNEED);
}

void execute_direct(const DirectPlan& plan, const std::string& path, float* dst, std::vector<unsigned char>& scratch) {
  for (const DirectPlan::Piece& p : plan.pieces) {
    const uint64_t raw_bytes = static_cast<uint64_t>(p.chunk_elems) * 4u;
    const bool whole_plane = !p.deflate && !p.shuffle && p.r0 == 0 && p.c0 == 0 && p.chunk_rows == plan.rows &&
                             p.chunk_cols == plan.cols && p.plane_offset == 0 && p.bytes == raw_bytes &&
                             p.chunk_elems == plan.rows * plan.cols;
    if (whole_plane) {  // straight into the destination
      pread_all(plan.fd, reinterpret_cast<unsigned char*>(dst), p.bytes, p.addr, path);
      if (p.big_endian) {
        auto* words = reinterpret_cast<uint32_t*>(dst);
        for (int64_t i = 0; i < p.chunk_elems; ++i) words[i] = __builtin_bswap32(words[i]);
      }
      continue;
    }
    // A chunk that is exactly the plane (one step of a CAM-like file) is unshuffled (or inflated,
    // without shuffle) straight into the destination: no copy of 3.5 MB per 768x1152 channel.
    const bool is_plane = !p.big_endian && p.r0 == 0 && p.c0 == 0 && p.chunk_rows == plan.rows &&
                          p.chunk_cols == plan.cols && p.plane_offset == 0 && p.chunk_elems == plan.rows * plan.cols;
    scratch.resize(p.bytes + 2 * raw_bytes);
    // 4-byte aligned views: plain and inflated at multiples of raw_bytes from the allocation.
    unsigned char* plain = is_plane ? reinterpret_cast<unsigned char*>(dst) : scratch.data();
    unsigned char* inflated = scratch.data() + raw_bytes;
    if (is_plane && p.deflate && !p.shuffle) inflated = plain;
    unsigned char* stored = scratch.data() + 2 * raw_bytes;
    pread_all(plan.fd, stored, p.bytes, p.addr, path);
    const unsigned char* data = stored;
    if (p.deflate) {
      // HDF5's deflate filter stores zlib streams; libdeflate inflates them about twice as fast
      // as zlib. One decompressor per thread.
      thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> inflater(
          libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
      if (!inflater) fail("{}: cannot allocate a decompressor", path);
      size_t len = 0;
      if (libdeflate_zlib_decompress(inflater.get(), stored, p.bytes, inflated, raw_bytes, &len) !=
              LIBDEFLATE_SUCCESS ||
          len != raw_bytes)
        fail("{}: a compressed chunk at offset {} does not inflate: the file is damaged", path, p.addr);
      data = inflated;
    } else if (p.bytes != raw_bytes) {
      fail("{}: a chunk at offset {} has {} bytes, expected {}", path, p.addr, p.bytes, raw_bytes);
    }
    if (p.shuffle) {  // HDF5 shuffle: byte k of every element stored together
      // Four sequential byte streams into little-endian 32-bit words (vectorizes).
      const auto n = static_cast<size_t>(p.chunk_elems);
      const unsigned char *b0 = data, *b1 = data + n, *b2 = data + 2 * n, *b3 = data + 3 * n;
      auto* words = reinterpret_cast<uint32_t*>(plain);
      for (size_t i = 0; i < n; ++i)
        words[i] = uint32_t(b0[i]) | uint32_t(b1[i]) << 8 | uint32_t(b2[i]) << 16 | uint32_t(b3[i]) << 24;
      data = plain;
    }
    if (is_plane && data == plain) continue;  // already in place
    const auto* chunk = reinterpret_cast<const float*>(data) + p.plane_offset;
    const int64_t rows = std::min(p.chunk_rows, plan.rows - p.r0), cols = std::min(p.chunk_cols, plan.cols - p.c0);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + (p.r0 + r) * plan.cols + p.c0, chunk + r * p.chunk_cols, static_cast<size_t>(cols) * 4u);
  }
}

}  // namespace climseg::io

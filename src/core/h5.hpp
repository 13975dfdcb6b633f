// RAII over the HDF5 C library: files, groups, datasets and attributes, with errors that name the
// file and the object. Used for checkpoints, state_dicts and committed reference data.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace climseg::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close on destruction.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }  // the caller closes it

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// A group (or the root of a file): the place datasets and attributes live. `where()` is
// "file.h5:/group/sub" for messages.
class Group {
 public:
  Group() = default;
  Group(Handle handle, std::string file, std::string path)
      : handle_(std::move(handle)), file_(std::move(file)), path_(std::move(path)) {}
  hid_t id() const { return handle_.id(); }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string where(const std::string& name = {}) const;

  bool has(const std::string& name) const;  // a link (group or dataset) with this name exists
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  Group open_group(const std::string& name) const;
  Group create_group(const std::string& name) const;
  // Names of the direct members, in the file's (alphabetical) order.
  std::vector<std::string> members() const;

  // Datasets (row-major; `shape` empty means a scalar dataset).
  void write(const std::string& name, const float* data, const Shape& shape) const;
  void write(const std::string& name, const double* data, const Shape& shape) const;
  void write(const std::string& name, const int64_t* data, const Shape& shape) const;
  void write(const std::string& name, const uint64_t* data, const Shape& shape) const;
  void write(const std::string& name, const Tensor& t) const { write(name, t.data(), t.shape()); }
  Shape dataset_shape(const std::string& name) const;
  // Reads a numeric dataset converted to the requested type; throws naming the dataset if absent.
  Tensor read_tensor(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  std::vector<int64_t> read_int64s(const std::string& name) const;
  std::vector<uint64_t> read_uint64s(const std::string& name) const;
  // Reads into caller memory after checking the dataset has exactly `expected` shape.
  void read_into(const std::string& name, float* dst, const Shape& expected) const;

  // Attributes on this group.
  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;  // every attribute, in creation (or name) order
  bool attr_is_string(const std::string& name) const;
  void set_attr(const std::string& name, const std::string& value) const;  // variable-length UTF-8
  void set_attr(const std::string& name, int64_t value) const;
  void set_attr(const std::string& name, double value) const;
  std::string attr_string(const std::string& name) const;
  int64_t attr_int64(const std::string& name) const;
  double attr_double(const std::string& name) const;

 protected:
  Handle handle_;
  std::string file_;
  std::string path_;
};

// An open HDF5 file; its root group is the Group base.
class File : public Group {
 public:
  // Opens an existing file read-only (or read-write); a missing or non-HDF5 file is an Error.
  static File open(const std::filesystem::path& path, bool writable = false);
  // Opens a file that came from outside (checkpoints, model weights) read-only: a sealed file
  // (core/checksum.hpp) must match its seal; any other is first read whole by probe(), so that a
  // file damaged in a way that crashes the HDF5 library is refused with an Error instead.
  static File open_verified(const std::filesystem::path& path);
  // Creates (truncates) a file, with an HDF5 user block of `userblock` bytes (0, or a power of two
  // >= 512) at its start. Checkpoints go through AtomicOutput: create at its temp_path(), close,
  // seal, then commit().
  static File create(const std::filesystem::path& path, uint64_t userblock = 0);
  void close();  // flushes and closes; the destructor closes too, silently

 private:
  File(Handle handle, std::string file) : Group(std::move(handle), std::move(file), "/") {}
};

// Reads every group, attribute and dataset of a file in a forked child (core/isolate.hpp) and
// throws Error naming the file if the HDF5 library crashes or hangs on it (runs past 10 s plus one
// second per 20 MB of file). Errors the library reports cleanly are left for the real read to meet.
void probe(const std::filesystem::path& path);

// Turns off HDF5's automatic error printing (our exceptions say what failed). Idempotent.
void silence_errors();

// The one process-wide lock of the HDF5 library. Debian's HDF5 is built without thread safety: every
// HDF5 and NetCDF call in the process (readers on the prefetch thread, writers, checkpoints here) must
// hold it, for the whole span of its open/read/close calls, never across a wait on another thread or
// a collective. Recursive, so a helper holding it may call another that takes it. Every function here
// takes it.
std::recursive_mutex& library_mutex();
using LibraryLock = std::lock_guard<std::recursive_mutex>;

}  // namespace climseg::h5

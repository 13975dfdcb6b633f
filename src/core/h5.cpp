// RAII HDF5 handles and typed helpers; every failure becomes one Error naming file and object.
#include "core/h5.hpp"

#include <sys/stat.h>

#include <map>
#include <mutex>

#include "core/checksum.hpp"
#include "core/error.hpp"
#include "core/isolate.hpp"

namespace climseg::h5 {
namespace fs = std::filesystem;
namespace {

hid_t native_type(const float*) { return H5T_NATIVE_FLOAT; }
hid_t native_type(const double*) { return H5T_NATIVE_DOUBLE; }
hid_t native_type(const int64_t*) { return H5T_NATIVE_INT64; }
hid_t native_type(const uint64_t*) { return H5T_NATIVE_UINT64; }

Handle make_space(const Shape& shape) {
  LibraryLock lock(library_mutex());
  if (shape.empty()) return Handle(H5Screate(H5S_SCALAR), H5Sclose);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
}

Shape space_shape(hid_t space) {
  LibraryLock lock(library_mutex());
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd < 0) return {};
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

template <class T>
void write_dataset(const Group& g, const std::string& name, const T* data, const Shape& shape) {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (g.has(name)) fail("{}: already exists", g.where(name));
  Handle space = make_space(shape);
  Handle dset(H5Dcreate2(g.id(), name.c_str(), native_type(data), space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!dset.valid()) fail("{}: cannot create dataset", g.where(name));
  if (shape_numel(shape) > 0 && H5Dwrite(dset.id(), native_type(data), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("{}: cannot write dataset (disk full?)", g.where(name));
}

Handle open_dataset(const Group& g, const std::string& name) {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (!g.has_dataset(name)) fail("{}: no such dataset", g.where(name));
  Handle dset(H5Dopen2(g.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!dset.valid()) fail("{}: cannot open dataset", g.where(name));
  return dset;
}

template <class T>
std::vector<T> read_dataset(const Group& g, const std::string& name, Shape* shape_out = nullptr) {
  LibraryLock lock(library_mutex());
  Handle dset = open_dataset(g, name);
  Handle space(H5Dget_space(dset.id()), H5Sclose);
  Shape shape = space_shape(space.id());
  Handle type(H5Dget_type(dset.id()), H5Tclose);
  H5T_class_t cls = H5Tget_class(type.id());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) fail("{}: not a numeric dataset", g.where(name));
  {
    // A damaged or hostile file may claim any shape (fuzzing found checkpoints claiming 2^60
    // values): the values must be stored in the file (all of them when unfiltered; at most 1024:1
    // when compressed) before memory is allocated for them.
    double numel = 1;
    for (int64_t d : shape) numel *= static_cast<double>(d);
    const auto stored = static_cast<double>(H5Dget_storage_size(dset.id()));
    const auto bytes = numel * static_cast<double>(H5Tget_size(type.id()));
    Handle dcpl(H5Dget_create_plist(dset.id()), H5Pclose);
    const bool filtered = H5Pget_nfilters(dcpl.id()) > 0;
    if (numel > 0 && (filtered ? bytes > stored * 1024 + (1 << 20) : bytes > stored))
      fail("{}: claims {} values ({} bytes) but the file holds {} bytes of them (damaged file?)", g.where(name), numel,
           bytes, stored);
  }
  std::vector<T> out(static_cast<size_t>(shape_numel(shape)));
  T* p = out.data();
  if (!out.empty() && H5Dread(dset.id(), native_type(p), H5S_ALL, H5S_ALL, H5P_DEFAULT, p) < 0)
    fail("{}: cannot read dataset (damaged file?)", g.where(name));
  if (shape_out) *shape_out = std::move(shape);
  return out;
}

Handle open_attr(const Group& g, const std::string& name) {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (H5Aexists(g.id(), name.c_str()) <= 0) fail("{}: no attribute '{}'", g.where(), name);
  Handle a(H5Aopen(g.id(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.valid()) fail("{}: cannot open attribute '{}'", g.where(), name);
  return a;
}

void replace_attr(const Group& g, const std::string& name) {
  LibraryLock lock(library_mutex());
  if (H5Aexists(g.id(), name.c_str()) > 0) H5Adelete(g.id(), name.c_str());
}

template <class T>
void set_numeric_attr(const Group& g, const std::string& name, T value) {
  LibraryLock lock(library_mutex());
  silence_errors();
  replace_attr(g, name);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(g.id(), name.c_str(), native_type(&value), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid() || H5Awrite(a.id(), native_type(&value), &value) < 0)
    fail("{}: cannot write attribute '{}'", g.where(), name);
}

template <class T>
T numeric_attr(const Group& g, const std::string& name) {
  LibraryLock lock(library_mutex());
  Handle a = open_attr(g, name);
  Handle space(H5Aget_space(a.id()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id()) != 1) fail("{}: attribute '{}' is not a scalar", g.where(), name);
  T value{};
  if (H5Aread(a.id(), native_type(&value), &value) < 0) fail("{}: attribute '{}' is not a number", g.where(), name);
  return value;
}

}  // namespace

namespace {
std::recursive_mutex*& library_mutex_slot() {
  static std::recursive_mutex* m = new std::recursive_mutex;  // never destroyed: used at exit
  return m;
}
}  // namespace

std::recursive_mutex& library_mutex() { return *library_mutex_slot(); }

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void Handle::reset() {
  LibraryLock lock(library_mutex());
  if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  id_ = H5I_INVALID_HID;
}

std::string Group::where(const std::string& name) const {
  std::string p = path_;
  if (!name.empty()) p = (p == "/" ? "/" : p + "/") + name;
  return file_ + ":" + p;
}

bool Group::has(const std::string& name) const {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (name.empty() || name.find('/') != std::string::npos) return false;
  return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0;
}

static bool has_kind(const Group& g, const std::string& name, H5O_type_t kind) {
  LibraryLock lock(library_mutex());
  if (!g.has(name)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(g.id(), name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == kind;
}

bool Group::has_group(const std::string& name) const { return has_kind(*this, name, H5O_TYPE_GROUP); }
bool Group::has_dataset(const std::string& name) const { return has_kind(*this, name, H5O_TYPE_DATASET); }

Group Group::open_group(const std::string& name) const {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (!has_group(name)) fail("{}: no such group", where(name));
  Handle h(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!h.valid()) fail("{}: cannot open group", where(name));
  return Group(std::move(h), file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

Group Group::create_group(const std::string& name) const {
  LibraryLock lock(library_mutex());
  silence_errors();
  if (has(name)) fail("{}: already exists", where(name));
  Handle h(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!h.valid()) fail("{}: cannot create group", where(name));
  return Group(std::move(h), file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

std::vector<std::string> Group::members() const {
  LibraryLock lock(library_mutex());
  silence_errors();
  std::vector<std::string> names;
  auto cb = [](hid_t, const char* n, const H5L_info_t*, void* op) -> herr_t {
    static_cast<std::vector<std::string>*>(op)->emplace_back(n);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &names) < 0) fail("{}: cannot list members", where());
  return names;
}

void Group::write(const std::string& name, const float* data, const Shape& shape) const {
  write_dataset(*this, name, data, shape);
}
void Group::write(const std::string& name, const double* data, const Shape& shape) const {
  write_dataset(*this, name, data, shape);
}
void Group::write(const std::string& name, const int64_t* data, const Shape& shape) const {
  write_dataset(*this, name, data, shape);
}
void Group::write(const std::string& name, const uint64_t* data, const Shape& shape) const {
  write_dataset(*this, name, data, shape);
}

Shape Group::dataset_shape(const std::string& name) const {
  LibraryLock lock(library_mutex());
  Handle dset = open_dataset(*this, name);
  Handle space(H5Dget_space(dset.id()), H5Sclose);
  return space_shape(space.id());
}

Tensor Group::read_tensor(const std::string& name) const {
  Shape shape;
  std::vector<float> v = read_dataset<float>(*this, name, &shape);
  Tensor t = Tensor::empty(shape);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

std::vector<double> Group::read_doubles(const std::string& name) const { return read_dataset<double>(*this, name); }
std::vector<int64_t> Group::read_int64s(const std::string& name) const { return read_dataset<int64_t>(*this, name); }
std::vector<uint64_t> Group::read_uint64s(const std::string& name) const { return read_dataset<uint64_t>(*this, name); }

void Group::read_into(const std::string& name, float* dst, const Shape& expected) const {
  LibraryLock lock(library_mutex());
  Handle dset = open_dataset(*this, name);
  Handle space(H5Dget_space(dset.id()), H5Sclose);
  Shape shape = space_shape(space.id());
  if (shape != expected) fail("{}: shape {} where {} was expected", where(name), shape_str(shape), shape_str(expected));
  if (shape_numel(shape) > 0 && H5Dread(dset.id(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
    fail("{}: cannot read dataset (damaged file?)", where(name));
}

bool Group::has_attr(const std::string& name) const {
  LibraryLock lock(library_mutex());
  silence_errors();
  return H5Aexists(id(), name.c_str()) > 0;
}

void Group::set_attr(const std::string& name, const std::string& value) const {
  LibraryLock lock(library_mutex());
  silence_errors();
  replace_attr(*this, name);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  if (!a.valid() || H5Awrite(a.id(), type.id(), &p) < 0) fail("{}: cannot write attribute '{}'", where(), name);
}

void Group::set_attr(const std::string& name, int64_t value) const { set_numeric_attr(*this, name, value); }
void Group::set_attr(const std::string& name, double value) const { set_numeric_attr(*this, name, value); }

std::vector<std::string> Group::attr_names() const {
  LibraryLock lock(library_mutex());
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names) < 0)
    fail("{}: cannot list attributes", where());
  return names;
}

bool Group::attr_is_string(const std::string& name) const {
  LibraryLock lock(library_mutex());
  Handle a = open_attr(*this, name);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  return H5Tget_class(type.id()) == H5T_STRING;
}

std::string Group::attr_string(const std::string& name) const {
  LibraryLock lock(library_mutex());
  Handle a = open_attr(*this, name);
  Handle type(H5Aget_type(a.id()), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_STRING) fail("{}: attribute '{}' is not a string", where(), name);
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.id(), H5T_VARIABLE);
    H5Tset_cset(mem.id(), H5Tget_cset(type.id()));
    char* p = nullptr;
    if (H5Aread(a.id(), mem.id(), &p) < 0) fail("{}: cannot read attribute '{}'", where(), name);
    std::string s = p ? p : "";
    Handle space(H5Aget_space(a.id()), H5Sclose);
    H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, &p);
    return s;
  }
  size_t n = H5Tget_size(type.id());
  std::string s(n, '\0');
  if (H5Aread(a.id(), type.id(), s.data()) < 0) fail("{}: cannot read attribute '{}'", where(), name);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

int64_t Group::attr_int64(const std::string& name) const { return numeric_attr<int64_t>(*this, name); }
double Group::attr_double(const std::string& name) const { return numeric_attr<double>(*this, name); }

File File::open(const fs::path& path, bool writable) {
  LibraryLock lock(library_mutex());
  silence_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file", path.string());
  if (fs::is_directory(path, ec)) fail("{}: is a directory, not an HDF5 file", path.string());
  if (H5Fis_hdf5(path.c_str()) <= 0) fail("{}: not an HDF5 file", path.string());
  Handle h(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!h.valid()) fail("{}: cannot open: the file is truncated or damaged", path.string());
  return File(std::move(h), path.string());
}

File File::create(const fs::path& path, uint64_t userblock) {
  LibraryLock lock(library_mutex());
  silence_errors();
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  if (userblock > 0 && H5Pset_userblock(fcpl.id(), userblock) < 0)
    fail("{}: cannot reserve a user block of {} bytes", path.string(), userblock);
  Handle h(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), H5P_DEFAULT), H5Fclose);
  if (!h.valid()) fail("{}: cannot create HDF5 file", path.string());
  return File(std::move(h), path.string());
}

File File::open_verified(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file", path.string());
  if (fs::is_directory(path, ec)) fail("{}: is a directory, not an HDF5 file", path.string());
  if (check_seal(path) == SealState::absent) probe(path);
  return open(path);
}

namespace {

// Everything below `g`: each attribute and dataset of a numeric or string type read whole, each
// group walked. A valid file reads without error, so any Error is the verdict too (a library that
// runs out of the child's memory cap fails here rather than in the real read, which has no cap).
void walk(const Group& g, int depth) {
  if (depth > 16) fail("{}: groups nested deeper than 16 levels", g.where());
  for (const std::string& a : g.attr_names()) {
    Handle attr = open_attr(g, a);
    Handle type(H5Aget_type(attr.id()), H5Tclose);
    Handle space(H5Aget_space(attr.id()), H5Sclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    const hssize_t n = H5Sget_simple_extent_npoints(space.id());
    if (cls == H5T_STRING) {
      if (n == 1) (void)g.attr_string(a);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
      if (n < 0 || n > (int64_t{1} << 24)) fail("{}: attribute '{}' claims {} values", g.where(), a, n);
      if (n == 1) {
        (void)g.attr_double(a);
        (void)g.attr_int64(a);  // each conversion is its own path through the library
      } else if (n > 0) {
        std::vector<double> values(static_cast<size_t>(n));
        if (H5Aread(attr.id(), H5T_NATIVE_DOUBLE, values.data()) < 0)
          fail("{}: cannot read attribute '{}'", g.where(), a);
      }
    }
  }
  for (const std::string& m : g.members()) {
    if (g.has_group(m)) {
      walk(g.open_group(m), depth + 1);
    } else if (g.has_dataset(m)) {
      Handle dset = open_dataset(g, m);
      Handle type(H5Dget_type(dset.id()), H5Tclose);
      const H5T_class_t cls = H5Tget_class(type.id());
      if (cls == H5T_INTEGER || cls == H5T_FLOAT) (void)g.read_tensor(m);
    }
  }
}

}  // namespace

void probe(const fs::path& path) {
  struct stat st {};
  const bool known = ::stat(path.c_str(), &st) == 0;
  const auto bytes = known ? static_cast<double>(st.st_size) : 0.0;
  const double timeout_s = 10 + bytes / 20e6;
  // Held across fork: no other thread is inside HDF5 while the child copies its state.
  LibraryLock lock(library_mutex());
  // One probe per version of a file: loading a model opens it more than once.
  const std::string key = fmt::format("{}|{}|{}|{}|{}.{}", path.string(), st.st_dev, st.st_ino, st.st_size,
                                      st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  static std::map<std::string, std::string> verdicts;  // key -> "" (fine) or the error
  if (auto it = verdicts.find(key); known && it != verdicts.end()) {
    if (!it->second.empty()) throw Error(it->second);
    return;
  }
  const IsolatedResult r = run_isolated(
      [&] {
        // The parent's lock records the parent thread's id: the child (one thread, nobody else
        // inside HDF5) takes a fresh one.
        library_mutex_slot() = new std::recursive_mutex;
        File f = File::open(path);
        walk(f, 0);
      },
      timeout_s, (int64_t{1} << 30) + 2 * static_cast<int64_t>(bytes));
  std::string verdict;
  if (!r.ok) {
    // An Error of the child's own (not a file at all, ...) reads as it would here.
    verdict = r.message.rfind(path.string() + ":", 0) == 0
                  ? r.message
                  : fmt::format("{}: damaged: the HDF5 library {} while reading it", path.string(), r.message);
  }
  if (known) {
    if (verdicts.size() > 64) verdicts.clear();
    verdicts[key] = verdict;
  }
  if (!verdict.empty()) throw Error(verdict);
}

void File::close() {
  LibraryLock lock(library_mutex());
  if (!handle_.valid()) return;
  hid_t id = handle_.release();
  bool flushed = H5Fflush(id, H5F_SCOPE_LOCAL) >= 0;
  bool closed = H5Fclose(id) >= 0;
  if (!flushed || !closed) fail("{}: cannot write the file to disk (disk full?)", file_);
}

}  // namespace climseg::h5

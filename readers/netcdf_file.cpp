// RAII over NetCDF-C with clear errors.
#include "readers/netcdf_file.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "core/crash_note.hpp"
#include "core/error.hpp"
#include "readers/cdf_header.hpp"

namespace climseg::io {
namespace fs = std::filesystem;

void nc_check(int rc, const std::string& path, const std::string& what, const std::string& var) {
  if (rc == NC_NOERR) return;
  std::string where = var.empty() ? path : path + ": variable " + var;
  fail("{}: {}: {}", where, what, nc_strerror(rc));
}

FileKind sniff_file(const fs::path& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return FileKind::missing;
  if (fs::is_directory(st)) return FileKind::directory;
  if (!fs::is_regular_file(st)) return FileKind::not_regular;
  auto size = fs::file_size(path, ec);
  if (ec || size == 0) return FileKind::empty;
  std::ifstream f(path, std::ios::binary);
  char head[8] = {};
  f.read(head, 8);
  auto got = f.gcount();
  if (got >= 4 && head[0] == 'C' && head[1] == 'D' && head[2] == 'F') {
    if (head[3] == 1) return FileKind::netcdf3_classic;
    if (head[3] == 2) return FileKind::netcdf3_64bit_offset;
    if (head[3] == 5) return FileKind::netcdf3_cdf5;
    return FileKind::unknown;
  }
  // The HDF5 signature sits at byte 0, 512, 1024, 2048, ... (a user block may precede it).
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (uint64_t off = 0; off + 8 <= size; off = off == 0 ? 512 : off * 2) {
    f.clear();
    f.seekg(static_cast<std::streamoff>(off));
    f.read(head, 8);
    if (f.gcount() == 8 && std::memcmp(head, sig, 8) == 0) return FileKind::hdf5;
  }
  return FileKind::unknown;
}

FileKind require_netcdf_or_hdf5(const fs::path& path) {
  FileKind k = sniff_file(path);
  const std::string p = path.string();
  switch (k) {
    case FileKind::missing:
      fail("{}: no such file", p);
    case FileKind::directory:
      fail("{}: is a directory, not a NetCDF or HDF5 file", p);
    case FileKind::not_regular:
      fail("{}: not a regular file", p);
    case FileKind::empty:
      fail("{}: empty file, not a NetCDF or HDF5 file", p);
    case FileKind::unknown:
      fail("{}: not a NetCDF or HDF5 file (unrecognised signature)", p);
    default:
      break;
  }
  if (::access(path.c_str(), R_OK) != 0) fail("{}: cannot read: {}", p, std::strerror(errno));
  return k;
}

std::string AttValue::to_string() const {
  if (is_text()) return text;
  std::string s;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i) s += ", ";
    double v = numbers[i];
    if (type == NC_FLOAT || type == NC_DOUBLE)
      s += fmt::format("{:.9g}", v);
    else
      s += fmt::format("{}", static_cast<long long>(v));
  }
  return s;
}

const char* nc_type_name(nc_type t) {
  switch (t) {
    case NC_BYTE:
      return "byte";
    case NC_UBYTE:
      return "ubyte";
    case NC_CHAR:
      return "char";
    case NC_SHORT:
      return "short";
    case NC_USHORT:
      return "ushort";
    case NC_INT:
      return "int";
    case NC_UINT:
      return "uint";
    case NC_INT64:
      return "int64";
    case NC_UINT64:
      return "uint64";
    case NC_FLOAT:
      return "float";
    case NC_DOUBLE:
      return "double";
    case NC_STRING:
      return "string";
    default:
      return "user-defined";
  }
}

NcFile::NcFile(const fs::path& path) : path_(path.string()) {
  FileKind kind = require_netcdf_or_hdf5(path);
  if (kind == FileKind::netcdf3_classic || kind == FileKind::netcdf3_64bit_offset || kind == FileKind::netcdf3_cdf5)
    check_cdf_file(path);  // the library reads past a truncated end as fill values; refuse such files
  int rc = 0;
  {
    LibraryCrashNote note(path_, "opening it");
    rc = nc_open(path_.c_str(), NC_NOWRITE, &ncid_);
  }
  if (rc != NC_NOERR) {
    ncid_ = -1;
    if (rc == NC_ENOTNC || rc == NC_EHDFERR || rc == NC_EINVAL || rc == NC_ENOTBUILT)
      fail("{}: cannot open: the file is truncated or damaged ({})", path_, nc_strerror(rc));
    fail("{}: cannot open: {}", path_, nc_strerror(rc));
  }
}

NcFile::~NcFile() {
  if (ncid_ >= 0) nc_close(ncid_);
}

NcFile::NcFile(NcFile&& other) noexcept : ncid_(other.ncid_), path_(std::move(other.path_)) { other.ncid_ = -1; }

NcFile& NcFile::operator=(NcFile&& other) noexcept {
  if (this != &other) {
    if (ncid_ >= 0) nc_close(ncid_);
    ncid_ = other.ncid_;
    path_ = std::move(other.path_);
    other.ncid_ = -1;
  }
  return *this;
}

std::string NcFile::format_name() const {
  int format = 0, mode = 0;
  nc_check(nc_inq_format_extended(ncid_, &format, &mode), path_, "format");
  if (format == NC_FORMATX_NC_HDF5) {
    if (mode & NC_CLASSIC_MODEL) return "netCDF-4 classic model";
    // Files written by the NetCDF library carry the hidden _NCProperties attribute, or at least
    // dimension scales; a bare HDF5 file (DeepCAM, h5py) has phony dimensions only.
    size_t len = 0;
    nc_type t{};
    if (nc_inq_att(ncid_, NC_GLOBAL, "_NCProperties", &t, &len) == NC_NOERR) return "netCDF-4";
    int ndims = 0;
    nc_inq_ndims(ncid_, &ndims);
    for (int d = 0; d < ndims; ++d)
      if (nc_dim_name(ncid_, d).rfind("phony_dim_", 0) != 0) return "netCDF-4";
    return "HDF5";
  }
  int kind = 0;
  nc_check(nc_inq_format(ncid_, &kind), path_, "format");
  switch (kind) {
    case NC_FORMAT_CLASSIC:
      return "netCDF-3 classic";
    case NC_FORMAT_64BIT_OFFSET:
      return "netCDF-3 64-bit offset";
    case NC_FORMAT_CDF5:
      return "netCDF-3 CDF5";
    case NC_FORMAT_NETCDF4:
      return "netCDF-4";
    case NC_FORMAT_NETCDF4_CLASSIC:
      return "netCDF-4 classic model";
    default:
      return "unknown";
  }
}

int nc_find_var(int ncid, const std::string& name) {
  int varid = -1;
  if (nc_inq_varid(ncid, name.c_str(), &varid) != NC_NOERR) return -1;
  return varid;
}

std::string to_utf8(std::string_view b) {
  std::string out;
  out.reserve(b.size());
  size_t i = 0;
  while (i < b.size()) {
    const auto c = static_cast<unsigned char>(b[i]);
    // Length of a well-formed sequence starting here (RFC 3629: no overlongs, no surrogates).
    size_t n = 0;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
    }
    bool ok = n > 0 && i + n <= b.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(b[i + k]) & 0xC0) == 0x80;
    if (ok && n >= 3) {
      const auto c1 = static_cast<unsigned char>(b[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F) && !(c == 0xF0 && c1 < 0x90) &&
           !(c == 0xF4 && c1 > 0x8F);
    }
    if (ok) {
      out.append(b.substr(i, n));
      i += n;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
      ++i;
    }
  }
  return out;
}

std::string nc_var_name(int ncid, int varid) {
  char name[NC_MAX_NAME + 1] = {};
  nc_inq_varname(ncid, varid, name);
  return to_utf8(name);
}

std::vector<int> nc_var_dims(int ncid, int varid) {
  int ndims = 0;
  nc_inq_varndims(ncid, varid, &ndims);
  std::vector<int> dims(static_cast<size_t>(ndims));
  if (ndims > 0) nc_inq_vardimid(ncid, varid, dims.data());
  return dims;
}

std::vector<size_t> nc_var_shape(int ncid, int varid) {
  std::vector<size_t> shape;
  for (int d : nc_var_dims(ncid, varid)) shape.push_back(nc_dim_len(ncid, d));
  return shape;
}

std::string nc_dim_name(int ncid, int dimid) {
  char name[NC_MAX_NAME + 1] = {};
  nc_inq_dimname(ncid, dimid, name);
  return to_utf8(name);
}

size_t nc_dim_len(int ncid, int dimid) {
  size_t len = 0;
  nc_inq_dimlen(ncid, dimid, &len);
  return len;
}

static AttValue read_att(int ncid, int varid, const char* name, const std::string& path) {
  AttValue a;
  a.name = name;
  size_t len = 0;
  nc_check(nc_inq_att(ncid, varid, name, &a.type, &len), path, fmt::format("attribute {}", name));
  if (a.type == NC_CHAR) {
    a.text.resize(len);
    if (len) nc_check(nc_get_att_text(ncid, varid, name, a.text.data()), path, fmt::format("attribute {}", name));
    while (!a.text.empty() && a.text.back() == '\0') a.text.pop_back();
    a.text = to_utf8(a.text);
  } else if (a.type == NC_STRING) {
    std::vector<char*> strs(len, nullptr);
    if (len) {
      nc_check(nc_get_att_string(ncid, varid, name, strs.data()), path, fmt::format("attribute {}", name));
      for (size_t i = 0; i < len; ++i) {
        if (i) a.text += "\n";
        if (strs[i]) a.text += strs[i];
      }
      nc_free_string(len, strs.data());
      a.text = to_utf8(a.text);
    }
  } else if (a.type >= NC_BYTE && a.type <= NC_UINT64 && a.type != NC_CHAR) {
    a.numbers.resize(len);
    if (len) nc_check(nc_get_att_double(ncid, varid, name, a.numbers.data()), path, fmt::format("attribute {}", name));
  }
  return a;
}

std::vector<AttValue> nc_atts(int ncid, int varid, const std::string& path) {
  int natts = 0;
  if (varid == NC_GLOBAL)
    nc_inq_natts(ncid, &natts);
  else
    nc_inq_varnatts(ncid, varid, &natts);
  std::vector<AttValue> out;
  for (int i = 0; i < natts; ++i) {
    char name[NC_MAX_NAME + 1] = {};
    nc_inq_attname(ncid, varid, i, name);
    out.push_back(read_att(ncid, varid, name, path));
    out.back().name = to_utf8(out.back().name);
  }
  return out;
}

bool nc_has_att(int ncid, int varid, const std::string& name) {
  return nc_inq_attid(ncid, varid, name.c_str(), nullptr) == NC_NOERR;
}

std::string nc_att_text(int ncid, int varid, const std::string& name) {
  if (!nc_has_att(ncid, varid, name)) return {};
  AttValue a = read_att(ncid, varid, name.c_str(), "");
  return a.is_text() ? a.text : a.to_string();
}

std::vector<double> nc_att_numbers(int ncid, int varid, const std::string& name) {
  if (!nc_has_att(ncid, varid, name)) return {};
  AttValue a = read_att(ncid, varid, name.c_str(), "");
  return a.numbers;
}

std::vector<int> nc_groups(int ncid) {
  int n = 0;
  if (nc_inq_grps(ncid, &n, nullptr) != NC_NOERR || n == 0) return {};
  std::vector<int> ids(static_cast<size_t>(n));
  nc_inq_grps(ncid, &n, ids.data());
  return ids;
}

std::string nc_group_name(int ncid) {
  char name[NC_MAX_NAME + 1] = {};
  nc_inq_grpname(ncid, name);
  return to_utf8(name);
}

}  // namespace climseg::io

// An independent netCDF-3 header parser (format spec: NetCDF Classic and 64-bit Offset Format).
#include "readers/cdf_header.hpp"

#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace climseg::io {
namespace {

constexpr uint32_t kDimTag = 0x0A, kVarTag = 0x0B, kAttTag = 0x0C;

// Thrown when the header goes on past the bytes read so far (but not past the file).
struct NeedMore {};

class Cursor {
 public:
  Cursor(const std::string& bytes, const std::string& path, bool partial) : b_(bytes), path_(path), partial_(partial) {}
  uint64_t u32() { return be(4); }
  uint64_t u64() { return be(8); }
  void skip(uint64_t n) {
    if (n > b_.size() - pos_) past_end();
    pos_ += static_cast<size_t>(n);
  }
  size_t pos() const { return pos_; }
  [[noreturn]] void bad(const std::string& what) const {
    fail("{}: malformed netCDF-3 header at byte {}: {}", path_, pos_, what);
  }

 private:
  void past_end() const {
    if (partial_) throw NeedMore{};
    bad("header runs past the end of the file");
  }
  uint64_t be(int n) {
    if (static_cast<size_t>(n) > b_.size() - pos_) past_end();
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_ + static_cast<size_t>(i)]);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  const std::string& b_;
  const std::string& path_;
  bool partial_;
  size_t pos_ = 0;
};

int64_t type_size(uint64_t t) {
  switch (t) {
    case 1:
    case 2:
    case 7:
      return 1;  // byte, char, ubyte
    case 3:
    case 8:
      return 2;  // short, ushort
    case 4:
    case 5:
    case 9:
      return 4;  // int, float, uint
    case 6:
    case 10:
    case 11:
      return 8;  // double, int64, uint64
    default:
      return 0;
  }
}

int64_t pad4(int64_t n) { return (n + 3) / 4 * 4; }

CdfLayout parse_header(const std::string& bytes, bool partial, int64_t file_size, const std::string& p) {
  CdfLayout L;
  L.version = bytes.size() >= 4 ? static_cast<unsigned char>(bytes[3]) : 0;
  const bool v5 = L.version == 5;
  Cursor r(bytes, p, partial);
  r.skip(4);
  auto rcount = [&]() -> int64_t {
    uint64_t v = v5 ? r.u64() : r.u32();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) r.bad("count out of range");
    return static_cast<int64_t>(v);
  };
  uint64_t numrecs_raw = v5 ? r.u64() : r.u32();
  const bool streaming = v5 ? numrecs_raw == ~uint64_t{0} : numrecs_raw == 0xFFFFFFFFu;
  L.numrecs = streaming ? 0 : static_cast<int64_t>(numrecs_raw);

  auto read_name = [&]() {
    int64_t n = rcount();
    if (n <= 0 || n > 256 * 1024) r.bad("bad name length");
    const size_t at = r.pos();
    r.skip(static_cast<uint64_t>(pad4(n)));
    return bytes.substr(at, static_cast<size_t>(n));
  };
  auto skip_atts = [&]() {
    uint64_t tag = r.u32();
    int64_t n = rcount();
    if (tag == 0 && n == 0) return;
    if (tag != kAttTag) r.bad("expected an attribute list");
    for (int64_t i = 0; i < n; ++i) {
      read_name();
      uint64_t t = r.u32();
      int64_t ts = type_size(t);
      if (ts == 0) r.bad("attribute of unknown type");
      int64_t ne = rcount();
      if (ne > file_size) r.bad("attribute longer than the file");
      r.skip(static_cast<uint64_t>(pad4(ne * ts)));
    }
  };

  // Dimensions.
  std::vector<int64_t> dims;
  int record_dim = -1;
  {
    uint64_t tag = r.u32();
    int64_t n = rcount();
    if (!(tag == 0 && n == 0)) {
      if (tag != kDimTag) r.bad("expected a dimension list");
      if (n > 65536) r.bad("implausible number of dimensions");
      for (int64_t i = 0; i < n; ++i) {
        read_name();
        int64_t len = rcount();
        if (len == 0) {
          if (record_dim >= 0) r.bad("more than one unlimited dimension");
          record_dim = static_cast<int>(i);
        }
        L.largest_dimension = std::max(L.largest_dimension, len);
        dims.push_back(len);
      }
    }
  }
  skip_atts();

  std::vector<CdfVar>& vars = L.vars;
  {
    uint64_t tag = r.u32();
    int64_t n = rcount();
    if (!(tag == 0 && n == 0)) {
      if (tag != kVarTag) r.bad("expected a variable list");
      if (n > 1'000'000) r.bad("implausible number of variables");
      for (int64_t i = 0; i < n; ++i) {
        std::string name = read_name();
        int64_t nd = rcount();
        if (nd > 1024) r.bad("implausible number of dimensions of a variable");
        int64_t elems = 1;
        bool record = false;
        for (int64_t d = 0; d < nd; ++d) {
          int64_t id = rcount();
          if (id < 0 || id >= static_cast<int64_t>(dims.size())) r.bad("variable uses an undefined dimension");
          if (id == record_dim) {
            if (d != 0) r.bad("unlimited dimension not first");
            record = true;
            continue;
          }
          int64_t len = dims[static_cast<size_t>(id)];
          if (len != 0 && elems > std::numeric_limits<int64_t>::max() / len) r.bad("variable size overflows");
          elems *= len;
        }
        skip_atts();
        uint64_t t = r.u32();
        int64_t ts = type_size(t);
        if (ts == 0) r.bad("variable of unknown type");
        if (elems > std::numeric_limits<int64_t>::max() / 8) r.bad("variable size overflows");
        if (v5)
          r.u64();
        else
          r.u32();  // vsize as written (may be capped for huge variables)
        int64_t begin = static_cast<int64_t>(L.version == 1 ? r.u32() : r.u64());
        vars.push_back({std::move(name), static_cast<int>(t), begin, elems * ts, record});
      }
    }
  }
  L.header_bytes = static_cast<int64_t>(r.pos());

  int64_t recsize = 0;
  int nrecvars = 0;
  for (const CdfVar& v : vars)
    if (v.record) {
      recsize += pad4(v.bytes);
      ++nrecvars;
    }
  if (nrecvars == 1)
    for (const CdfVar& v : vars)
      if (v.record) recsize = v.bytes;  // a lone record variable is not padded
  L.record_bytes = recsize;
  int64_t need = L.header_bytes;
  for (const CdfVar& v : vars) {
    if (v.begin < 0) r.bad("negative data offset");
    int64_t end =
        v.record ? (L.numrecs > 0 ? v.begin + (L.numrecs - 1) * recsize + v.bytes : v.begin) : v.begin + v.bytes;
    need = std::max(need, end);
  }
  L.required_bytes = need;
  if (file_size < need)
    fail("{}: the file is truncated or damaged: its header describes {} bytes of data but the file has {}", p, need,
         file_size);
  return L;
}

}  // namespace

CdfLayout check_cdf_file(const std::filesystem::path& path) {
  const std::string p = path.string();
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) fail("{}: cannot open", p);
  const int64_t file_size = static_cast<int64_t>(f.tellg());
  // Headers are small: read 1 MiB, and eight times more while the header goes on past it.
  for (int64_t head = std::min<int64_t>(file_size, int64_t{1} << 20);; head = std::min(file_size, head * 8)) {
    std::string bytes(static_cast<size_t>(head), '\0');
    f.seekg(0);
    f.read(bytes.data(), head);
    try {
      return parse_header(bytes, head < file_size, file_size, p);
    } catch (const NeedMore&) {
    }
  }
}

}  // namespace climseg::io

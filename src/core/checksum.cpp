// CRC-32C and sealed files.
#include "core/checksum.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace climseg {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[] = "CLIMSEG-SEALED-HDF5 1\n";

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc_table(const uint8_t* p, size_t n, uint32_t c) {
  static const std::array<uint32_t, 256> table = make_table();
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_hw(const uint8_t* p, size_t n, uint32_t c) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
  }
  auto c32 = static_cast<uint32_t>(c64);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
#endif

struct Header {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

// CRC-32C and length of everything after the user block.
Header digest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open to check its seal", path.string());
  in.seekg(static_cast<std::streamoff>(kSealBytes));
  Header h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    h.crc = crc32c(buf.data(), got, h.crc);
    h.bytes += got;
  }
  if (in.bad()) fail("{}: read error while checking its seal", path.string());
  return h;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  c = hw ? crc_hw(p, n, c) : crc_table(p, n, c);
#else
  c = crc_table(p, n, c);
#endif
  return ~c;
}

void seal_file(const fs::path& path) {
  const Header h = digest(path);
  std::string block = fmt::format("{}bytes {}\ncrc32c {:08x}\n", kMagic, h.bytes, h.crc);
  block.resize(kSealBytes, '\0');
  std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  if (!out) fail("{}: cannot open to write its seal", path.string());
  out.seekp(0);
  out.write(block.data(), static_cast<std::streamsize>(block.size()));
  out.flush();
  if (!out) fail("{}: cannot write its seal (disk full?)", path.string());
}

SealState check_seal(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path.string());
  std::string block(kSealBytes, '\0');
  in.read(block.data(), static_cast<std::streamsize>(block.size()));
  const size_t magic = sizeof(kMagic) - 1;
  if (static_cast<size_t>(in.gcount()) < magic || block.compare(0, magic, kMagic) != 0) return SealState::absent;
  unsigned long long bytes = 0;
  unsigned crc = 0;
  if (std::sscanf(block.c_str() + magic, "bytes %llu\ncrc32c %8x\n", &bytes, &crc) != 2)
    fail("{}: damaged: its seal (the first {} bytes) cannot be read", path.string(), kSealBytes);
  const Header h = digest(path);
  if (h.bytes != bytes)
    fail("{}: truncated or damaged: {} bytes after the seal where {} were written", path.string(), h.bytes, bytes);
  if (h.crc != crc)
    fail("{}: damaged: CRC-32C {:08x} where {:08x} was written (the contents changed after writing)", path.string(),
         h.crc, crc);
  return SealState::intact;
}

}  // namespace climseg

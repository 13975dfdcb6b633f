// CRC-32C (Castagnoli) over bytes and files, and sealed HDF5 files: climseg writes its checkpoints
// with a 512-byte HDF5 user block that records the length and CRC-32C of everything after it, so a
// truncated, bit-flipped or otherwise damaged checkpoint is refused before the HDF5 library parses
// a byte of it. HDF5 tools (h5dump, h5py) skip the user block and read sealed files as usual.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace climseg {

// CRC-32C of `n` bytes, continuing from `crc` (0 to start). Hardware (SSE4.2 crc32) when the CPU
// has it, a table otherwise; both give the standard value (crc32c("123456789") == 0xE3069283).
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

// The user block size sealed files reserve (HDF5 wants a power of two, at least 512).
inline constexpr uint64_t kSealBytes = 512;

// Writes the seal into the first kSealBytes of `path`, which HDF5 created with a user block of
// exactly that size and has closed. Throws Error naming the file on I/O failure.
void seal_file(const std::filesystem::path& path);

enum class SealState { absent, intact };
// Checks a file's seal: `absent` for a file that has none (written by another tool or an older
// climseg), `intact` when length and CRC-32C match; throws Error naming the file and saying what
// differs when the seal is there but the contents are not what was sealed.
SealState check_seal(const std::filesystem::path& path);

}  // namespace climseg

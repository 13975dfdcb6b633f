// The memory budget for what file headers claim: every allocation whose size comes from a header
// (coordinates, attributes, a sample, a 3-D field, a training batch) is checked against it first, so
// a hostile or damaged file gets one clear error instead of an out-of-memory kill.
#pragma once

#include <cstdint>
#include <string>

namespace climseg::io {

// Bytes one allocation read from a file may take: set_memory_budget(), else $CLIMSEG_MEMORY_BUDGET
// ("512M", "16G", "2T" or bytes), else half of the machine's physical memory.
int64_t memory_budget();
// Overrides the budget for this process (0: back to the default above).
void set_memory_budget(int64_t bytes);
// "512M", "16G", "1.5G", "2T", "4096" (bytes); binary units (K = 1024). Throws UsageError.
int64_t parse_bytes(const std::string& text);
// "3.2 GiB", "512 MiB", "40 B".
std::string format_bytes(double bytes);
// Throws Error "<path>: <what> would need N (count values of B bytes), more than the memory budget
// of M (set CLIMSEG_MEMORY_BUDGET to allow more)" when count * element_bytes exceeds the budget or
// overflows, or when count is negative.
void check_allocation(const std::string& path, const std::string& what, int64_t count, int64_t element_bytes);

}  // namespace climseg::io

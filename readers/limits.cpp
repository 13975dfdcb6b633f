// The memory budget for allocations sized by file headers.
#include "readers/limits.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>

#include "core/error.hpp"

namespace climseg::io {
namespace {

std::atomic<int64_t> g_budget{0};

int64_t default_budget() {
  if (const char* env = std::getenv("CLIMSEG_MEMORY_BUDGET"); env != nullptr && *env != '\0') {
    try {
      return parse_bytes(env);
    } catch (const UsageError& e) {
      fail_usage("CLIMSEG_MEMORY_BUDGET: {}", e.what());
    }
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return int64_t{8} << 30;
  return static_cast<int64_t>(pages) / 2 * static_cast<int64_t>(page);
}

}  // namespace

int64_t memory_budget() {
  const int64_t b = g_budget.load();
  return b > 0 ? b : default_budget();
}

void set_memory_budget(int64_t bytes) { g_budget.store(bytes > 0 ? bytes : 0); }

int64_t parse_bytes(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    fail_usage("'{}' is not a size (e.g. 512M, 16G, 2T or bytes)", text);
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() == 2 && (unit[1] == 'i' || unit[1] == 'I')) unit.pop_back();
  double scale = 1;
  if (unit.empty()) {
    scale = 1;
  } else if (unit == "K" || unit == "k") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "m") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "g") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "T" || unit == "t") {
    scale = 1024.0 * 1024 * 1024 * 1024;
  } else {
    fail_usage("'{}' is not a size (e.g. 512M, 16G, 2T or bytes)", text);
  }
  const double bytes = v * scale;
  if (!(bytes >= 1) || !(bytes < 9.0e18)) fail_usage("'{}' is not a usable size", text);
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (std::abs(bytes) >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

void check_allocation(const std::string& path, const std::string& what, int64_t count, int64_t element_bytes) {
  if (count < 0 || element_bytes <= 0)
    fail("{}: {} has a negative or invalid size ({} values): the file is damaged", path, what, count);
  const int64_t budget = memory_budget();
  // In double: count * element_bytes may not fit in 64 bits for a hostile header.
  const double need = static_cast<double>(count) * static_cast<double>(element_bytes);
  if (need > static_cast<double>(budget))
    fail(
        "{}: {} would need {} ({} values of {} bytes), more than the memory budget of {} (set "
        "CLIMSEG_MEMORY_BUDGET to allow more)",
        path, what, format_bytes(need), count, element_bytes, format_bytes(static_cast<double>(budget)));
}

}  // namespace climseg::io

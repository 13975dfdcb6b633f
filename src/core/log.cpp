// Levelled, rank-aware logging to stderr.
#include "core/log.hpp"

#include <cstdio>
#include <mutex>

namespace climseg::log {
namespace {
Level g_level = Level::info;
int g_rank = 0;
int g_size = 1;
std::mutex g_mutex;
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
void set_rank(int rank, int size) {
  g_rank = rank;
  g_size = size;
}
int rank() { return g_rank; }

bool enabled(Level level) {
  if (level > g_level) return false;
  // Informational lines come from rank 0 alone; problems and debug output from everyone.
  if (level == Level::info && g_rank != 0) return false;
  return true;
}

void write(Level level, std::string_view message) {
  std::string line;
  if (g_size > 1) line += fmt::format("[rank {}/{}] ", g_rank, g_size);
  switch (level) {
    case Level::error:
      line += "error: ";
      break;
    case Level::warn:
      line += "warning: ";
      break;
    case Level::debug:
      line += "debug: ";
      break;
    case Level::trace:
      line += "trace: ";
      break;
    case Level::info:
      break;
  }
  line += message;
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace climseg::log

// The peers of `climseg bench`, started through the shell.
#include "apps/bench_peer.hpp"

#include <cstdio>
#include <filesystem>

namespace climseg::app {

std::string peer_script(const std::string& name) {
  return (std::filesystem::path(CLIMSEG_SOURCE_DIR) / "scripts" / "peer" / name).string();
}

std::string run_peer_command(const std::string& command, int& status) {
  status = -1;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  status = ::pclose(pipe);
  return out;
}

}  // namespace climseg::app

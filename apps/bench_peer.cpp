// The peers of `climseg bench`, started through the shell.
#include "apps/bench_peer.hpp"

#include <fmt/format.h>

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

std::vector<PeerRun> run_peer_both_allocators(const std::string& command) {
  std::vector<PeerRun> runs{{"default", {}, -1}, {"keep_memory", {}, -1}};
  runs[0].out = run_peer_command(command, runs[0].status);
  runs[1].out = run_peer_command(fmt::format("GLIBC_TUNABLES='{}' {}", kKeepMemoryTunables, command), runs[1].status);
  return runs;
}

nlohmann::json faster_peer(const nlohmann::json& default_run, const nlohmann::json& keep_memory_run,
                           const std::string& key) {
  auto has = [&](const nlohmann::json& j) { return j.is_object() && j.contains(key) && j[key].is_number(); };
  if (!has(default_run)) return keep_memory_run;
  if (!has(keep_memory_run)) return default_run;
  const double a = default_run[key].get<double>(), b = keep_memory_run[key].get<double>();
  nlohmann::json r = b < a ? keep_memory_run : default_run;
  r[key + "_default_allocator"] = a;
  r[key + "_keep_memory"] = b;
  r[key + "_allocator"] = b < a ? "keep_memory" : "default";
  return r;
}

}  // namespace climseg::app

// Starting the peers of `climseg bench` (scripts/peer/: PyTorch, xarray): the libraries measure
// climseg, the command line front end starts the other processes and merges their figures.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace climseg::app {

// scripts/peer/NAME in the source tree this executable was built from.
std::string peer_script(const std::string& name);

// Runs `command` through the shell and returns what it printed on stdout; status is its exit
// status (-1 when it could not be started).
std::string run_peer_command(const std::string& command, int& status);

// glibc settings under which freed memory stays in the process (../shared/PERFORMANCE.md "Fair
// peers"): on a VM whose first touch of a page costs ~15 us, a peer that frees and re-allocates its
// buffers every step (PyTorch's CPU allocator, numpy temporaries) pays page faults a bare-metal node
// would not. Every Python peer runs both ways and its ratio is taken against the faster run.
inline constexpr const char* kKeepMemoryTunables =
    "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295";

// One run of a peer under one allocator setting: "default" (glibc as it is) or "keep_memory"
// (GLIBC_TUNABLES=kKeepMemoryTunables).
struct PeerRun {
  std::string allocator;
  std::string out;  // what it printed on stdout
  int status = -1;  // exit status, -1 when it could not be started
};

// Runs `command` through the shell twice, as it is and with GLIBC_TUNABLES=kKeepMemoryTunables.
std::vector<PeerRun> run_peer_both_allocators(const std::string& command);

// The faster of two records of the same peer by the time `key` (the default allocator's record
// wins ties), with `key`_default_allocator and `key`_keep_memory and `key`_allocator added; a null
// or keyless record yields the other.
nlohmann::json faster_peer(const nlohmann::json& default_run, const nlohmann::json& keep_memory_run,
                           const std::string& key);

}  // namespace climseg::app

// Runs a piece of work in a forked child so that a crash inside a third-party library (HDF5 on a
// damaged file: fuzzing found a segmentation fault inside H5Aiterate2) becomes an error message
// instead of killing the process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace climseg {

struct IsolatedResult {
  bool ok = true;
  std::string message;  // when !ok: the child's Error message, or how it died
};

// Forks; the child runs `work` with default signal dispositions and stderr on /dev/null, then
// exits without running destructors or atexit handlers. An Error thrown by `work` comes back as its
// message; a signal, a sanitizer report or running past `timeout_s` (the child is killed) comes back
// as a description. Changes the child makes to memory are lost. The child must not use MPI.
// `memory_bytes` > 0 caps what the child may map beyond what it inherits (RLIMIT_AS; not applied
// under AddressSanitizer, whose shadow mappings the limit would break): a damaged file that makes a
// library allocate without end fails there instead of pushing the node into swap.
IsolatedResult run_isolated(const std::function<void()>& work, double timeout_s, int64_t memory_bytes = 0);

}  // namespace climseg

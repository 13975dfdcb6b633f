// `climseg bench allreduce`: gradient synchronisation on this machine under mpirun: raw allreduce
// times per message size (alpha-beta fit), and training steps of a network with buckets overlapped
// with backward against the same steps reducing after backward (parallel/bench_allreduce.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::bench {

struct AllreduceBenchOptions {
  std::string model = "cgnet", net_params;  // network type and hyper-parameters as JSON ("": defaults)
  std::string grid = "192x288";             // HxW of the training samples
  int64_t batch = 2, bucket_kib = 1024;     // samples per rank, gradient bucket size
  int steps = 5, ranks_per_node = 0;        // timed steps per mode; hierarchical groups (0: shared memory)
  bool hierarchical = false, no_steps = false, per_step = false;
  int fail_rank = -1, fail_step = -1;  // testing aid: this rank throws at that step
  bool progress = true;                // a progress indicator over the training steps
  std::vector<int64_t> sizes = {4096, 65536, 1 << 20, 2 << 20, 8 << 20};  // raw message sizes (bytes)
};

// Collective over comm. Calls emit with each result object as it is measured (kind: message, fit,
// step, step_detail; on every rank: the caller prints rank 0's). UsageError for bad options.
void bench_allreduce(const AllreduceBenchOptions& o, const Comm& comm, const std::function<void(nlohmann::json)>& emit);

}  // namespace climseg::bench

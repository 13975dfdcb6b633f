// Data-parallel gradient synchronisation: the gradient arena split into buckets (contiguous ranges
// in arena order, which is the order backward finishes them), each reduced with a non-blocking
// allreduce as soon as backward has produced all its gradients, while backward goes on; finish()
// completes them before the optimizer step. Optionally hierarchical (reduce in the node, allreduce
// across node leaders, broadcast back).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/mpi.hpp"
#include "nn/graph.hpp"
#include "nn/module.hpp"

namespace climseg::parallel {

struct GradSyncOptions {
  // Target bucket size. Smaller buckets start earlier and leave less to reduce after backward;
  // larger ones pay the per-message latency less often. 1 MiB splits CGNet's 2 MB into 2-3 buckets.
  int64_t bucket_bytes = int64_t{1} << 20;
  // Reduce inside each node first, allreduce across one leader per node, broadcast back.
  bool hierarchical = false;
  // Hierarchical groups: 0 = ranks that share memory (MPI_Comm_split_type); n > 0 = blocks of n
  // consecutive ranks (to test two levels on one machine, or to override the detection).
  int ranks_per_node = 0;
  // Divide the summed gradients by the number of ranks (the mean over the global batch when every
  // rank's loss is the mean over an equal share of it).
  bool average = true;
  // Call MPI_Testsome from the grad-ready hook: Open MPI advances non-blocking collectives only
  // inside MPI calls, so without this the buckets barely move until finish().
  bool progress_in_hook = true;
};

// A contiguous range [begin, end) of the parameter/gradient arenas (floats) holding whole tensors.
struct Bucket {
  int64_t begin = 0, end = 0;
  int tensors = 0;
  int64_t floats() const { return end - begin; }
  int64_t bytes() const { return 4 * (end - begin); }
};

// Buckets in arena order: each is closed before a tensor would take it past bucket_bytes (a tensor
// larger than that gets a bucket of its own). Every tensor is in exactly one bucket.
std::vector<Bucket> plan_buckets(const nn::Parameters& params, int64_t bucket_bytes);

// What one synchronised step cost (seconds, this rank).
struct GradSyncTimings {
  double backward_s = 0;       // begin_backward() .. finish(): backward plus the hook's work
  double hook_s = 0;           // inside the hook (starting buckets, MPI_Testsome); part of backward_s
  double wait_s = 0;           // inside finish(): the communication that backward did not hide
  double comm_s = 0;           // reducing every bucket with nothing to overlap (from calibrate(); 0 before)
  double hidden_fraction = 0;  // 1 - wait_s / comm_s clamped to [0, 1]; 0 while comm_s is unknown
  double first_ready_s = 0;    // after begin_backward(), when the first bucket's gradients were all final
  double last_ready_s = 0;     // ... and the last's (for a flat graph, close to the end of backward)
  int buckets = 0;
  int buckets_done_in_backward = 0;     // completed before finish() was entered
  int buckets_started_in_backward = 0;  // issued by backward's gradient hook before finish()
  int64_t bytes = 0;                    // gradient bytes reduced per step
};

// One step across ranks (collective). A rank that finishes backward early waits in finish() for the
// others too, so a rank's own wait mixes load imbalance with communication; the rank that arrives
// last waits for nothing but the reductions still in flight, so the minimum wait over ranks is the
// communication that overlap did not hide.
struct GradSyncSummary {
  double backward_s = 0;                // the slowest rank's backward (with the hook's work)
  double exposed_s = 0;                 // min over ranks of wait_s: communication left after backward
  double wait_max_s = 0;                // max over ranks of wait_s
  double imbalance_s = 0;               // wait_max_s - exposed_s: ranks waiting for the slowest one
  double comm_s = 0;                    // calibrated cost of the reduction alone (0 before calibrate())
  double hidden_fraction = 0;           // 1 - exposed_s / comm_s in [0, 1]; 0 while comm_s is unknown
  int buckets_done_in_backward = 0;     // min over ranks
  int buckets_started_in_backward = 0;  // min over ranks
};
GradSyncSummary summarize(const GradSyncTimings& t, const Comm& comm);

// Usage, once per training step (every rank, same order):
//   sync.begin_backward();  graph.backward();  sync.finish();  optimizer.step(lr);
// The object installs itself as the graph's grad-ready hook. On one rank (or without MPI) it only
// keeps timings. Not copyable or movable (the graph's hook refers to it).
class GradSync {
 public:
  // Collective over comm: duplicates it (so bucket traffic never mixes with other collectives) and
  // checks that every rank has the same parameter layout (Error naming the ranks otherwise).
  GradSync(nn::Parameters& params, const Comm& comm, GradSyncOptions options = {});
  // The same, then attach(graph).
  GradSync(nn::Parameters& params, nn::Graph& graph, const Comm& comm, GradSyncOptions options = {});
  // Does not touch the graph (it may be gone): a graph that outlives this object finds its hook inert.
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // Installs the grad-ready hook on a compiled training graph over the same Parameters (replacing
  // any other hook; a previously attached graph's hook goes inert). Without an attached graph,
  // finish() reduces every bucket at once (no overlap).
  void attach(nn::Graph& graph);

  // Before graph.backward(). sync = false skips the reduction for this backward (gradient
  // accumulation over micro-batches: sync only the last one); finish() is then a no-op.
  // The first call after attach() checks that all ranks' graphs report gradients in the same order.
  void begin_backward(bool sync = true);
  // After graph.backward(): completes every bucket (waiting where needed) and averages.
  // Throws Error when begin_backward() was not called or an MPI call fails.
  void finish();

  // Collective: times reducing a scratch arena of the gradients' size through the same buckets with
  // nothing to overlap (median of `repeats`, the slowest rank's), sets comm_s for the timings and
  // returns it. The gradients are not touched.
  double calibrate(int repeats = 5);

  const GradSyncTimings& last() const;
  const std::vector<Bucket>& buckets() const;
  const GradSyncOptions& options() const;
  int ranks() const;       // ranks taking part (1: nothing to reduce)
  int node_ranks() const;  // hierarchical: ranks in this rank's node group (1 otherwise)

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace climseg::parallel

// Keeping replicas identical: rank 0's weights broadcast at start, a cheap bit-exact checksum of the
// parameter arena compared across ranks every few hundred steps, and BatchNorm running statistics
// averaged over ranks before checkpoints and evaluation.
#pragma once

#include <cstdint>
#include <vector>

#include "core/mpi.hpp"
#include "nn/module.hpp"

namespace climseg::parallel {

// A hash of every tensor's name, shape and arena offset: equal on two ranks iff they built the same
// model. Cheap (no data read).
uint64_t layout_hash(const nn::Parameters& params);

// A 64-bit hash of the bits of the parameter arena (not the buffers): any changed bit changes it.
// Fixed chunks combined in order, so the value does not depend on the thread count. About 2 ms for
// CGNet's 2 MB; memory-bound (~10 GB/s) for larger models.
uint64_t parameter_checksum(const nn::Parameters& params);
// The same hash per parameter tensor, in Parameters::params() order.
std::vector<uint64_t> tensor_checksums(const nn::Parameters& params);
// The hash of n floats' bits.
uint64_t hash_floats(const float* data, int64_t n);

// Copies root's parameters and buffers to every rank (collective). Throws Error naming the ranks
// whose model differs from root's (a different configuration on some rank).
void broadcast_parameters(nn::Parameters& params, const Comm& comm, int root = 0);

// Throws Error, on every rank with the same message, when some rank's parameters or buffers
// (BatchNorm running statistics) are not bit-identical to rank 0's: it names those ranks and the
// first tensor that differs on the first of them. `step` is only for the message. Collective; the
// identity on one rank. Callers that keep per-rank running statistics (local BatchNorm without
// average_buffers) must average them first.
void check_identical(const nn::Parameters& params, const Comm& comm, int64_t step);

// Replaces every buffer (BatchNorm running mean and variance) by its mean over the ranks (collective).
// Call before writing a checkpoint and before evaluating, so the saved statistics describe the whole
// data set, not rank 0's shard. (The mean of the ranks' running variances is not the variance of the
// union of their batches; it is what Horovod and PyTorch users do, and exact with SyncBatchNorm.)
void average_buffers(nn::Parameters& params, const Comm& comm);

}  // namespace climseg::parallel

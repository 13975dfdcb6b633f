// Broadcast, checksums and buffer averaging of the parameter arenas over MPI.
#include "parallel/state_sync.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "parallel/mpi_util.hpp"
#include "parallel/watchdog.hpp"

namespace climseg::parallel {
namespace {

constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMul2 = 0xBF58476D1CE4E5B9ull;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// splitmix64's finaliser: every input bit affects every output bit.
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * kMul2;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_bytes(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

// Four independent lanes of 64-bit words (two floats each) keep the multiplier pipelines busy.
uint64_t hash_chunk(const float* data, int64_t n, uint64_t seed) {
  uint64_t h[4] = {seed, seed ^ kMul1, seed ^ kMul2, seed + 1};
  const int64_t words = n / 2;
  int64_t i = 0;
  for (; i + 4 <= words; i += 4) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, data + 2 * (i + l), sizeof w);
      h[l] = rotl(h[l] ^ (w * kMul1), 29) * kMul2;
    }
  }
  for (; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, data + 2 * i, sizeof w);
    h[0] = rotl(h[0] ^ (w * kMul1), 29) * kMul2;
  }
  if (n % 2) {
    uint32_t w;
    std::memcpy(&w, data + n - 1, sizeof w);
    h[1] = rotl(h[1] ^ (uint64_t(w) * kMul1), 29) * kMul2;
  }
  return mix(h[0] ^ rotl(h[1], 17) ^ rotl(h[2], 31) ^ rotl(h[3], 47) ^ uint64_t(n));
}

}  // namespace

uint64_t hash_floats(const float* data, int64_t n) {
  constexpr int64_t kChunk = int64_t{1} << 18;  // floats (1 MiB): the unit of parallel work
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return hash_chunk(data, n, 0x243F6A8885A308D3ull);
  std::vector<uint64_t> part(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c)
    part[static_cast<size_t>(c)] =
        hash_chunk(data + c * kChunk, std::min(kChunk, n - c * kChunk), 0x243F6A8885A308D3ull + uint64_t(c));
  uint64_t h = uint64_t(n);
  for (uint64_t p : part) h = mix(h ^ p);
  return h;
}

uint64_t layout_hash(const nn::Parameters& params) {
  uint64_t h = 0xCBF29CE484222325ull;
  auto add_i64 = [&](int64_t v) { h = hash_bytes(&v, sizeof v, h); };
  add_i64(params.size());
  add_i64(params.buffer_size());
  for (const auto* list : {&params.params(), &params.buffers()}) {
    add_i64(static_cast<int64_t>(list->size()));
    for (const nn::Param* p : *list) {
      h = hash_bytes(p->name.data(), p->name.size(), h);
      for (int64_t d : p->shape) add_i64(d);
      add_i64(p->offset);
    }
  }
  return mix(h);
}

uint64_t parameter_checksum(const nn::Parameters& params) { return hash_floats(params.data(), params.size()); }

std::vector<uint64_t> tensor_checksums(const nn::Parameters& params) {
  std::vector<uint64_t> out;
  out.reserve(params.params().size());
  for (const nn::Param* p : params.params()) out.push_back(hash_floats(p->data, p->numel));
  return out;
}

void broadcast_parameters(nn::Parameters& params, const Comm& comm, int root) {
  if (!comm.is_mpi() || comm.size() == 1) return;
  if (root < 0 || root >= comm.size()) fail("broadcast_parameters: root {} is not a rank of {}", root, comm.size());
  CollectiveScope scope("parameter broadcast");
  require_same_on_all_ranks(comm.handle(), layout_hash(params), "the model (parameter names, shapes or layout)",
                            "every rank must build the same network from the same configuration");
  comm.broadcast(params.data(), params.size() * int64_t(sizeof(float)), root);
  comm.broadcast(params.buffer_data(), params.buffer_size() * int64_t(sizeof(float)), root);
}

void check_identical(const nn::Parameters& params, const Comm& comm, int64_t step) {
  if (!comm.is_mpi() || comm.size() == 1) return;
  CollectiveScope scope("parameter check");
  // Parameters and buffers (BatchNorm running statistics: averaged over the ranks after every step,
  // or computed from the allreduced statistics with SyncBatchNorm, so bit-identical too).
  uint64_t h = parameter_checksum(params);
  for (const nn::Param* b : params.buffers()) h = mix(h ^ rotl(hash_floats(b->data, b->numel), 23));
  std::vector<uint64_t> all = allgather_u64(comm.handle(), h);
  std::vector<int> differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ.push_back(static_cast<int>(r));
  if (differ.empty()) return;
  // Name the first tensor that differs (parameters, then buffers): rank 0's per-tensor checksums
  // against each rank's own.
  std::vector<const nn::Param*> tensors(params.params().begin(), params.params().end());
  tensors.insert(tensors.end(), params.buffers().begin(), params.buffers().end());
  std::vector<uint64_t> mine;
  mine.reserve(tensors.size());
  for (const nn::Param* p : tensors) mine.push_back(hash_floats(p->data, p->numel));
  std::vector<uint64_t> ref = mine;
  comm.broadcast(ref.data(), static_cast<int64_t>(ref.size() * sizeof(uint64_t)), 0);
  int64_t first = -1;
  for (size_t i = 0; i < mine.size() && first < 0; ++i)
    if (mine[i] != ref[i]) first = static_cast<int64_t>(i);
  std::vector<uint64_t> firsts = allgather_u64(comm.handle(), static_cast<uint64_t>(first));
  const int r1 = differ.front();
  const auto f1 = static_cast<int64_t>(firsts[static_cast<size_t>(r1)]);
  const std::string tensor =
      f1 >= 0 && f1 < static_cast<int64_t>(tensors.size()) ? tensors[static_cast<size_t>(f1)]->name : "(padding)";
  fail(
      "parameters differ between ranks after step {}: rank{} {} differ{} from rank 0 (first differing tensor on rank "
      "{}: {}); replicas must stay bit-identical: check that every rank runs the same build, configuration and "
      "thread count, and that nothing updates weights on some ranks only",
      step, differ.size() > 1 ? "s" : "", list_ranks(differ), differ.size() > 1 ? "" : "s", r1, tensor);
}

void average_buffers(nn::Parameters& params, const Comm& comm) {
  if (!comm.is_mpi() || comm.size() == 1 || params.buffer_size() == 0) return;
  CollectiveScope scope("buffer average");
  float* b = params.buffer_data();
  comm.allreduce_sum(b, params.buffer_size());
  const float inv = 1.0f / float(comm.size());
  for (int64_t i = 0; i < params.buffer_size(); ++i) b[i] *= inv;
}

}  // namespace climseg::parallel

// Bucketed gradient allreduce overlapped with backward: a small state machine per bucket whose
// stages (flat: one allreduce; hierarchical: node reduce, leader allreduce, node broadcast) are
// issued in one fixed sequence on every rank, so every communicator sees the same collective order.
#include "parallel/grad_sync.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/median.hpp"
#include "core/timer.hpp"
#include "parallel/mpi_util.hpp"
#include "parallel/state_sync.hpp"
#include "parallel/watchdog.hpp"

namespace climseg::parallel {

std::vector<Bucket> plan_buckets(const nn::Parameters& params, int64_t bucket_bytes) {
  if (bucket_bytes <= 0) fail_usage("gradient bucket size must be positive (got {} bytes)", bucket_bytes);
  std::vector<Bucket> out;
  Bucket cur;
  for (const nn::Param* p : params.params()) {  // arena order
    if (p->numel > INT_MAX) fail("tensor '{}' has {} values, more than one MPI message can carry", p->name, p->numel);
    const int64_t end = p->offset + p->numel;
    if (cur.tensors > 0 && (4 * (end - cur.begin) > bucket_bytes || end - cur.begin > INT_MAX)) {
      out.push_back(cur);
      cur = Bucket{};
    }
    if (cur.tensors == 0) cur.begin = p->offset;
    cur.end = end;
    ++cur.tensors;
  }
  if (cur.tensors > 0) out.push_back(cur);
  return out;
}

namespace {
enum class Stage { allreduce_world, reduce_node, allreduce_leaders, bcast_node };
}

struct GradSync::Impl {
  nn::Parameters* params = nullptr;
  GradSyncOptions o;
  OwnedComm world;                      // flat allreduce, checks
  OwnedComm node, node_bcast, leaders;  // hierarchical
  std::vector<Bucket> buckets;
  std::vector<int> bucket_of;         // parameter index -> bucket
  std::vector<int> tensors_left;      // per bucket, this step
  std::vector<Stage> stages;          // this rank's stages, in order
  std::vector<int> next_stage;        // per bucket: the stage to issue next (stages.size(): all issued)
  std::vector<char> in_flight;        // per bucket
  std::vector<MPI_Request> requests;  // per bucket
  std::vector<int> sequence;          // buckets in the order they became ready (the same on every rank)
  std::vector<size_t> cursor;         // per stage: position in `sequence` of the next bucket to issue
  std::vector<int> completed;         // scratch for MPI_Testsome
  float* base = nullptr;              // arena being reduced (the gradients, or calibrate()'s scratch)
  int done = 0, active = 0;
  bool stepping = false, syncing = false, order_checked = false;
  const nn::Graph* graph = nullptr;
  double t_begin = 0;
  GradSyncTimings t;

  int size() const { return world.size(); }
  bool parallel() const { return world.is_mpi() && world.size() > 1; }

  void build_topology() {
    if (!o.hierarchical || !parallel()) {
      stages = {Stage::allreduce_world};
      return;
    }
    MPI_Comm n = MPI_COMM_NULL;
    if (o.ranks_per_node > 0)
      check_mpi(MPI_Comm_split(world.handle(), world.rank() / o.ranks_per_node, world.rank(), &n), "comm_split (node)");
    else
      check_mpi(MPI_Comm_split_type(world.handle(), MPI_COMM_TYPE_SHARED, world.rank(), MPI_INFO_NULL, &n),
                "comm_split_type (node)");
    node = OwnedComm(n);
    MPI_Comm nb = MPI_COMM_NULL;
    check_mpi(MPI_Comm_dup(node.handle(), &nb), "comm_dup (node)");
    node_bcast = OwnedComm(nb);
    MPI_Comm l = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split(world.handle(), node.rank() == 0 ? 0 : MPI_UNDEFINED, world.rank(), &l),
              "comm_split (leaders)");
    if (l != MPI_COMM_NULL) leaders = OwnedComm(l);
    stages.clear();
    if (node.size() > 1) stages.push_back(Stage::reduce_node);
    if (leaders.is_mpi() && leaders.size() > 1) stages.push_back(Stage::allreduce_leaders);
    if (node.size() > 1) stages.push_back(Stage::bcast_node);
  }

  void issue(int b, size_t s) {
    float* p = base + buckets[size_t(b)].begin;
    const int n = static_cast<int>(buckets[size_t(b)].floats());
    MPI_Request* r = &requests[size_t(b)];
    switch (stages[s]) {
      case Stage::allreduce_world:
        check_mpi(MPI_Iallreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, world.handle(), r), "iallreduce (gradients)");
        break;
      case Stage::reduce_node:
        if (node.rank() == 0)
          check_mpi(MPI_Ireduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, 0, node.handle(), r), "ireduce (gradients)");
        else
          check_mpi(MPI_Ireduce(p, nullptr, n, MPI_FLOAT, MPI_SUM, 0, node.handle(), r), "ireduce (gradients)");
        break;
      case Stage::allreduce_leaders:
        check_mpi(MPI_Iallreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, leaders.handle(), r),
                  "iallreduce (gradients, node leaders)");
        break;
      case Stage::bcast_node:
        check_mpi(MPI_Ibcast(p, n, MPI_FLOAT, 0, node_bcast.handle(), r), "ibcast (gradients)");
        break;
    }
    next_stage[size_t(b)] = static_cast<int>(s + 1);
    in_flight[size_t(b)] = 1;
    ++active;
  }

  void reset_step() {
    for (size_t b = 0; b < buckets.size(); ++b) {
      tensors_left[b] = buckets[b].tensors;
      next_stage[b] = 0;
      in_flight[b] = 0;
      requests[b] = MPI_REQUEST_NULL;
    }
    sequence.clear();
    std::fill(cursor.begin(), cursor.end(), 0);
    done = 0;
    active = 0;
  }

  void bucket_done(int b) {
    ++done;
    if (!o.average || base != params->grad()) return;
    const float inv = 1.0f / float(size());
    float* p = base + buckets[size_t(b)].begin;
    const int64_t n = buckets[size_t(b)].floats();
    for (int64_t i = 0; i < n; ++i) p[i] *= inv;
  }

  // A bucket's gradients are all final: it joins the sequence and its first stage starts.
  void ready(int b) {
    sequence.push_back(b);
    issue(b, 0);
    cursor[0] = sequence.size();
  }

  // Issues every later stage that may go: in sequence order, after the bucket's previous stage.
  void advance() {
    for (size_t s = 1; s < stages.size(); ++s) {
      while (cursor[s] < sequence.size()) {
        const int b = sequence[cursor[s]];
        if (next_stage[size_t(b)] != static_cast<int>(s) || in_flight[size_t(b)]) break;
        issue(b, s);
        ++cursor[s];
      }
    }
  }

  void on_completed(int count) {
    for (int i = 0; i < count; ++i) {
      const int b = completed[size_t(i)];
      in_flight[size_t(b)] = 0;
      --active;
      if (next_stage[size_t(b)] == static_cast<int>(stages.size())) bucket_done(b);
    }
  }

  // Non-blocking: harvests completed requests and issues what may follow.
  void progress() {
    if (active == 0) return;
    int count = 0;
    check_mpi(
        MPI_Testsome(static_cast<int>(requests.size()), requests.data(), &count, completed.data(), MPI_STATUSES_IGNORE),
        "testsome (gradients)");
    if (count != MPI_UNDEFINED && count > 0) {
      on_completed(count);
      advance();
    }
  }

  // Blocks until every bucket has passed every stage.
  void wait_all() {
    const int total = static_cast<int>(buckets.size());
    advance();
    while (done < total) {
      if (active == 0)
        fail("gradient synchronisation stalled with {} of {} buckets done (internal error)", done, total);
      int count = 0;
      check_mpi(MPI_Waitsome(static_cast<int>(requests.size()), requests.data(), &count, completed.data(),
                             MPI_STATUSES_IGNORE),
                "waitsome (gradients)");
      if (count != MPI_UNDEFINED) on_completed(count);
      advance();
    }
  }

  void on_grad_ready(const nn::Graph* g, const nn::Param& p) {
    if (g != graph) return;  // a graph this object was attached to before
    if (!stepping) {
      // backward() without begin_backward(): synchronise anyway (timings start here).
      begin(true);
    }
    if (!syncing) return;
    const double t0 = now_seconds();
    const int b = bucket_of[size_t(p.index)];
    if (--tensors_left[size_t(b)] == 0) {
      ready(b);
      t.last_ready_s = t0 - t_begin;
      if (sequence.size() == 1) t.first_ready_s = t.last_ready_s;
    }
    if (o.progress_in_hook) progress();
    t.hook_s += now_seconds() - t0;
  }

  void begin(bool sync) {
    if (stepping) fail("GradSync: begin_backward() called twice without finish() in between");
    stepping = true;
    syncing = sync && parallel();
    const double comm_s = t.comm_s;
    t = GradSyncTimings{};
    t.comm_s = comm_s;
    t.buckets = static_cast<int>(buckets.size());
    t.bytes = params->size() * 4;
    base = params->grad();
    if (syncing) reset_step();
    t_begin = now_seconds();
  }
};

GradSync::GradSync(nn::Parameters& params, const Comm& comm, GradSyncOptions options)
    : impl_(std::make_shared<Impl>()) {
  Impl& m = *impl_;
  m.params = &params;
  m.o = options;
  m.buckets = plan_buckets(params, options.bucket_bytes);
  m.world = comm.dup();
  if (m.parallel()) {
    CollectiveScope scope("gradient sync setup");
    require_same_on_all_ranks(m.world.handle(), layout_hash(params), "the model (parameter names, shapes or layout)",
                              "every rank must build the same network from the same configuration");
    if (options.ranks_per_node < 0) fail_usage("ranks per node must be >= 0 (got {})", options.ranks_per_node);
    m.build_topology();
  } else {
    m.stages = {Stage::allreduce_world};
  }
  m.bucket_of.assign(params.params().size(), -1);
  for (size_t b = 0; b < m.buckets.size(); ++b)
    for (const nn::Param* p : params.params())
      if (p->offset >= m.buckets[b].begin && p->offset < m.buckets[b].end) m.bucket_of[size_t(p->index)] = int(b);
  const size_t nb = m.buckets.size();
  m.tensors_left.assign(nb, 0);
  m.next_stage.assign(nb, 0);
  m.in_flight.assign(nb, 0);
  m.requests.assign(nb, MPI_REQUEST_NULL);
  m.completed.assign(nb, 0);
  m.sequence.reserve(nb);
  m.cursor.assign(m.stages.size(), 0);
  m.t.buckets = static_cast<int>(nb);
  m.t.bytes = params.size() * 4;
  log::debug("gradient sync: {} ranks, {} buckets of up to {} KiB over {:.2f} MB{}", m.size(), nb,
             options.bucket_bytes >> 10, double(params.size()) * 4e-6,
             options.hierarchical ? fmt::format(", hierarchical ({} ranks per node group)", node_ranks()) : "");
}

GradSync::GradSync(nn::Parameters& params, nn::Graph& graph, const Comm& comm, GradSyncOptions options)
    : GradSync(params, comm, options) {
  attach(graph);
}

GradSync::~GradSync() {
  Impl& m = *impl_;
  if (m.active > 0) {
    // Requests still write into the gradients; collectives cannot be cancelled. This only happens
    // when an exception unwinds mid-step, on the way to MPI_Abort: leave the communicators alone.
    m.world.leak();
    m.node.leak();
    m.node_bcast.leak();
    m.leaders.leak();
  }
}

void GradSync::attach(nn::Graph& graph) {
  if (graph.parameters() != impl_->params) fail("GradSync: the graph trains other Parameters than this object syncs");
  if (!graph.compiled()) fail("GradSync: compile the graph before attaching it");
  if (!graph.training()) fail("GradSync: the graph is an eval graph (no backward)");
  if (impl_->graph != &graph) impl_->order_checked = false;  // a graph's order never changes once compiled
  impl_->graph = &graph;
  std::weak_ptr<Impl> weak = impl_;
  const nn::Graph* g = &graph;
  graph.on_grad_ready([weak, g](const nn::Param& p) {
    if (auto m = weak.lock()) m->on_grad_ready(g, p);
  });
}

void GradSync::begin_backward(bool sync) {
  Impl& m = *impl_;
  if (!m.order_checked && m.graph != nullptr && m.parallel()) {
    // Buckets start in the order their last gradient arrives: identical graphs keep that order
    // identical on every rank (a mismatch would pair different buckets in one collective).
    uint64_t h = 0xCBF29CE484222325ull;
    for (const nn::Param* p : m.graph->grad_ready_order()) h = (h ^ uint64_t(p->index)) * 0x100000001B3ull;
    CollectiveScope scope("gradient sync setup");
    require_same_on_all_ranks(m.world.handle(), h, "the order in which backward finishes gradients",
                              "every rank must build the same graph");
    m.order_checked = true;
  }
  m.begin(sync);
}

void GradSync::finish() {
  Impl& m = *impl_;
  if (!m.stepping) fail("GradSync: finish() without begin_backward() (or a backward that reported no gradient)");
  const double t0 = now_seconds();
  m.t.backward_s = t0 - m.t_begin;
  if (m.syncing) {
    m.progress();
    m.t.buckets_done_in_backward = m.done;
    m.t.buckets_started_in_backward = static_cast<int>(m.sequence.size());
    // Buckets no gradient report completed (no graph attached, or tensors the graph never reported)
    // go now, in bucket order: the same on every rank.
    for (size_t b = 0; b < m.buckets.size(); ++b)
      if (m.tensors_left[b] > 0) {
        m.tensors_left[b] = 0;
        m.ready(static_cast<int>(b));
      }
    CollectiveScope scope("gradient allreduce");
    m.wait_all();
  }
  m.t.wait_s = now_seconds() - t0;
  if (m.t.comm_s > 0) m.t.hidden_fraction = std::clamp(1.0 - m.t.wait_s / m.t.comm_s, 0.0, 1.0);
  m.stepping = false;
  m.syncing = false;
}

double GradSync::calibrate(int repeats) {
  Impl& m = *impl_;
  if (m.stepping) fail("GradSync: calibrate() inside a step (between begin_backward() and finish())");
  if (!m.parallel()) return 0;
  CollectiveScope scope("gradient sync calibration");
  Tensor scratch = Tensor::zeros({m.params->size()});
  std::vector<double> times;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    check_mpi(MPI_Barrier(m.world.handle()), "barrier");
    const double t0 = now_seconds();
    m.base = scratch.data();
    m.reset_step();
    for (size_t b = 0; b < m.buckets.size(); ++b) {
      m.tensors_left[b] = 0;
      m.ready(static_cast<int>(b));
    }
    m.wait_all();
    times.push_back(now_seconds() - t0);
  }
  m.base = m.params->grad();
  m.t.comm_s = slowest_rank_upper_median(times, m.world);
  return m.t.comm_s;
}

GradSyncSummary summarize(const GradSyncTimings& t, const Comm& comm) {
  double v[5] = {t.backward_s, t.wait_s, -t.wait_s, -double(t.buckets_done_in_backward),
                 -double(t.buckets_started_in_backward)};
  comm.allreduce_max(v, 5);
  GradSyncSummary s;
  s.backward_s = v[0];
  s.wait_max_s = v[1];
  s.exposed_s = -v[2];
  s.imbalance_s = s.wait_max_s - s.exposed_s;
  s.buckets_done_in_backward = static_cast<int>(-v[3]);
  s.buckets_started_in_backward = static_cast<int>(-v[4]);
  s.comm_s = t.comm_s;
  if (s.comm_s > 0) s.hidden_fraction = std::clamp(1.0 - s.exposed_s / s.comm_s, 0.0, 1.0);
  return s;
}

const GradSyncTimings& GradSync::last() const { return impl_->t; }
const std::vector<Bucket>& GradSync::buckets() const { return impl_->buckets; }
const GradSyncOptions& GradSync::options() const { return impl_->o; }
int GradSync::ranks() const { return impl_->size(); }
int GradSync::node_ranks() const { return impl_->node.is_mpi() ? impl_->node.size() : 1; }

}  // namespace climseg::parallel

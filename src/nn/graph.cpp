// Graph building, liveness-based memory planning of one arena, and the forward/backward runners.
#include "nn/graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "core/error.hpp"
#include "nn/kernels/ops_ref.hpp"

namespace climseg::nn {
namespace {

constexpr int64_t kAlignBytes = 64;
int64_t align_bytes(int64_t n) { return (std::max<int64_t>(n, 1) + kAlignBytes - 1) / kAlignBytes * kAlignBytes; }

double seconds_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// ---------------------------------------------------------------- Value

const Shape& Value::shape() const { return g_->rec(id_).shape; }
int64_t Value::dim(int i) const {
  const Shape& s = shape();
  return s[static_cast<size_t>(i < 0 ? i + static_cast<int>(s.size()) : i)];
}
int64_t Value::numel() const { return g_->rec(id_).numel; }
DType Value::dtype() const { return g_->rec(id_).dtype; }
const std::string& Value::name() const { return g_->rec(id_).name; }

// ---------------------------------------------------------------- nodes and buffers

struct Graph::Node {
  std::unique_ptr<Op> op;
  std::vector<int> inputs;
  int output = -1;
  OpNeeds needs;
  bool active = false;  // runs in backward
  bool folded = false;  // fused into other nodes (fold_norms, fold_gates): never runs
  const char* fold_note = "  (folded into its inputs' producers)";
  // fixed at compile
  std::vector<const void*> in_ptrs;
  std::vector<void*> din_ptrs;
  std::unique_ptr<bool[]> acc;
  std::vector<bool> acc_plan;        // false for the first writer of a gradient
  std::vector<bool> is_param_input;  // accumulate mode may override
  std::vector<void*> saved_ptrs;
  void* fwd_ws = nullptr;
  void* bwd_ws = nullptr;
  OpContext ctx;
  std::vector<const Param*> ready_after;
  double fwd_s = 0, bwd_s = 0;
  int64_t calls = 0;
};

// One planned allocation: [start, end] in steps (forward node i is step i, backward node i is
// step 2N-1-i), `bytes` long; `slot` receives its address.
struct Graph::Buffer {
  int64_t start = 0, end = 0, bytes = 0, offset = -1;
  void** slot = nullptr;
};

Graph::Graph(Parameters* params, Mode mode) : params_(params), mode_(mode) {}

void Graph::set_precision(Precision p) {
  if (p == Precision::bf16 && training())
    fail_usage("--precision bf16: training in bf16 is not implemented (bf16 is for prediction); use fp32");
  require_precision(p);
  precision_ = p;
}
Graph::~Graph() = default;

void Graph::check_building(const char* what) const {
  if (compiled_) fail("{}: the graph is already compiled (build a new graph for another shape)", what);
}

void Graph::check_value(Value v, const char* what) const {
  if (!v.valid() || &v.graph() != this) fail("{}: the value belongs to another graph or is empty", what);
}

int Graph::new_value(Shape shape, DType dtype, const std::string& name) {
  auto r = std::make_unique<ValueRec>();
  r->numel = shape_numel(shape);
  r->shape = std::move(shape);
  r->dtype = dtype;
  r->name = name.empty() ? fmt::format("v{}", values_.size()) : name;
  values_.push_back(std::move(r));
  return static_cast<int>(values_.size()) - 1;
}

int Graph::root_of(int v) const {
  while (rec(v).kind == ValueRec::Kind::alias) v = rec(v).alias_of;
  return v;
}

Value Graph::input(const std::string& name, Shape shape, bool requires_grad) {
  check_building("input");
  int id = new_value(std::move(shape), DType::f32, name);
  values_.back()->kind = ValueRec::Kind::input;
  values_.back()->requires_grad = requires_grad;
  return Value(this, id);
}

Value Graph::input_labels(const std::string& name, Shape shape) {
  check_building("input_labels");
  int id = new_value(std::move(shape), DType::i32, name);
  values_.back()->kind = ValueRec::Kind::input;
  return Value(this, id);
}

Value Graph::param(Param& p) {
  for (size_t i = 0; i < values_.size(); ++i)
    if (values_[i]->param == &p) return Value(this, static_cast<int>(i));
  check_building("param");
  if (p.data == nullptr) fail("parameter '{}' has no storage: build a Parameters arena for its model first", p.name);
  int id = new_value(p.shape, DType::f32, p.name);
  ValueRec& r = *values_.back();
  r.kind = ValueRec::Kind::param;
  r.param = &p;
  r.data = p.data;
  r.requires_grad = training() && !p.is_buffer && p.grad != nullptr;
  return Value(this, id);
}

Value Graph::add(std::unique_ptr<Op> op, std::vector<Value> inputs, Shape out_shape, DType out_dtype,
                 const std::string& name) {
  check_building(op->kind().c_str());
  auto node = std::make_unique<Node>();
  bool rg = false;
  for (const Value& v : inputs) {
    check_value(v, op->kind().c_str());
    node->inputs.push_back(v.id());
    if (rec(v.id()).dtype == DType::f32) rg = rg || rec(v.id()).requires_grad;
  }
  node->needs = op->needs();
  node->needs.input_in_backward.resize(inputs.size(), false);
  int id =
      new_value(std::move(out_shape), out_dtype, name.empty() ? op->kind() + std::to_string(values_.size()) : name);
  ValueRec& r = *values_.back();
  r.kind = ValueRec::Kind::activation;
  r.producer = static_cast<int>(nodes_.size());
  r.requires_grad = rg && out_dtype == DType::f32;
  for (const Value& v : inputs) values_[static_cast<size_t>(v.id())]->consumers.push_back(r.producer);
  node->op = std::move(op);
  node->output = id;
  nodes_.push_back(std::move(node));
  return Value(this, id);
}

Value Graph::alias(Value x, Shape shape) {
  check_building("reshape");
  check_value(x, "reshape");
  if (shape_numel(shape) != x.numel()) fail("reshape: cannot view {} as {}", shape_str(x.shape()), shape_str(shape));
  int id = new_value(std::move(shape), x.dtype(), x.name() + ".view");
  ValueRec& r = *values_.back();
  r.kind = ValueRec::Kind::alias;
  r.alias_of = x.id();
  r.requires_grad = rec(x.id()).requires_grad;
  return Value(this, id);
}

void Graph::set_name(Value v, const std::string& name) {
  check_value(v, "set_name");
  values_[static_cast<size_t>(v.id())]->name = name;
}

uint64_t Graph::op_seed(int node) const {
  return ref::mix64(seed_ ^ ref::mix64(static_cast<uint64_t>(step_) * 0x100000001b3ULL + static_cast<uint64_t>(node)));
}

// ---------------------------------------------------------------- planning

void Graph::compile(const std::vector<Value>& outputs, Value loss) {
  check_building("compile");
  for (const Value& v : outputs) {
    check_value(v, "compile");
    outputs_.push_back(v.id());
  }
  if (loss.valid()) {
    check_value(loss, "compile");
    if (!training()) fail("compile: an eval graph has no backward; give no loss");
    if (loss.dtype() != DType::f32) fail("compile: the loss must be a float value");
    loss_ = loss.id();
    outputs_.push_back(loss_);
  }
  if (!training() && !bn_batch_stats_ && fusion_) fold_norms();
  if (!training() && fusion_) fold_gates();
  plan();
  compiled_ = true;
}

bool Graph::sole_use(int v) const {
  const ValueRec& r = rec(v);
  return r.kind == ValueRec::Kind::activation && r.dtype == DType::f32 && r.consumers.size() == 1 &&
         std::find(outputs_.begin(), outputs_.end(), v) == outputs_.end();
}

// Each eval BatchNorm whose input only it reads goes into that input's producer (a convolution), or
// into each producer of a concat whose inputs only the concat reads; those then write the concat's
// buffer directly at their channel offsets. The norm's output becomes an alias of its input (and
// each concat input an alias of a slice of the concat's output); the norm and the concat stay as
// nodes that never run (node indices, and so op seeds, do not move).
void Graph::fold_norms() {
  for (auto& bnp : nodes_) {
    Node& bn = *bnp;
    FoldedNorm f;
    if (bn.folded || !bn.op->foldable_norm(&f) || bn.inputs.size() < 3) continue;
    bool params = true;
    for (size_t k = 1; k < bn.inputs.size(); ++k) params = params && rec(bn.inputs[k]).kind == ValueRec::Kind::param;
    const int x = bn.inputs[0];
    if (!params || !sole_use(x) || rec(x).shape.size() < 2) continue;
    f.gamma = static_cast<const float*>(rec(bn.inputs[1]).data);
    f.beta = static_cast<const float*>(rec(bn.inputs[2]).data);
    f.alpha = bn.inputs.size() > 3 ? static_cast<const float*>(rec(bn.inputs[3]).data) : nullptr;
    Node& prod = *nodes_[static_cast<size_t>(rec(x).producer)];
    const bool concat = prod.op->kind() == "concat";
    const std::vector<int> writers = concat ? prod.inputs : std::vector<int>{x};
    bool ok = true;
    for (int w : writers)
      ok = ok && (w == x || sole_use(w)) && nodes_[static_cast<size_t>(rec(w).producer)]->op->can_fold_norm();
    if (!ok && concat && prod.op->can_fold_own_norm()) {
      // The concat's inputs cannot take it (read elsewhere too, or from a pool or an input): the
      // concat normalises each plane as it copies it, and the norm never runs.
      f.c0 = 0;
      f.image_stride = 0;
      prod.op->fold_norm(f);
      bn.folded = true;
      ValueRec& out = *values_[static_cast<size_t>(bn.output)];
      out.kind = ValueRec::Kind::alias;
      out.alias_of = x;
      continue;
    }
    if (!ok) continue;
    const int64_t image = rec(x).numel / rec(x).shape[0], plane = image / rec(x).shape[1];
    int64_t c0 = 0;
    for (int w : writers) {
      f.c0 = c0;
      f.image_stride = image;
      nodes_[static_cast<size_t>(rec(w).producer)]->op->fold_norm(f);
      if (w != x) {
        ValueRec& r = *values_[static_cast<size_t>(w)];
        r.kind = ValueRec::Kind::alias;
        r.alias_of = x;
        r.alias_offset = c0 * plane * 4;
      }
      c0 += rec(w).shape[1];
    }
    prod.folded = concat;
    bn.folded = true;
    ValueRec& out = *values_[static_cast<size_t>(bn.output)];
    out.kind = ValueRec::Kind::alias;
    out.alias_of = x;
  }
}

// Each add one of whose inputs is a scale_channels(x, g) that only the add reads (CGNet's gated
// residual, a + x * g) computes it in its own pass: the add reads (a, x, g), the scale_channels never
// runs and its output is never stored (an alias of x that nothing reads).
void Graph::fold_gates() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& add = *nodes_[i];
    if (add.folded || add.inputs.size() != 2 || !add.op->can_fold_gate()) continue;
    for (int side = 1; side >= 0; --side) {
      const int scaled = add.inputs[static_cast<size_t>(side)];
      if (!sole_use(scaled)) continue;
      Node& sc = *nodes_[static_cast<size_t>(rec(scaled).producer)];
      if (sc.folded || sc.op->kind() != "scale_channels" || sc.inputs.size() != 2) continue;
      const ValueRec& r = rec(scaled);
      const int64_t nc = r.shape[0] * r.shape[1];
      add.op->fold_gate(nc, r.numel / nc);
      add.inputs = {add.inputs[static_cast<size_t>(1 - side)], sc.inputs[0], sc.inputs[1]};
      add.needs = add.op->needs();
      for (int v : sc.inputs)
        for (int& consumer : values_[static_cast<size_t>(v)]->consumers)
          if (consumer == rec(scaled).producer) consumer = static_cast<int>(i);
      ValueRec& out = *values_[static_cast<size_t>(scaled)];
      out.consumers.clear();
      out.kind = ValueRec::Kind::alias;
      out.alias_of = sc.inputs[0];
      sc.folded = true;
      sc.fold_note = "  (folded into the add that reads it)";
      break;
    }
  }
}

void Graph::plan() {
  const int64_t n = static_cast<int64_t>(nodes_.size());
  const bool has_backward = loss_ >= 0 && rec(loss_).requires_grad;
  const int64_t last = has_backward ? 2 * n : n;  // one past the final step
  auto bwd_step = [&](int node) { return 2 * n - 1 - node; };

  // Which values receive a gradient from the loss, and which nodes run backward.
  std::vector<bool> reached(values_.size(), false);
  auto mark = [&](int v) {
    for (;;) {
      reached[static_cast<size_t>(v)] = true;
      if (rec(v).kind != ValueRec::Kind::alias) break;
      v = rec(v).alias_of;
    }
  };
  if (has_backward) mark(loss_);
  for (int64_t i = n - 1; i >= 0; --i) {
    Node& nd = *nodes_[static_cast<size_t>(i)];
    nd.active = has_backward && reached[static_cast<size_t>(nd.output)];
    if (!nd.active) continue;
    for (int in : nd.inputs)
      if (rec(in).requires_grad && rec(in).dtype == DType::f32) mark(in);
  }

  std::vector<Buffer> bufs;
  auto add_buf = [&](int64_t start, int64_t end, int64_t bytes, void** slot) {
    bufs.push_back(Buffer{start, std::max(start, end), align_bytes(bytes), -1, slot});
  };

  // Data buffers of inputs and activations (aliases share their root's).
  std::vector<int64_t> end_of(values_.size(), -1);
  for (size_t v = 0; v < values_.size(); ++v) {
    ValueRec& r = *values_[v];
    if (r.kind == ValueRec::Kind::alias || r.kind == ValueRec::Kind::param) continue;
    end_of[v] = r.kind == ValueRec::Kind::input ? last : r.producer;
  }
  auto extend = [&](int v, int64_t step) {
    int root = root_of(v);
    if (rec(root).kind == ValueRec::Kind::param) return;
    end_of[static_cast<size_t>(root)] = std::max(end_of[static_cast<size_t>(root)], step);
  };
  for (int64_t i = 0; i < n; ++i) {
    Node& nd = *nodes_[static_cast<size_t>(i)];
    for (size_t k = 0; k < nd.inputs.size(); ++k) {
      extend(nd.inputs[k], i);
      if (nd.active && nd.needs.input_in_backward[k]) extend(nd.inputs[k], bwd_step(static_cast<int>(i)));
    }
    if (nd.active && nd.needs.output_in_backward) extend(nd.output, bwd_step(static_cast<int>(i)));
  }
  for (int v : outputs_) extend(v, last);
  // A buffer lives from its first writer: its producer, or a producer folded into it (fold_norms).
  std::vector<int64_t> start_of(values_.size(), 0);
  for (size_t v = 0; v < values_.size(); ++v)
    if (rec(static_cast<int>(v)).kind == ValueRec::Kind::activation) start_of[v] = rec(static_cast<int>(v)).producer;
  for (size_t v = 0; v < values_.size(); ++v) {
    const ValueRec& r = rec(static_cast<int>(v));
    if (r.kind != ValueRec::Kind::alias || r.producer < 0) continue;
    const size_t root = static_cast<size_t>(root_of(static_cast<int>(v)));
    start_of[root] = std::min<int64_t>(start_of[root], r.producer);
  }
  for (size_t v = 0; v < values_.size(); ++v) {
    ValueRec& r = *values_[v];
    if (r.kind == ValueRec::Kind::input || r.kind == ValueRec::Kind::activation)
      add_buf(start_of[v], end_of[v], r.bytes(), &r.data);
  }
  for (int v : outputs_) values_[static_cast<size_t>(root_of(v))]->kept = true;

  // Gradient buffers: from the first contribution (in backward order) to the producer's backward.
  for (auto& nd : nodes_) {
    nd->acc_plan.assign(nd->inputs.size(), true);
    nd->is_param_input.assign(nd->inputs.size(), false);
  }
  std::vector<bool> written(values_.size(), false);
  std::vector<int64_t> first_write(values_.size(), -1);
  if (has_backward) first_write[static_cast<size_t>(root_of(loss_))] = n;
  ready_order_.clear();
  unreached_params_.clear();
  std::vector<bool> param_seen(values_.size(), false);
  if (has_backward) written[static_cast<size_t>(root_of(loss_))] = true;  // the seed writes it
  for (int64_t i = n - 1; i >= 0; --i) {
    Node& nd = *nodes_[static_cast<size_t>(i)];
    if (!nd.active) continue;
    for (size_t k = 0; k < nd.inputs.size(); ++k) {
      int in = nd.inputs[k];
      if (!rec(in).requires_grad || rec(in).dtype != DType::f32) continue;
      int root = root_of(in);
      nd.acc_plan[k] = written[static_cast<size_t>(root)];
      written[static_cast<size_t>(root)] = true;
      if (first_write[static_cast<size_t>(root)] < 0)
        first_write[static_cast<size_t>(root)] = bwd_step(static_cast<int>(i));
      nd.is_param_input[k] = rec(root).kind == ValueRec::Kind::param;
    }
  }
  // The last writer of each parameter's gradient (in backward order) makes it final.
  for (int64_t i = 0; i < n; ++i) {
    Node& nd = *nodes_[static_cast<size_t>(i)];
    if (!nd.active) continue;
    for (size_t k = 0; k < nd.inputs.size(); ++k) {
      int root = root_of(nd.inputs[k]);
      if (!nd.is_param_input[k] || param_seen[static_cast<size_t>(root)]) continue;
      param_seen[static_cast<size_t>(root)] = true;
      nd.ready_after.push_back(rec(root).param);
    }
  }
  if (params_ != nullptr && training()) {
    std::vector<bool> has(params_->params().size(), false);
    for (size_t v = 0; v < values_.size(); ++v)
      if (param_seen[v]) has[static_cast<size_t>(values_[v]->param->index)] = true;
    for (Param* p : params_->params())
      if (!has[static_cast<size_t>(p->index)]) {
        unreached_params_.push_back(p);
        ready_order_.push_back(p);
      }
    for (int64_t i = n - 1; i >= 0; --i)
      for (const Param* p : nodes_[static_cast<size_t>(i)]->ready_after) ready_order_.push_back(p);
  }
  for (size_t v = 0; v < values_.size(); ++v) {
    ValueRec& r = *values_[v];
    if (r.kind == ValueRec::Kind::alias) continue;
    if (r.kind == ValueRec::Kind::param) {
      r.grad = r.param->grad;
      continue;
    }
    if (!reached[v] || first_write[v] < 0) continue;
    int64_t end = r.kind == ValueRec::Kind::input ? last : bwd_step(r.producer);
    add_buf(first_write[v], end, r.bytes(), &r.grad);
  }

  // Saved scratch and workspaces.
  for (int64_t i = 0; i < n; ++i) {
    Node& nd = *nodes_[static_cast<size_t>(i)];
    nd.saved_ptrs.assign(nd.needs.saved_bytes.size(), nullptr);
    for (size_t k = 0; k < nd.needs.saved_bytes.size(); ++k)
      add_buf(i, nd.active ? bwd_step(static_cast<int>(i)) : i, nd.needs.saved_bytes[k], &nd.saved_ptrs[k]);
    if (nd.needs.forward_workspace_bytes > 0) add_buf(i, i, nd.needs.forward_workspace_bytes, &nd.fwd_ws);
    if (nd.active && nd.needs.backward_workspace_bytes > 0) {
      int64_t s = bwd_step(static_cast<int>(i));
      add_buf(s, s, nd.needs.backward_workspace_bytes, &nd.bwd_ws);
    }
  }

  // Greedy placement: each buffer at the lowest offset that overlaps no buffer alive at the same
  // time, largest first. The order of equal sizes (and a time order) changes how chains of equal
  // activations pack (CGNet's prediction with its norms folded: 100 MB in creation order, 88 in
  // reverse), so several orders are tried and the smallest arena wins (ties: the first order).
  auto place = [&](int variant, std::vector<int64_t>& offsets) {
    std::vector<size_t> order(bufs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const Buffer &x = bufs[a], &y = bufs[b];
      switch (variant) {
        case 1:  // equal sizes: the latest made first
          return x.bytes != y.bytes ? x.bytes > y.bytes : a > b;
        case 2:  // equal sizes: the longest lived first
          return x.bytes != y.bytes ? x.bytes > y.bytes : x.end - x.start > y.end - y.start;
        case 3:  // in time order, largest first among those starting together
          return x.start != y.start ? x.start < y.start : x.bytes > y.bytes;
        default:
          return x.bytes > y.bytes;
      }
    });
    offsets.assign(bufs.size(), -1);
    std::vector<size_t> placed;
    int64_t total = 0;
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t idx : order) {
      const Buffer& b = bufs[idx];
      busy.clear();
      for (size_t j : placed) {
        const Buffer& o = bufs[j];
        if (o.start <= b.end && b.start <= o.end) busy.emplace_back(offsets[j], offsets[j] + o.bytes);
      }
      std::sort(busy.begin(), busy.end());
      int64_t off = 0;
      for (auto& [lo, hi] : busy) {
        if (off + b.bytes <= lo) break;
        off = std::max(off, hi);
      }
      // No buffer alive at the same time as b shares a byte with it.
      CLIMSEG_ASSERT(std::none_of(busy.begin(), busy.end(),
                                  [&](const auto& r) { return off < r.second && r.first < off + b.bytes; }));
      offsets[idx] = off;
      total = std::max(total, off + b.bytes);
      placed.push_back(idx);
    }
    return total;
  };
  std::vector<int64_t> offsets, trial;
  int64_t total = place(0, offsets);
  for (int variant = 1; variant <= 3; ++variant) {
    const int64_t t = place(variant, trial);
    if (t < total) total = t, offsets.swap(trial);
  }
  naive_bytes_ = 0;
  for (size_t i = 0; i < bufs.size(); ++i) {
    bufs[i].offset = offsets[i];
    naive_bytes_ += bufs[i].bytes;
  }
  arena_bytes_ = total;
  arena_ = Tensor(Shape{(total + 3) / 4});
  auto* base = reinterpret_cast<char*>(arena_.data());
  for (Buffer& b : bufs) *b.slot = base + b.offset;
  for (size_t v = 0; v < values_.size(); ++v) {
    ValueRec& r = *values_[v];
    if (r.kind != ValueRec::Kind::alias) continue;
    int64_t offset = 0;
    int root = static_cast<int>(v);
    for (; rec(root).kind == ValueRec::Kind::alias; root = rec(root).alias_of) offset += rec(root).alias_offset;
    r.data = static_cast<char*>(values_[static_cast<size_t>(root)]->data) + offset;
    CLIMSEG_ASSERT(offset == 0 || values_[static_cast<size_t>(root)]->grad == nullptr);  // folds: eval graphs only
    r.grad = values_[static_cast<size_t>(root)]->grad;
  }
  if (has_backward) loss_grad_ = rec(root_of(loss_)).grad;

  // Fixed contexts.
  for (auto& ndp : nodes_) {
    Node& nd = *ndp;
    const size_t k = nd.inputs.size();
    nd.in_ptrs.resize(k);
    nd.din_ptrs.assign(k, nullptr);
    nd.acc = std::make_unique<bool[]>(std::max<size_t>(k, 1));
    for (size_t j = 0; j < k; ++j) {
      const ValueRec& r = rec(nd.inputs[j]);
      nd.in_ptrs[j] = r.data;
      if (nd.active && r.requires_grad && r.dtype == DType::f32) nd.din_ptrs[j] = r.grad;
      nd.acc[j] = nd.acc_plan[j];
    }
    nd.ctx.in = nd.in_ptrs.data();
    nd.ctx.out = rec(nd.output).data;
    nd.ctx.din = nd.din_ptrs.data();
    nd.ctx.accumulate = nd.acc.get();
    nd.ctx.dout = nd.active ? rec(nd.output).grad : nullptr;
    nd.ctx.saved = nd.saved_ptrs.data();
    nd.ctx.graph = this;
  }
}

// ---------------------------------------------------------------- running

void Graph::forward() {
  if (!compiled_) fail("forward: compile the graph first");
  ++step_;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& nd = *nodes_[i];
    if (nd.folded) continue;
    current_ = static_cast<int>(i);
    nd.ctx.workspace = nd.fwd_ws;
    if (profiling_) {
      double t0 = seconds_now();
      nd.op->forward(nd.ctx);
      nd.fwd_s += seconds_now() - t0;
      ++nd.calls;
    } else {
      nd.op->forward(nd.ctx);
    }
  }
  current_ = -1;
}

void Graph::backward(const float* seed, bool accumulate) {
  if (!compiled_) fail("backward: compile the graph first");
  if (loss_ < 0 || loss_grad_ == nullptr)
    fail("backward: the graph was compiled without a loss that depends on a trainable value");
  float* lg = static_cast<float*>(loss_grad_);
  const int64_t ln = rec(loss_).numel;
  if (seed)
    std::memcpy(lg, seed, static_cast<size_t>(ln) * sizeof(float));
  else
    std::fill(lg, lg + ln, 1.0f);
  for (Param* p : unreached_params_) {
    if (!accumulate) std::fill(p->grad, p->grad + p->numel, 0.0f);
    if (grad_hook_) grad_hook_(*p);
  }
  for (size_t ii = nodes_.size(); ii-- > 0;) {
    Node& nd = *nodes_[ii];
    if (!nd.active) continue;
    for (size_t j = 0; j < nd.inputs.size(); ++j) nd.acc[j] = nd.acc_plan[j] || (accumulate && nd.is_param_input[j]);
    current_ = static_cast<int>(ii);
    nd.ctx.workspace = nd.bwd_ws;
    if (profiling_) {
      double t0 = seconds_now();
      nd.op->backward(nd.ctx);
      nd.bwd_s += seconds_now() - t0;
    } else {
      nd.op->backward(nd.ctx);
    }
    if (grad_hook_)
      for (const Param* p : nd.ready_after) grad_hook_(*p);
  }
  current_ = -1;
}

Tensor Graph::tensor(Value v) {
  check_value(v, "tensor");
  const ValueRec& r = rec(v.id());
  if (r.dtype != DType::f32) fail("tensor: '{}' holds int32 labels; use labels()", r.name);
  if (r.kind == ValueRec::Kind::param) return Tensor::wrap(r.param->data, r.shape);
  if (!compiled_) fail("tensor: compile the graph before reading or writing '{}'", r.name);
  const ValueRec& root = rec(root_of(v.id()));
  if (root.kind != ValueRec::Kind::input && !root.kept)
    fail("tensor: '{}' is an intermediate value whose memory is reused; pass it to compile() as an output", r.name);
  return Tensor::wrap(static_cast<float*>(r.data), r.shape);
}

int32_t* Graph::labels(Value v) {
  check_value(v, "labels");
  const ValueRec& r = rec(v.id());
  if (r.dtype != DType::i32) fail("labels: '{}' is not an int32 input", r.name);
  if (!compiled_) fail("labels: compile the graph before writing '{}'", r.name);
  return static_cast<int32_t*>(r.data);
}

Tensor Graph::grad(Value v) {
  check_value(v, "grad");
  const ValueRec& r = rec(v.id());
  if (r.kind == ValueRec::Kind::param) {
    if (r.param->grad == nullptr) fail("grad: '{}' is a buffer, it has no gradient", r.name);
    return Tensor::wrap(r.param->grad, r.shape);
  }
  if (!compiled_) fail("grad: compile the graph first");
  const ValueRec& root = rec(root_of(v.id()));
  if (root.kind != ValueRec::Kind::input || r.grad == nullptr)
    fail("grad: '{}' is not a parameter or an input created with requires_grad that the loss reaches", r.name);
  return Tensor::wrap(static_cast<float*>(r.grad), r.shape);
}

float Graph::scalar(Value v) {
  Tensor t = tensor(v);
  if (t.numel() != 1) fail("scalar: '{}' has {} elements", v.name(), t.numel());
  return t[0];
}

std::string Graph::summary() const {
  std::string s;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& nd = *nodes_[i];
    const ValueRec& r = rec(nd.output);
    s += fmt::format("{:4d} {:<18} {:<24} {}{}{}\n", i, nd.op->kind(), shape_str(r.shape), nd.op->detail(),
                     nd.active ? "" : (training() && loss_ >= 0 ? "  (no backward)" : ""),
                     nd.folded ? nd.fold_note : "");
  }
  s += fmt::format("arena {:.1f} MB (without reuse {:.1f} MB)\n", arena_bytes_ / 1e6, naive_bytes_ / 1e6);
  return s;
}

std::vector<NodeProfile> Graph::profile() const {
  std::vector<NodeProfile> out;
  for (const auto& nd : nodes_) {
    NodeProfile p;
    p.kind = nd->op->kind();
    p.detail = nd->op->detail();
    p.output_name = rec(nd->output).name;
    p.shape = rec(nd->output).shape;
    p.forward_s = nd->fwd_s;
    p.backward_s = nd->bwd_s;
    p.flops = nd->op->flops();
    p.calls = nd->calls;
    p.in_backward = nd->active;
    p.folded = nd->folded;
    p.output_read_in_backward = nd->needs.output_in_backward;
    for (size_t j = 0; j < nd->inputs.size(); ++j) {
      p.input_shapes.push_back(rec(nd->inputs[j]).shape);
      p.input_read_in_backward.push_back(j < nd->needs.input_in_backward.size() && nd->needs.input_in_backward[j]);
      p.input_grad.push_back(j < nd->din_ptrs.size() && nd->din_ptrs[j] != nullptr);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace climseg::nn

// The compute graph: a network written once as code that adds ops over Values, built once per
// input shape, its memory planned once (liveness-based reuse of one arena), then run many times.
// Training graphs plan forward and backward together and allocate nothing per step; inference
// graphs free every activation as soon as its last reader has run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "nn/module.hpp"
#include "nn/precision.hpp"

namespace climseg::nn {

class Graph;
class Op;

enum class DType : uint8_t { f32, i32 };

// A handle to a tensor of a graph (an input, a parameter, or an op's output). Cheap to copy.
// A default-constructed Value means "none" (e.g. no bias).
class Value {
 public:
  Value() = default;
  Value(Graph* g, int id) : g_(g), id_(id) {}
  bool valid() const { return g_ != nullptr && id_ >= 0; }
  explicit operator bool() const { return valid(); }
  Graph& graph() const { return *g_; }
  int id() const { return id_; }
  const Shape& shape() const;
  int64_t dim(int i) const;
  int64_t numel() const;
  DType dtype() const;
  const std::string& name() const;

 private:
  Graph* g_ = nullptr;
  int id_ = -1;
};

// Synchronised BatchNorm: the graph hands per-channel partial sums to this hook, which must replace
// them with their sums over the participating ranks (e.g. an allreduce in place). Forward passes
// [sum x (C), sum x^2 (C), count (1)]; backward passes [sum dz (C), sum dz*xhat (C)]. Without a
// hook BatchNorm uses the local batch only.
class StatsReducer {
 public:
  virtual ~StatsReducer() = default;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
};

// What one op needs from the planner, declared when it is added.
struct OpNeeds {
  std::vector<bool> input_in_backward;  // input i is read by backward
  bool output_in_backward = false;      // the output is read by backward
  std::vector<int64_t> saved_bytes;     // scratch written in forward, read in backward
  int64_t forward_workspace_bytes = 0;  // scratch for the forward call only
  int64_t backward_workspace_bytes = 0;
};

// Everything an op's forward/backward sees; pointers are fixed at compile time.
struct OpContext {
  const void* const* in = nullptr;  // input data
  void* out = nullptr;
  void* const* din = nullptr;        // gradient buffers of the inputs, null where none is needed
  const bool* accumulate = nullptr;  // per input: += into din (true) or = (false)
  const void* dout = nullptr;        // gradient of the output
  void* const* saved = nullptr;      // the saved scratch buffers (OpNeeds::saved_bytes)
  void* workspace = nullptr;
  Graph* graph = nullptr;

  template <class T = float>
  const T* input(int i) const {
    return static_cast<const T*>(in[i]);
  }
  template <class T = float>
  T* output() const {
    return static_cast<T*>(out);
  }
  template <class T = float>
  T* grad_input(int i) const {
    return static_cast<T*>(din[i]);
  }
  template <class T = float>
  const T* grad_output() const {
    return static_cast<const T*>(dout);
  }
  template <class T>
  T* save(int i) const {
    return static_cast<T*>(saved[i]);
  }
  template <class T = float>
  T* scratch() const {
    return static_cast<T*>(workspace);
  }
};

// An eval-mode BatchNorm with running statistics (optionally with its PReLU), as an inference graph
// folds it into the op that produces its input (Graph::set_fusion): y = prelu(x * scale + shift)
// per channel, scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
struct FoldedNorm {
  const float *gamma = nullptr, *beta = nullptr, *alpha = nullptr;  // alpha null: no PReLU
  int64_t na = 1;                                                   // PReLU slopes: 1 or C
  const float *mean = nullptr, *var = nullptr;
  double eps = 0;
  int64_t c0 = 0;            // the norm's channel of the op's first output channel
  int64_t image_stride = 0;  // floats between the images of the buffer the op writes (0: its own)
};

// An operation: forward and backward kernels plus what the planner must know. Ops are created by
// the builder functions in ops.hpp, which check shapes and compute the output shape.
class Op {
 public:
  virtual ~Op() = default;
  virtual std::string kind() const = 0;
  virtual OpNeeds needs() const = 0;
  virtual void forward(const OpContext& c) = 0;
  virtual void backward(const OpContext& c) = 0;
  virtual double flops() const { return 0; }
  virtual std::string detail() const { return {}; }  // e.g. the conv algorithm, for summaries
  // Inference fusion (Graph::set_fusion). A BatchNorm that can be folded into its input's producer
  // fills in its statistics, eps and PReLU slope count (the graph adds gamma, beta, alpha).
  virtual bool foldable_norm(FoldedNorm*) const { return false; }
  // An op that can apply a folded norm to its output, written at an image stride of its choosing
  // (a slice of a concat's buffer), says so and takes it.
  virtual bool can_fold_norm() const { return false; }
  virtual void fold_norm(const FoldedNorm&) {}
  // An op that can apply a folded norm to its own output only, as it writes it (a concat whose
  // inputs cannot take the norm): it takes it through fold_norm with c0 0 and image_stride 0.
  virtual bool can_fold_own_norm() const { return false; }
  // An add that can compute a + x * g itself when one input is a scale_channels(x, g) only it reads
  // (CGNet's gated residual): it takes inputs (a, x, g) from then on; nc, hw as scale_channels'.
  virtual bool can_fold_gate() const { return false; }
  virtual void fold_gate(int64_t /*nc*/, int64_t /*hw*/) {}
};

// Time spent per node when profiling is on (Graph::set_profiling).
struct NodeProfile {
  std::string kind, detail, output_name;
  Shape shape;
  double forward_s = 0, backward_s = 0, flops = 0;
  int64_t calls = 0;
  // What the node's traffic is made of (for a roofline, nn/bench_ops.hpp): its inputs' shapes, which
  // of them backward reads and which it writes a gradient for, whether backward reads the output,
  // and whether the node runs in backward at all.
  std::vector<Shape> input_shapes;
  std::vector<bool> input_read_in_backward, input_grad;
  bool output_read_in_backward = false, in_backward = false;
  bool folded = false;  // fused into another node by an inference graph (Graph::set_fusion): never runs
};

class Graph {
 public:
  enum class Mode { train, eval };

  // `params` may be null for graphs without parameters. Modules read mode() to pick BatchNorm
  // statistics and dropout.
  explicit Graph(Parameters* params, Mode mode = Mode::train);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Mode mode() const { return mode_; }
  bool training() const { return mode_ == Mode::train; }
  // The convolutions' arithmetic for ops added from now on (precision.hpp; fp32 by default). With
  // bf16 the GEMM convolutions with a reduction of kBf16MinReduction or more run in bf16, the
  // others in fp32. bf16 is for eval graphs (prediction): a train graph refuses it with
  // UsageError, as does a machine without AVX512-BF16 or with CLIMSEG_ISA below avx512.
  void set_precision(Precision p);
  Precision precision() const { return precision_; }
  // BatchNorm of an eval graph normalising each forward's input with its own statistics, as
  // PyTorch's train-mode forward does, without updating the running ones (predict --batchnorm
  // batch). Set before building; train graphs use batch statistics anyway.
  void set_batch_norm_batch_stats(bool on) { bn_batch_stats_ = on; }
  // Eval graphs with running statistics fold each BatchNorm (+ PReLU) into the convolution that
  // produces its input, and where that input is a concat of convolutions, into each of them, writing
  // straight into the concat's buffer (the concat and the norm then never run): bit for bit the
  // results of the ops apart, one pass over memory less. On by default; set before compile.
  void set_fusion(bool on) { fusion_ = on; }
  bool fusion() const { return fusion_; }
  bool batch_norm_batch_stats() const { return bn_batch_stats_ || training(); }
  Parameters* parameters() const { return params_; }

  // ---- building
  Value input(const std::string& name, Shape shape, bool requires_grad = false);
  Value input_labels(const std::string& name, Shape shape);  // int32 class indices
  // The graph's view of a parameter (the same Value for repeated calls); frozen parameters and
  // eval graphs do not compute its gradient.
  Value param(Param& p);
  // Adds an op; used by the builder functions of ops.hpp.
  Value add(std::unique_ptr<Op> op, std::vector<Value> inputs, Shape out_shape, DType out_dtype = DType::f32,
            const std::string& name = {});
  // A Value sharing x's memory with another shape of equal size (no copy, no op).
  Value alias(Value x, Shape shape);
  void set_name(Value v, const std::string& name);

  // ---- planning
  // Fixes the graph: `outputs` stay readable after forward(); `loss` (train graphs) is where
  // backward() starts. Plans the arena and allocates it (the only allocation of the graph's life).
  void compile(const std::vector<Value>& outputs, Value loss = {});
  bool compiled() const { return compiled_; }

  // ---- running
  void forward();
  // Backward from the loss, seeded with 1 (or with `seed`, loss-shaped). Parameter gradients are
  // overwritten, or added to when `accumulate` (gradient accumulation over micro-batches).
  void backward(const float* seed = nullptr, bool accumulate = false);

  // Views of inputs (write before forward), outputs, parameters; labels as int32.
  Tensor tensor(Value v);
  int32_t* labels(Value v);
  // Gradient of a parameter or of an input created with requires_grad.
  Tensor grad(Value v);
  float scalar(Value v);  // a one-element output (e.g. the loss)

  // ---- hooks for data-parallel training
  // Called during backward() as soon as a parameter's gradient is final, in a fixed order (the
  // same on every rank). Parameters the loss does not reach are zeroed and reported first.
  void on_grad_ready(std::function<void(const Param&)> hook) { grad_hook_ = std::move(hook); }
  // The order in which the hook fires.
  const std::vector<const Param*>& grad_ready_order() const { return ready_order_; }
  void set_stats_reducer(StatsReducer* r) { reducer_ = r; }
  StatsReducer* stats_reducer() const { return reducer_; }

  // The dropout stream: each forward() uses (seed, step) and advances step. Saved in checkpoints.
  void set_seed(uint64_t seed) { seed_ = seed; }
  uint64_t seed() const { return seed_; }
  int64_t step() const { return step_; }
  void set_step(int64_t s) { step_ = s; }
  // A per-forward random seed for the op with the given node index.
  uint64_t op_seed(int node) const;
  int current_node() const { return current_; }

  // ---- facts about the plan
  int64_t arena_bytes() const { return arena_bytes_; }      // what compile() allocated
  int64_t unplanned_bytes() const { return naive_bytes_; }  // every buffer separate, for comparison
  int node_count() const { return static_cast<int>(nodes_.size()); }
  std::string summary() const;  // one line per node: kind, output shape, detail
  void set_profiling(bool on) { profiling_ = on; }
  std::vector<NodeProfile> profile() const;

  // Internal: value records, used by Value and ops.
  struct ValueRec;
  const ValueRec& rec(int id) const { return *values_[static_cast<size_t>(id)]; }

 private:
  struct Node;
  struct Buffer;
  int new_value(Shape shape, DType dtype, const std::string& name);
  int root_of(int v) const;
  bool sole_use(int v) const;  // an f32 activation read by one node and not a graph output
  void fold_norms();
  void fold_gates();
  void plan();
  void check_building(const char* what) const;
  void check_value(Value v, const char* what) const;

  Parameters* params_;
  Mode mode_;
  Precision precision_ = Precision::fp32;
  bool bn_batch_stats_ = false;
  bool fusion_ = true;
  std::vector<std::unique_ptr<ValueRec>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> outputs_;
  int loss_ = -1;
  bool compiled_ = false;
  Tensor arena_;  // float storage for alignment; holds bytes of any dtype
  int64_t arena_bytes_ = 0, naive_bytes_ = 0;
  std::function<void(const Param&)> grad_hook_;
  std::vector<const Param*> ready_order_;
  std::vector<Param*> unreached_params_;  // zeroed at the start of backward
  StatsReducer* reducer_ = nullptr;
  uint64_t seed_ = 0;
  int64_t step_ = 0;
  int current_ = -1;
  bool profiling_ = false;
  void* loss_grad_ = nullptr;
};

struct Graph::ValueRec {
  Shape shape;
  int64_t numel = 0;
  DType dtype = DType::f32;
  std::string name;
  enum class Kind { input, param, activation, alias } kind = Kind::activation;
  int producer = -1;  // also kept by a value folded into another's buffer (an alias)
  int alias_of = -1;
  int64_t alias_offset = 0;  // bytes into alias_of's data (a folded concat input's slice)
  Param* param = nullptr;
  bool requires_grad = false;
  std::vector<int> consumers;
  // plan
  void* data = nullptr;
  void* grad = nullptr;
  bool kept = false;
  int64_t bytes() const { return numel * 4; }
};

}  // namespace climseg::nn

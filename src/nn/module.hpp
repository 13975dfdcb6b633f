// Modules own named parameters and buffers (PyTorch state_dict names and shapes); Parameters lays
// every parameter out in ONE contiguous arena and every gradient in another with the same layout,
// so data-parallel training can allreduce gradient buckets straight out of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"

namespace climseg::nn {

// How a fresh tensor is filled (the layers use PyTorch's default for each parameter).
struct Init {
  enum class Kind { constant, uniform, normal } kind = Kind::constant;
  double a = 0, b = 0;  // constant: a; uniform: [a, b); normal: mean a, std b
  static Init constant(double v) { return {Kind::constant, v, 0}; }
  static Init zeros() { return constant(0); }
  static Init ones() { return constant(1); }
  static Init uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  static Init normal(double mean, double std) { return {Kind::normal, mean, std}; }
  // PyTorch's Conv/Linear default (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  static Init torch_default(int64_t fan_in);
};

// One parameter or buffer. `name` is the module-local name until a Parameters arena is built,
// then the full dotted path ("level3.19.F_glo.fc.2.bias"). `data`/`grad` point into the arenas.
struct Param {
  std::string name;
  Shape shape;
  int64_t numel = 0;
  Init init;
  bool is_buffer = false;  // running statistics: saved and loaded, never trained
  bool decay = true;       // whether weight decay applies (optimizers honour it)
  int64_t offset = -1;     // floats from the start of its arena (parameters: same in the gradient arena)
  int64_t index = -1;      // position in Parameters::params() / buffers()
  float* data = nullptr;
  float* grad = nullptr;  // null for buffers
  Tensor tensor() const { return Tensor::wrap(data, shape); }
  Tensor grad_tensor() const { return Tensor::wrap(grad, shape); }
};

// A node of the model tree. Subclasses declare parameters, buffers and children in their
// constructor, in forward order (the arena is laid out in reverse, so the gradients that backward
// finishes first sit together at its start). Modules are neither copied nor moved: the arena and
// graphs keep pointers to them.
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Registration (call in the constructor).
  Param& register_parameter(std::string name, Shape shape, Init init, bool decay = true);
  Param& register_buffer(std::string name, Shape shape, Init init);
  // A member submodule; it must live as long as this module.
  template <class M>
  M& register_module(std::string name, M& child) {
    add_child(std::move(name), &child);
    return child;
  }
  // A submodule owned by this module (e.g. the blocks of a ModuleList: names "0", "1", ...).
  template <class M, class... Args>
  M& emplace_module(std::string name, Args&&... args) {
    auto owned = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *owned;
    owned_.push_back(std::move(owned));
    add_child(std::move(name), &ref);
    return ref;
  }

  // The dotted path of this module ("" for the root) once a Parameters arena has been built.
  const std::string& path() const { return path_; }
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

  // Visits every parameter and buffer with its dotted name, in PyTorch's state_dict order
  // (own tensors in registration order, then children depth-first).
  void visit(const std::function<void(const std::string& name, Param& p)>& fn, const std::string& prefix = "");
  // Visits this module and every descendant with its dotted path.
  void visit_modules(const std::function<void(const std::string& path, Module& m)>& fn, const std::string& prefix = "");

 private:
  friend class Parameters;
  void add_child(std::string name, Module* child);

  std::vector<std::unique_ptr<Param>> params_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::unique_ptr<Module>> owned_;
  std::string path_;
};

// The parameter and gradient arenas of one model (plus a buffer arena for running statistics).
// Built once from the root module: it names every tensor by its dotted path, checks names are
// unique, lays out the arenas (64-byte aligned slots, last-declared parameter first) and fills
// values from their Init with a seeded, order-independent random stream.
class Parameters {
 public:
  explicit Parameters(Module& root, uint64_t seed = 0);
  Parameters(const Parameters&) = delete;
  Parameters& operator=(const Parameters&) = delete;

  Module& root() { return *root_; }
  // Re-initialises every parameter and buffer: each tensor's values depend only on (seed, name).
  void init(uint64_t seed);

  // Parameters in arena order; buffers in theirs.
  const std::vector<Param*>& params() const { return params_; }
  const std::vector<Param*>& buffers() const { return buffers_; }
  // Every tensor in state_dict order (parameters and buffers interleaved as the modules declared them).
  const std::vector<Param*>& state() const { return state_; }
  Param* find(const std::string& name) const;  // parameter or buffer, null when absent
  Param& at(const std::string& name) const;    // throws Error naming the missing tensor

  // The arenas: floats, 64-byte aligned, slots padded with zeros between tensors.
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* grad() { return grad_.data(); }
  const float* grad() const { return grad_.data(); }
  int64_t size() const { return data_.numel(); }  // floats in each of the two arenas
  float* buffer_data() { return buffer_.data(); }
  int64_t buffer_size() const { return buffer_.numel(); }
  int64_t count() const;  // trainable elements (PyTorch's sum of p.numel())

  void zero_grad();
  // Copies every value (parameters and buffers) from another model with identical layout.
  void copy_from(const Parameters& other);

 private:
  Module* root_;
  std::vector<Param*> params_, buffers_, state_;
  Tensor data_, grad_, buffer_;
};

// A deterministic stream of uniform and normal numbers: a pure function of (seed, stream, index).
uint64_t hash_name(const std::string& s);
float random_uniform(uint64_t seed, uint64_t stream, uint64_t index);  // [0, 1)
float random_normal(uint64_t seed, uint64_t stream, uint64_t index);   // N(0, 1)

}  // namespace climseg::nn

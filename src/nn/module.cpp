// Module trees, dotted names, and the contiguous parameter/gradient arenas.
#include "nn/module.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "core/error.hpp"
#include "nn/kernels/ops_ref.hpp"

namespace climseg::nn {
namespace {

constexpr int64_t kAlign = 16;  // floats: 64 bytes
int64_t align_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void check_local_name(const std::string& name, const char* what) {
  if (name.empty() || name.find('.') != std::string::npos || name.find('/') != std::string::npos)
    fail("{} name '{}' must be non-empty and contain no '.' or '/'", what, name);
}

}  // namespace

Init Init::torch_default(int64_t fan_in) {
  double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return uniform(-bound, bound);
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return ref::mix64(h);
}

float random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return ref::uniform01(ref::mix64(seed * 0x9e3779b97f4a7c15ULL + stream), index);
}

float random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  // Box-Muller on two independent uniforms of the same stream.
  double u1 = random_uniform(seed, stream, 2 * index), u2 = random_uniform(seed, stream, 2 * index + 1);
  double r = std::sqrt(-2.0 * std::log(1.0 - u1));
  return static_cast<float>(r * std::cos(2.0 * std::numbers::pi * u2));
}

Param& Module::register_parameter(std::string name, Shape shape, Init init, bool decay) {
  check_local_name(name, "parameter");
  for (auto& p : params_)
    if (p->name == name) fail("module '{}': '{}' registered twice", path_, name);
  auto p = std::make_unique<Param>();
  p->name = std::move(name);
  p->numel = shape_numel(shape);
  p->shape = std::move(shape);
  p->init = init;
  p->decay = decay;
  params_.push_back(std::move(p));
  return *params_.back();
}

Param& Module::register_buffer(std::string name, Shape shape, Init init) {
  Param& p = register_parameter(std::move(name), std::move(shape), init, false);
  p.is_buffer = true;
  return p;
}

void Module::add_child(std::string name, Module* child) {
  check_local_name(name, "module");
  for (auto& [n, m] : children_)
    if (n == name) fail("module '{}': child '{}' registered twice", path_, name);
  children_.emplace_back(std::move(name), child);
}

void Module::visit(const std::function<void(const std::string&, Param&)>& fn, const std::string& prefix) {
  for (auto& p : params_) {
    // Before naming, p->name is local; after, it is the full path: use the local tail either way.
    std::string local = p->name.substr(p->name.rfind('.') == std::string::npos ? 0 : p->name.rfind('.') + 1);
    fn(prefix.empty() ? local : prefix + "." + local, *p);
  }
  for (auto& [n, m] : children_) m->visit(fn, prefix.empty() ? n : prefix + "." + n);
}

void Module::visit_modules(const std::function<void(const std::string&, Module&)>& fn, const std::string& prefix) {
  fn(prefix, *this);
  for (auto& [n, m] : children_) m->visit_modules(fn, prefix.empty() ? n : prefix + "." + n);
}

Parameters::Parameters(Module& root, uint64_t seed) : root_(&root) {
  std::set<Module*> seen;
  root.visit_modules([&](const std::string& path, Module& m) {
    if (!seen.insert(&m).second) fail("module '{}' appears twice in the model tree", path);
    m.path_ = path;
  });
  std::set<std::string> names;
  root.visit([&](const std::string& name, Param& p) {
    if (!names.insert(name).second) fail("two tensors are named '{}'", name);
    p.name = name;
    state_.push_back(&p);
    (p.is_buffer ? buffers_ : params_).push_back(&p);
  });
  // Reverse declaration order: the last layers (whose gradients backward finishes first) first.
  std::reverse(params_.begin(), params_.end());
  int64_t n = 0, nb = 0;
  for (Param* p : params_) {
    p->offset = n;
    n += align_up(p->numel);
  }
  for (Param* p : buffers_) {
    p->offset = nb;
    nb += align_up(p->numel);
  }
  data_ = Tensor(Shape{n});
  grad_ = Tensor(Shape{n});
  buffer_ = Tensor(Shape{nb});
  for (size_t i = 0; i < params_.size(); ++i) {
    Param* p = params_[i];
    p->index = static_cast<int64_t>(i);
    p->data = data_.data() + p->offset;
    p->grad = grad_.data() + p->offset;
  }
  for (size_t i = 0; i < buffers_.size(); ++i) {
    Param* p = buffers_[i];
    p->index = static_cast<int64_t>(i);
    p->data = buffer_.data() + p->offset;
    p->grad = nullptr;
  }
  init(seed);
}

void Parameters::init(uint64_t seed) {
  for (Param* p : state_) {
    const uint64_t stream = hash_name(p->name);
    for (int64_t i = 0; i < p->numel; ++i) {
      double v = p->init.a;
      if (p->init.kind == Init::Kind::uniform)
        v = p->init.a + (p->init.b - p->init.a) * random_uniform(seed, stream, static_cast<uint64_t>(i));
      else if (p->init.kind == Init::Kind::normal)
        v = p->init.a + p->init.b * random_normal(seed, stream, static_cast<uint64_t>(i));
      p->data[i] = static_cast<float>(v);
    }
  }
}

Param* Parameters::find(const std::string& name) const {
  for (Param* p : state_)
    if (p->name == name) return p;
  return nullptr;
}

Param& Parameters::at(const std::string& name) const {
  Param* p = find(name);
  if (p == nullptr) fail("the model has no parameter or buffer named '{}'", name);
  return *p;
}

int64_t Parameters::count() const {
  int64_t n = 0;
  for (Param* p : params_) n += p->numel;
  return n;
}

void Parameters::zero_grad() { grad_.fill(0.0f); }

void Parameters::copy_from(const Parameters& other) {
  if (other.state_.size() != state_.size() || other.size() != size() || other.buffer_size() != buffer_size())
    fail("cannot copy parameters between models of different layouts");
  for (size_t i = 0; i < state_.size(); ++i)
    if (state_[i]->name != other.state_[i]->name || state_[i]->shape != other.state_[i]->shape)
      fail("cannot copy parameters: '{}' {} vs '{}' {}", state_[i]->name, shape_str(state_[i]->shape),
           other.state_[i]->name, shape_str(other.state_[i]->shape));
  data_.copy_from(other.data_);
  buffer_.copy_from(other.buffer_);
}

}  // namespace climseg::nn

// Dense float32 tensors with aligned storage.
#include "core/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/error.hpp"

namespace climseg {

void keep_freed_memory() {
#if defined(__GLIBC__)
  // glibc's ceiling for the mmap threshold is 32 MiB (half its 64 MiB heap size); setting it also
  // stops glibc from moving it, and a trim threshold this large never trims.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

Storage::Storage(int64_t n, bool zero) : size_(n) {
  if (n < 0) fail("negative tensor size {}", n);
  size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (data_ == nullptr) fail("out of memory allocating {} bytes for a tensor", bytes);
  if (zero) std::memset(data_, 0, bytes);
}

Storage::~Storage() { std::free(data_); }

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail("negative dimension in shape {}", shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Tensor::Tensor(Shape shape) : shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  storage_ = std::make_shared<Storage>(numel_, true);
  data_ = storage_->data();
}

Tensor Tensor::empty(Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.storage_ = std::make_shared<Storage>(t.numel_, false);
  t.data_ = t.storage_->data();
  return t;
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t = empty(std::move(shape));
  t.fill(value);
  return t;
}

Tensor Tensor::wrap(float* data, Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t n = shape_numel(shape);
  if (n != numel_) fail("cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::view(int64_t offset, Shape shape) const {
  int64_t n = shape_numel(shape);
  if (offset < 0 || offset + n > numel_)
    fail("view [{}, {}) out of range of a tensor of {} elements", offset, offset + n, numel_);
  Tensor t = *this;
  t.data_ = data_ + offset;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  return t;
}

Tensor Tensor::slice0(int64_t i) const {
  if (ndim() == 0 || i < 0 || i >= shape_[0]) fail("index {} out of range of {}", i, shape_str(shape_));
  Shape rest(shape_.begin() + 1, shape_.end());
  return view(i * shape_numel(rest), rest);
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_);
  if (numel_ > 0) std::memcpy(t.data_, data_, static_cast<size_t>(bytes()));
  return t;
}

void Tensor::fill(float value) { std::fill(data_, data_ + numel_, value); }

void Tensor::copy_from(const Tensor& other) {
  if (other.numel_ != numel_) fail("copy from {} into {}: sizes differ", shape_str(other.shape_), shape_str(shape_));
  if (numel_ > 0) std::memmove(data_, other.data_, static_cast<size_t>(bytes()));
}

}  // namespace climseg

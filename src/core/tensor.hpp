// Dense float32 tensors: 64-byte aligned storage, row-major (NCHW for images), shared by views.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace climseg {

// Owns one 64-byte-aligned block of floats.
class Storage {
 public:
  explicit Storage(int64_t n, bool zero = true);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  float* data_ = nullptr;
  int64_t size_ = 0;
};

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);

// Makes the C allocator keep freed memory for reuse instead of handing it back to the system
// (glibc: every block under 32 MiB from the heap, the heap never trimmed). Buffers freed and
// allocated again each step (a detector's planes, a step's write buffer) then cost no page faults
// after the first step: on virtual machines a first-touched 4 KiB page can cost ~15 us (a
// 768x1152 label run faulted 66,000 pages, 0.3 s of kernel time, before). The price: the process
// keeps its peak heap until it exits. The climseg executable calls it at start; a no-op elsewhere
// than glibc.
void keep_freed_memory();
std::string shape_str(const Shape& shape);

// A contiguous view of float32 storage with a shape. Copies share storage (like torch.Tensor).
class Tensor {
 public:
  Tensor() = default;
  // Fresh zero-filled storage.
  explicit Tensor(Shape shape);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}
  static Tensor empty(Shape shape);  // uninitialised
  static Tensor zeros(Shape shape) { return Tensor(std::move(shape)); }
  static Tensor full(Shape shape, float value);
  // A non-owning view of external memory; the caller keeps it alive.
  static Tensor wrap(float* data, Shape shape);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const {
    CLIMSEG_ASSERT(i >= -ndim() && i < ndim());
    return shape_[static_cast<size_t>(i < 0 ? i + ndim() : i)];
  }
  int64_t numel() const { return numel_; }
  int64_t bytes() const { return numel_ * static_cast<int64_t>(sizeof(float)); }
  float* data() { return data_; }
  const float* data() const { return data_; }
  float* begin() { return data_; }
  float* end() { return data_ + numel_; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + numel_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

  // Same storage, another shape with the same element count.
  Tensor reshape(Shape shape) const;
  // Elements [offset, offset + numel(shape)) of the same storage, viewed with the given shape.
  Tensor view(int64_t offset, Shape shape) const;
  // Index i along the first dimension (e.g. one sample of a batch).
  Tensor slice0(int64_t i) const;
  Tensor clone() const;
  void fill(float value);
  void copy_from(const Tensor& other);

 private:
  std::shared_ptr<Storage> storage_;
  float* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
};

}  // namespace climseg

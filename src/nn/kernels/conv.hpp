// The fast float conv2d. Chosen once per geometry: 1x1 convolutions as GEMM straight on the
// activations, depthwise as direct row loops, everything else as implicit GEMM over packed im2col
// tiles sized for L2, with padding done by index mapping while packing — never by copying a padded
// tensor. The GEMMs run on our AVX-512 microkernel inside one OpenMP region per call (no BLAS
// thread pool to hand over to, no barrier per tile), each output element computed by one thread in
// a fixed order: the results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/kernels/conv_ref.hpp"

namespace climseg::nn {

struct DwRing;
struct Dw3Plan;

class ConvKernel {
 public:
  enum class Algo { gemm1x1, im2col, depthwise };

  // Plans for `threads` OpenMP threads (<= 0: the current count); buffers of index tables are built
  // here so that running allocates nothing.
  explicit ConvKernel(const ConvGeom& g, int threads = 0) : ConvKernel(g, threads, true) {}
  ~ConvKernel();
  ConvKernel(const ConvKernel&) = delete;
  ConvKernel& operator=(const ConvKernel&) = delete;

  const ConvGeom& geom() const { return g_; }
  Algo algo() const { return algo_; }
  std::string algo_name() const;
  // Scratch floats the calls below need (one buffer, reused by every call).
  int64_t workspace_floats() const { return workspace_; }

  // y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin/g, KH, KW)) + b (Cout, may be null).
  void forward(const float* x, const float* w, const float* b, float* y, float* ws) const;
  // dx (+)= conv^T(dy).
  void backward_input(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const;
  // All the gradients wanted (dx, dw, db: each may be null), each with its own accumulate flag: the
  // same results as backward_weight and backward_input, and for the 3x3 "same" depthwise of the row
  // groups one sweep over x and dy instead of two.
  void backward(const float* x, const float* dy, const float* w, float* dx, bool accumulate_x, float* dw,
                bool accumulate_w, float* db, bool accumulate_b, float* ws) const;
  // dw (+)= and db (+)= (either may be null), each with its own accumulate flag.
  void backward_weight(const float* x, const float* dy, float* dw, bool accumulate_w, float* db, bool accumulate_b,
                       float* ws) const;

 private:
  ConvKernel(const ConvGeom& g, int threads, bool with_adjoint);
  void forward_gemm(const float* x, const float* w, const float* b, float* y, bool accumulate, float* ws) const;
  void backward_input_gemm(const float* dy, const float* w, float* dx, bool accumulate, float* ws) const;
  void backward_weight_gemm(const float* x, const float* dy, float* dw, bool accumulate, float* ws) const;
  // Rows [r0, r1) of the im2col matrix of one group for output pixels [p0, p1): out (r1 - r0, p1 - p0).
  void pack_rows(const float* xg, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* out) const;
  // dxg (Cin/g, H, W) += rows [r0, r1) (whole input channels) of a column tile for pixels [p0, p1).
  void unpack_rows(const float* col, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* dxg) const;
  void dw_forward_plane(const float* x, const float* w, float bias, float* y, bool accumulate, float* ws) const;
  void dw_backward_input_plane(const float* dy, const float* w, float* dx) const;
  void dw_backward_weight_channel(const float* x, const float* dy, int64_t c, float* dw, bool accumulate,
                                  float* ws) const;
  // Rows past the plane's end are taken from `next`, the plane read after this one (null: skipped).
  void dw_prefetch_row(const float* plane, int64_t oy, const float* next) const;
  // 3x3 "same" depthwise with stride 1 (the CGNet branches): output rows in groups spaced by the
  // dilation, read straight from the plane (see Dw3Plan in conv.cpp). Null when the geometry does not fit.
  void dw3_forward_plane(const float* x, const float* w, float bias, float* y, bool accumulate, const float* next,
                         bool nt) const;
  // Whether the forward's row groups write `out` (N, C, H, W) with streaming stores: when input and
  // output together exceed the last-level cache (they would not stay in it anyway, and streaming
  // skips the read-for-ownership of every output line: a third less memory traffic) and rows are
  // whole lines. (The backward's dx streamed measured slower in two of three alternating runs:
  // fwd+bwd 5.7-5.9 against 4.9-5.1 ms; the third, on a slow moment, 5.7 against 7.3.)
  bool dw_stream(const float* out) const;
  void dw3_weight_channel(const float* x, const float* dy, int64_t c, float* dw, bool accumulate) const;
  // Both gradients of one plane; part: its nine weight sums. more: the next plane follows in memory.
  void dw3_backward_plane(const float* x, const float* dy, const float* wflip, float* dx, bool accumulate, double* part,
                          bool more) const;
  float* dw_slice(float* ws) const;  // this thread's part of the depthwise workspace
  // Planes per chunk handed to a thread (dynamic schedule): up to 8, at least 4 chunks per thread.
  // Each plane is computed whole by one thread, so the results do not depend on who takes which;
  // balancing matters on shared hosts, where one core often runs slower than the other.
  int dw_chunk(int64_t planes) const { return int(std::clamp<int64_t>(planes / (4 * int64_t(threads_)), 1, 8)); }
  struct DwRing dw_ring(float* slice) const;

  ConvGeom g_;
  Algo algo_ = Algo::im2col;
  int threads_ = 1;
  int64_t k_ = 1, p_ = 1;            // GEMM reduction per group (Cin/g * KH * KW), output pixels per image
  int64_t tile_f_ = 0;               // forward: pixels per im2col tile
  int64_t tile_w_ = 0;               // weight gradient: pixels per tile (the reduction)
  int64_t tile_d_ = 0;               // input gradient: pixels per tile
  int64_t rows_w_ = 0, rows_d_ = 0;  // per-thread rows of the weight-gradient / input-gradient GEMMs
  int64_t ld_c_ = 0;                 // padded Cout/g for the weight-gradient scratch
  int64_t ws_forward_ = 0, ws_weight_ = 0, ws_input_ = 0, workspace_ = 0;
  // Stride-1 "same" convolutions (zeros or circular): the input gradient is the forward conv of dy
  // with the flipped, transposed kernel; this is that conv.
  std::unique_ptr<ConvKernel> adjoint_;
  bool dw_same_ = false;                             // depthwise: stride-1 "same" padding, adjoint by flipped kernel
  int64_t dw_ahead_ = 2;                             // depthwise: rows of prefetch distance
  int64_t dw_span_ = 0, dw_len_ = 0, dw_slice_ = 0;  // depthwise: ring rows, padded row length, floats per thread
  // For each kernel column kx: output columns [lo, hi) whose input column needs no mapping.
  std::vector<int64_t> interior_lo_, interior_hi_;
  std::vector<int32_t> dw_pad_src_;  // depthwise: source column of each padding column (-1: zero)
  std::unique_ptr<Dw3Plan> dw3_;     // depthwise 3x3 same, stride 1: the row-group path (null: the ring)
  // The padding maps, precomputed: input column of (kx, ox) and input row of (ky, oy), -1 for zeros.
  std::vector<int32_t> col_map_, row_map_;
  int64_t row_at(int64_t ky, int64_t oy) const { return row_map_[static_cast<size_t>(ky * g_.oh() + oy)]; }
  int64_t col_at(int64_t kx, int64_t ox) const { return col_map_[static_cast<size_t>(kx * g_.ow() + ox)]; }
};

}  // namespace climseg::nn

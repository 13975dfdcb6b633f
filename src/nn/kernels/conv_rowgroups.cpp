// 3x3 "same" depthwise by row groups: the plan (which vectors of a row load their taps directly,
// and the permutes that build the others at the row's ends).
#include "nn/kernels/conv_rowgroups.hpp"

#include <algorithm>

namespace climseg::nn {

std::unique_ptr<RowGroupPlan> RowGroupPlan::make(const ConvGeom& g, int threads, int64_t ahead) {
  if (!(g.groups > 1 && g.groups == g.cin && g.cin == g.cout && g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 &&
        g.pad.h == g.dh && g.pad.w == g.dw && g.pad.cols != Pad::reflect && g.w >= 16))
    return nullptr;
  auto p = std::make_unique<RowGroupPlan>();
  p->g = g;
  p->threads = threads;
  p->ahead = ahead;
  p->same = g.pad.rows != Pad::reflect;
  const int64_t w = g.w;
  p->nv = (w + 15) / 16;
  p->idx.assign(static_cast<size_t>(p->nv * 48), 0);
  p->lanes.assign(static_cast<size_t>(p->nv * 3), 0);
  p->direct.assign(static_cast<size_t>(p->nv * 3), 0);
  p->zero.assign(static_cast<size_t>(w), 0.0f);
  bool ok = true;
  p->vlo = p->nv, p->vhi = 0;
  for (int64_t v = 0; v < p->nv; ++v) {
    const int64_t x0 = 16 * v;
    bool all = true;
    for (int64_t kx = 0; kx < 3; ++kx) {
      const int64_t off = (kx - 1) * g.dw;
      const size_t t = static_cast<size_t>(3 * v + kx);
      const bool direct = x0 + off >= 0 && x0 + off + 16 <= w;
      p->direct[t] = direct;
      all = all && direct;
      if (direct) continue;
      uint16_t m = 0;
      for (int64_t j = 0; j < 16 && x0 + j < w; ++j) {
        const int64_t k = pad_index(x0 + j + off, w, g.pad.cols);
        if (k < 0) continue;  // zero padding
        int64_t id = -1;
        if (k < 16)
          id = k;
        else if (k >= w - 16)
          id = 16 + k - (w - 16);
        ok = ok && id >= 0;
        p->idx[t * 16 + static_cast<size_t>(j)] = static_cast<int32_t>(std::max<int64_t>(id, 0));
        m = static_cast<uint16_t>(m | (1u << j));
      }
      p->lanes[t] = m;
    }
    if (all && x0 + 16 <= w) {
      if (p->vlo == p->nv) p->vlo = v;
      p->vhi = v + 1;
    }
  }
  // The interior must be one run of vectors (it is: the plain-load condition is an interval).
  for (int64_t v = p->vlo; ok && v < p->vhi; ++v)
    for (int64_t kx = 0; kx < 3; ++kx) ok = ok && p->direct[static_cast<size_t>(3 * v + kx)];
  if (p->vlo >= p->vhi) p->vlo = p->vhi = 0;
  p->shift = g.dw <= 16;
  for (int j = 0; j < 16; ++j) p->idx_minus[j] = int32_t(j + 16 - g.dw), p->idx_plus[j] = int32_t(j + g.dw);
  if (!ok) return nullptr;
  return p;
}

}  // namespace climseg::nn

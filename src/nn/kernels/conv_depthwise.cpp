// Depthwise convolutions by direct row loops: the plan (the ring of padded rows, prefetch distance).
#include "nn/kernels/conv_depthwise.hpp"

#include <algorithm>

namespace climseg::nn {

DepthwisePlan::DepthwisePlan(const ConvGeom& geom, int nthreads) : g(geom), threads(nthreads), maps(geom) {
  same = g.sh == 1 && g.sw == 1 && 2 * g.pad.h == g.dh * (g.kh - 1) && 2 * g.pad.w == g.dw * (g.kw - 1) &&
         g.pad.rows != Pad::reflect && g.pad.cols != Pad::reflect;
  // Per thread: the ring of padded rows (slot tags as int64, zero flags, rows).
  // The ring holds the (kh - 1) * dh + 1 rows one output row reads, rounded up to a power of two
  // so that a row's slot is a mask, not a division (divisions cost as much as the row's FMAs).
  // Prefetch distance: about 4 KiB of input rows ahead (2 to 16 rows).
  ahead = std::clamp<int64_t>(4096 / std::max<int64_t>(g.w * int64_t(sizeof(float)), 1), 2, 16);
  span = 1;
  // One more slot (sh more rows) for the row fetched one output row early (see the forward).
  while (span < (g.kh - 1) * g.dh + 1 + g.sh) span *= 2;
  // Source column of each padding column (left pw, then right pw): -1 for zeros.
  pad_src.resize(static_cast<size_t>(2 * g.pad.w));
  for (int64_t j = 0; j < g.pad.w; ++j) {
    pad_src[static_cast<size_t>(j)] = static_cast<int32_t>(pad_index(j - g.pad.w, g.w, g.pad.cols));
    pad_src[static_cast<size_t>(g.pad.w + j)] = static_cast<int32_t>(pad_index(g.w + j, g.w, g.pad.cols));
  }
  len = round_up(g.w + 2 * g.pad.w, 16);
  slice = round_up(3 * span, 16) + span * len;
}

}  // namespace climseg::nn

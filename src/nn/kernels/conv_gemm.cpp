// GEMM convolutions: the plan (tile sizes, workspace, padding maps, the adjoint conv for dx).
#include "nn/kernels/conv_gemm.hpp"

namespace climseg::nn {

GemmPlan::GemmPlan(const ConvGeom& geom, int nthreads, bool is_pointwise, bool with_adjoint)
    : g(geom), pointwise(is_pointwise), threads(nthreads), maps(geom) {
  const int64_t nth = threads, cog = g.cout_g(), cig = g.cin_g(), khw = g.kh * g.kw;
  k = cig * khw;
  p = g.oh() * g.ow();

  // Forward: packed weights (shared) + one im2col tile per thread.
  tile_f = std::clamp<int64_t>(kTileFloats / k / kNrF * kNrF, kNrF, round_up(p, kNrF));
  // Fewer 48-pixel blocks per tile (down to half) where that makes the jobs (images x groups x
  // tiles) a multiple of the threads: CGNet's 1x1 convolutions at 96x144 had 29 tiles for 2 threads.
  // Tiles only split the pixels (each output is one whole sum), so the results do not change.
  const int64_t blocks = ceil_div(p, kNrF), most = tile_f / kNrF;
  for (int64_t b = most; b >= std::max<int64_t>(1, most / 2); --b)
    if (g.n * g.groups * ceil_div(blocks, b) % nth == 0) {
      tile_f = b * kNrF;
      break;
    }
  const int64_t packed_w = g.groups * round_up(cog, kMrF) * k;
  ws_forward = round_up(packed_w, 16) + (pointwise ? 0 : nth * round_up(k * tile_f, 16));
  // bf16: weights as pairs of k (half the floats), and per thread the fp32 tile (im2col) and its
  // bf16 pairs (k/2 rounded up, the tile's pixels rounded up to the 48-column blocks).
  const int64_t kp = (k + 1) / 2;
  ws_forward_bf16 = round_up(g.groups * round_up(cog, kMrF) * kp, 16) +
                    nth * ((pointwise ? 0 : round_up(k * tile_f, 16)) + round_up(kp * round_up(tile_f, kNrF), 16));

  // Direct forward: bands of output rows whose padded input rows fill about 2 tiles per thread. Only
  // for column stride 1: CGNet's stride-2 convolutions measured no faster with bands split into even
  // and odd columns (their im2col packs only 2.25 copies of the input, a 3x3 at stride 1 packs 9).
  if (!pointwise && g.sw == 1) {
    const int64_t ow = g.ow(), oh = g.oh();
    band_rs = ow + (g.kw - 1) * g.dw;
    const auto rows_in = [&](int64_t r) { return (r - 1) * g.sh + (g.kh - 1) * g.dh + 1; };
    const int64_t budget = 2 * kTileFloats;
    band_rows = 1;
    while (band_rows < oh && rows_in(band_rows + 1) * band_rs * cig <= budget) ++band_rows;
    for (int64_t r = band_rows; r >= std::max<int64_t>(1, band_rows / 2); --r)  // whole rounds of bands
      if (g.n * g.groups * ceil_div(oh, r) % nth == 0) {
        band_rows = r;
        break;
      }
    band_cs = rows_in(band_rows) * band_rs;
    direct = band_cs * cig <= 2 * budget;
    if (direct) {
      offsets.resize(static_cast<size_t>(k));
      for (int64_t r = 0; r < k; ++r) {
        const int64_t ci = r / khw, ky = (r % khw) / g.kw, kx = r % g.kw;
        offsets[static_cast<size_t>(r)] = static_cast<int32_t>(ci * band_cs + ky * g.dh * band_rs + kx * g.dw);
      }
      ws_forward = std::max(ws_forward, round_up(packed_w, 16) + nth * round_up(cig * band_cs, 16));
    }
  }

  // Weight gradient: per thread a block of im2col rows (whole 12-row blocks), its column tile, the
  // transposed dy tile and its accumulators.
  rows_w = round_up(ceil_div(ceil_div(k, kMrG), nth) * kMrG, kMrG);
  ld_c = round_up(cog, 16);
  // The tile is the unit of summation of the weight gradient, so it must not depend on the thread
  // count (that would change the rounding); size it for half of K per thread.
  tile_w = std::min(std::max<int64_t>(2 * kTileFloats / round_up(k, kMrG), 64), p);
  ws_weight = nth * round_up(rows_w * ld_c + (pointwise ? 0 : rows_w * tile_w) + tile_w * ld_c, 16);

  // Input gradient.
  const bool same = g.sh == 1 && g.sw == 1 && 2 * g.pad.h == g.dh * (g.kh - 1) && 2 * g.pad.w == g.dw * (g.kw - 1) &&
                    g.pad.rows != Pad::reflect && g.pad.cols != Pad::reflect;
  if (!pointwise && same && with_adjoint) {
    ConvGeom a = g;
    a.cin = g.cout, a.cout = g.cin, a.h = g.oh(), a.w = g.ow();
    adjoint = std::make_unique<GemmPlan>(a, threads, false, false);
    ws_input = round_up(g.cin * cog * khw, 16) + adjoint->ws_forward;
  } else {
    // Whole input channels per thread, as 12-row blocks of W^T packed per thread.
    rows_d = round_up(ceil_div(cig, nth) * khw, kMrG);
    tile_d = std::clamp<int64_t>(kTileFloats / rows_d / kNrG * kNrG, kNrG, round_up(p, kNrG));
    ws_input = nth * round_up(rows_d * cog + (pointwise ? 0 : rows_d * tile_d), 16);
  }
}

}  // namespace climseg::nn

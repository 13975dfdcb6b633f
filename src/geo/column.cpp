// Trapezoid-rule column integrals in pressure (IVT, IWV).
#include "geo/column.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "geo/sphere.hpp"

namespace climseg::geo {

VerticalLevels VerticalLevels::pressure(std::vector<double> pa) {
  VerticalLevels l;
  l.pressure_pa = std::move(pa);
  return l;
}

VerticalLevels VerticalLevels::cam_hybrid(std::vector<double> a, std::vector<double> b, double p0) {
  if (a.size() != b.size()) fail("hybrid levels: hyam has {} values but hybm has {}", a.size(), b.size());
  VerticalLevels l;
  l.hyam = std::move(a);
  l.hybm = std::move(b);
  l.p0 = p0;
  return l;
}

namespace {

// Indices of the levels ordered from the top of the atmosphere (low pressure) down.
std::vector<int64_t> top_down_order(const VerticalLevels& lv) {
  const int64_t K = lv.count();
  std::vector<int64_t> idx(static_cast<size_t>(K));
  std::iota(idx.begin(), idx.end(), 0);
  auto ref = [&](int64_t k) {
    return lv.hybrid() ? lv.hyam[size_t(k)] * lv.p0 + lv.hybm[size_t(k)] * 100000.0 : lv.pressure_pa[size_t(k)];
  };
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return ref(a) < ref(b); });
  return idx;
}

void check_inputs(const VerticalLevels& lv, size_t n_stack, std::span<const float> ps, std::span<const float> valid,
                  size_t n_out, const char* what) {
  const int64_t K = lv.count();
  if (K < 2) fail("{}: at least two vertical levels are needed, got {}", what, K);
  if (n_stack % size_t(K) != 0 || n_stack / size_t(K) != n_out)
    fail("{}: a stack of {} values is not {} levels x {} points", what, n_stack, K, n_out);
  if (lv.hybrid() && ps.size() != n_out)
    fail("{}: hybrid levels need surface pressure PS with {} values, got {}", what, n_out, ps.size());
  if (!ps.empty() && ps.size() != n_out) fail("{}: PS has {} values, expected {}", what, ps.size(), n_out);
  if (!valid.empty() && valid.size() != n_stack)
    fail("{}: the validity mask has {} values, expected {}", what, valid.size(), n_stack);
  for (int64_t k = 0; k < K && !lv.hybrid(); ++k)
    if (!(lv.pressure_pa[size_t(k)] > 0)) fail("{}: pressure level {} is {} Pa", what, k, lv.pressure_pa[size_t(k)]);
}

// Integrates `nf` integrands per point over pressure. integrand(k, x, f) fills f[0..nf) for level k.
template <int nf, class Integrand>
void integrate(const VerticalLevels& lv, int64_t N, std::span<const float> ps, std::span<const float> valid,
               Integrand integrand, float* const* out) {
  const std::vector<int64_t> order = top_down_order(lv);
  const int64_t K = lv.count();
  const double inv_g = 1.0 / kGravity;
#pragma omp parallel for schedule(static)
  for (int64_t x = 0; x < N; ++x) {
    double sum[nf] = {}, prev_f[nf] = {}, f[nf] = {};
    double prev_p = 0.0;
    bool have_prev = false;
    const double surface = ps.empty() ? HUGE_VAL : double(ps[size_t(x)]);
    for (int64_t r = 0; r < K; ++r) {
      const int64_t k = order[size_t(r)];
      if (!valid.empty() && valid[size_t(k * N + x)] == 0.0f) continue;
      const double p =
          lv.hybrid() ? lv.hyam[size_t(k)] * lv.p0 + lv.hybm[size_t(k)] * surface : lv.pressure_pa[size_t(k)];
      if (p > surface) break;  // below ground: this and every lower level
      integrand(k, x, f);
      if (have_prev) {
        const double dp = p - prev_p;
        for (int c = 0; c < nf; ++c) sum[c] += 0.5 * dp * (prev_f[c] + f[c]);
      }
      for (int c = 0; c < nf; ++c) prev_f[c] = f[c];
      prev_p = p;
      have_prev = true;
    }
    for (int c = 0; c < nf; ++c) out[c][x] = static_cast<float>(sum[c] * inv_g);
  }
}

}  // namespace

void integrated_vapour_transport(const VerticalLevels& levels, std::span<const float> q, std::span<const float> u,
                                 std::span<const float> v, std::span<const float> ps, std::span<const float> valid,
                                 IvtOutput out) {
  const size_t N = out.ivt.size();
  check_inputs(levels, q.size(), ps, valid, N, "IVT");
  if (u.size() != q.size() || v.size() != q.size())
    fail("IVT: q, u and v stacks differ in size ({}, {}, {})", q.size(), u.size(), v.size());
  if (out.ivt_u.size() != N || out.ivt_v.size() != N) fail("IVT: output planes differ in size");
  const int64_t n = static_cast<int64_t>(N);
  float* planes[2] = {out.ivt_u.data(), out.ivt_v.data()};
  integrate<2>(
      levels, n, ps, valid,
      [&](int64_t k, int64_t x, double* f) {
        const size_t at = size_t(k * n + x);
        f[0] = double(q[at]) * u[at];
        f[1] = double(q[at]) * v[at];
      },
      planes);
  for (size_t x = 0; x < N; ++x) out.ivt[x] = std::hypot(out.ivt_u[x], out.ivt_v[x]);
}

void integrated_water_vapour(const VerticalLevels& levels, std::span<const float> q, std::span<const float> ps,
                             std::span<const float> valid, std::span<float> out) {
  check_inputs(levels, q.size(), ps, valid, out.size(), "IWV");
  const int64_t n = static_cast<int64_t>(out.size());
  float* planes[1] = {out.data()};
  integrate<1>(
      levels, n, ps, valid, [&](int64_t k, int64_t x, double* f) { f[0] = q[size_t(k * n + x)]; }, planes);
}

}  // namespace climseg::geo

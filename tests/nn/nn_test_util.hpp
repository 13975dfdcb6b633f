// Helpers shared by the engine's tests: random buffers, error measures, finite differences and the
// committed PyTorch references in tests/data/nn.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/tensor.hpp"
#include "core/threads.hpp"
#include "test_support.hpp"

namespace climseg::test {

template <class T>
std::vector<T> random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

// max |a - b| / max |b|: the error relative to the reference's magnitude.
template <class A, class B>
double rel_max_error(const A* a, const B* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, std::abs(double(a[i]) - double(b[i])));
    den = std::max(den, std::abs(double(b[i])));
  }
  return den > 0 ? num / den : num;
}
inline double rel_max_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return rel_max_error(a.data(), b.data(), std::min(a.numel(), b.numel()));
}

// Central differences of L(x) = sum(r * f(x)) for the elements of `x` (all of them, or `max_checks`
// spread over the buffer), compared with the analytic gradient. `f` recomputes `out` from the
// current inputs. Fails the test with the worst element named.
struct FdInput {
  std::string name;
  std::vector<double>* x;
  const std::vector<double>* grad;
};
inline void expect_fd(const std::string& what, const std::function<void()>& f, const std::vector<double>& out,
                      const std::vector<double>& r, const std::vector<FdInput>& inputs, double tol = 1e-6,
                      int max_checks = 400, double h = 1e-6) {
  auto loss = [&] {
    f();
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += r[i] * out[i];
    return s;
  };
  for (const FdInput& in : inputs) {
    std::vector<double>& x = *in.x;
    const std::vector<double>& g = *in.grad;
    ASSERT_EQ(x.size(), g.size()) << what << " " << in.name;
    double gmax = 1e-12;
    for (double v : g) gmax = std::max(gmax, std::abs(v));
    const size_t n = x.size();
    const size_t step = std::max<size_t>(1, n / static_cast<size_t>(max_checks));
    double worst = 0;
    size_t worst_i = 0;
    double worst_num = 0;
    for (size_t i = 0; i < n; i += step) {
      const double keep = x[i];
      x[i] = keep + h;
      const double lp = loss();
      x[i] = keep - h;
      const double lm = loss();
      x[i] = keep;
      const double num = (lp - lm) / (2 * h);
      const double err = std::abs(num - g[i]) / gmax;
      if (err > worst) worst = err, worst_i = i, worst_num = num;
    }
    f();
    EXPECT_LE(worst, tol) << what << ": d/d" << in.name << "[" << worst_i << "] analytic " << g[worst_i]
                          << " vs finite difference " << worst_num;
  }
}

inline std::filesystem::path nn_data(const std::string& name) { return test_data() / "nn" / name; }

}  // namespace climseg::test

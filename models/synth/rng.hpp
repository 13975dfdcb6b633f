// A small deterministic random generator (SplitMix64): the same seed gives the same numbers on
// every platform and library, unlike std:: distributions, so synthetic archives are reproducible.
#pragma once

#include <cmath>
#include <cstdint>

namespace climseg::synth {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) { return lo + int(uniform() * double(hi - lo + 1)); }  // [lo, hi]
  bool chance(double p) { return uniform() < p; }

 private:
  uint64_t state_;
};

}  // namespace climseg::synth

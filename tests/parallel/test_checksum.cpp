// The parameter checksum: bit-exact (any flipped bit changes it), independent of the thread count,
// and equal for equal arenas; the layout hash tells models apart without reading data.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>

#include "parallel/state_sync.hpp"
#include "tiny_model.hpp"

using namespace climseg;

TEST(Checksum, EqualArenasEqualSums) {
  test::TinyModel a(1, 16, 16, 5), b(1, 16, 16, 5), c(1, 16, 16, 6);
  EXPECT_EQ(parallel::parameter_checksum(*a.params), parallel::parameter_checksum(*b.params));
  EXPECT_NE(parallel::parameter_checksum(*a.params), parallel::parameter_checksum(*c.params));
  EXPECT_EQ(parallel::layout_hash(*a.params), parallel::layout_hash(*c.params));  // same model, other values
  test::TinyModel d(1, 16, 16, 5, [] {
    auto cfg = test::tiny_cgnet_config();
    cfg.params["N"] = 3;
    return cfg;
  }());
  EXPECT_NE(parallel::layout_hash(*a.params), parallel::layout_hash(*d.params));
}

TEST(Checksum, EveryBitCounts) {
  test::TinyModel a(1, 16, 16);
  const uint64_t base = parallel::parameter_checksum(*a.params);
  float* p = a.params->data();
  const int64_t n = a.params->size();
  for (int64_t i : {int64_t{0}, n / 3, n - 1}) {
    for (int bit : {0, 17, 31}) {
      uint32_t w;
      std::memcpy(&w, p + i, 4);
      w ^= 1u << bit;
      std::memcpy(p + i, &w, 4);
      EXPECT_NE(parallel::parameter_checksum(*a.params), base) << "element " << i << " bit " << bit;
      w ^= 1u << bit;
      std::memcpy(p + i, &w, 4);
    }
  }
  EXPECT_EQ(parallel::parameter_checksum(*a.params), base);
  // Swapping two different values changes it too (order matters).
  std::vector<float> v(1 << 20);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f;
  const uint64_t h = parallel::hash_floats(v.data(), int64_t(v.size()));
  std::swap(v[3], v[(1 << 19) + 3]);
  EXPECT_NE(parallel::hash_floats(v.data(), int64_t(v.size())), h);
}

TEST(Checksum, SameForAnyThreadCount) {
  std::vector<float> v((3 << 18) + 123);  // several parallel chunks and a tail
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(float(i));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const uint64_t one = parallel::hash_floats(v.data(), int64_t(v.size()));
  omp_set_num_threads(2);
  const uint64_t two = parallel::hash_floats(v.data(), int64_t(v.size()));
  omp_set_num_threads(saved);
  EXPECT_EQ(one, two);
}

TEST(Checksum, PerTensorSumsFollowTheArena) {
  test::TinyModel a(1, 16, 16);
  auto t = parallel::tensor_checksums(*a.params);
  ASSERT_EQ(t.size(), a.params->params().size());
  nn::Param* p = a.params->params()[3];
  p->data[0] += 1.0f;
  auto u = parallel::tensor_checksums(*a.params);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i] != u[i], i == 3) << i;
}

TEST(StateSyncSerial, CollectivesAreIdentitiesOnOneRank) {
  test::TinyModel a(1, 16, 16);
  const uint64_t h = parallel::parameter_checksum(*a.params);
  parallel::broadcast_parameters(*a.params, Comm::world());
  parallel::check_identical(*a.params, Comm::world(), 0);
  std::vector<float> buf(a.params->buffer_data(), a.params->buffer_data() + a.params->buffer_size());
  parallel::average_buffers(*a.params, Comm::world());
  EXPECT_EQ(parallel::parameter_checksum(*a.params), h);
  EXPECT_EQ(std::vector<float>(a.params->buffer_data(), a.params->buffer_data() + a.params->buffer_size()), buf);
}

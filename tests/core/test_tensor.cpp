// Tensor storage: alignment, views sharing storage, reshape checks.
#include <gtest/gtest.h>

#include <cstdint>

#include "core/error.hpp"
#include "core/tensor.hpp"

using climseg::Tensor;

TEST(Tensor, ZeroFilledAndAligned) {
  Tensor t({2, 3, 5, 7});
  EXPECT_EQ(t.numel(), 210);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (float v : t) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t({2, 3});
  for (int i = 0; i < 6; ++i) t[i] = static_cast<float>(i);
  Tensor row = t.slice0(1);
  EXPECT_EQ(row.shape(), (climseg::Shape{3}));
  EXPECT_EQ(row[0], 3.0f);
  row[2] = 42.0f;
  EXPECT_EQ(t[5], 42.0f);
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.dim(0), 3);
  EXPECT_EQ(r[5], 42.0f);
  Tensor c = t.clone();
  c[0] = -1.0f;
  EXPECT_EQ(t[0], 0.0f);
}

TEST(Tensor, BadShapesThrow) {
  Tensor t({4, 4});
  EXPECT_THROW(t.reshape({5, 3}), climseg::Error);
  EXPECT_THROW(t.view(10, {2, 4}), climseg::Error);
  EXPECT_THROW(t.slice0(4), climseg::Error);
  EXPECT_THROW(Tensor({-1, 2}), climseg::Error);
}

// CLIMSEG_ASSERT is compiled in the test builds (-DCLIMSEG_ASSERTS=ON) and catches a program bug
// such as a dimension index out of range, naming the condition.
TEST(Invariants, AssertThrowsInTheTestBuildAndNamesTheCondition) {
  if (!CLIMSEG_ASSERTS_ENABLED) GTEST_SKIP() << "built without assertions (-DCLIMSEG_ASSERTS=OFF, Release)";
  Tensor t({2, 3});
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_EQ(t.dim(1), 3);
  try {
    (void)t.dim(2);
    FAIL() << "dim(2) of a 2-D tensor passed";
  } catch (const climseg::InvariantError& e) {
    EXPECT_NE(std::string(e.what()).find("i < ndim()"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)t.dim(-3), climseg::InvariantError);
  int evaluated = 0;
  CLIMSEG_ASSERT(++evaluated == 1);
  EXPECT_EQ(evaluated, 1);
}

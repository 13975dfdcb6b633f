// Bucket planning over the gradient arena, and GradSync on one process (no MPI): the bucket layout
// covers every tensor once in contiguous ranges, and a serial sync leaves gradients untouched.
#include <gtest/gtest.h>

#include <set>

#include "core/error.hpp"
#include "parallel/grad_sync.hpp"
#include "tiny_model.hpp"

using namespace climseg;

TEST(Buckets, CoverEveryTensorOnceInContiguousRanges) {
  test::TinyModel m(1, 16, 16);
  const nn::Parameters& p = *m.params;
  for (int64_t cap : {int64_t{256}, int64_t{4096}, int64_t{64} << 10, int64_t{1} << 30}) {
    std::vector<parallel::Bucket> b = parallel::plan_buckets(p, cap);
    ASSERT_FALSE(b.empty());
    int tensors = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      tensors += b[i].tensors;
      EXPECT_LT(b[i].begin, b[i].end);
      if (i > 0) {
        EXPECT_GE(b[i].begin, b[i - 1].end) << "buckets overlap";
      }
      // Over the cap only when one tensor alone is bigger.
      if (b[i].bytes() > cap) {
        EXPECT_EQ(b[i].tensors, 1) << "cap " << cap << " bucket " << i;
      }
    }
    EXPECT_EQ(tensors, static_cast<int>(p.params().size()));
    // Each tensor lies wholly inside exactly one bucket.
    for (const nn::Param* t : p.params()) {
      int inside = 0;
      for (const auto& k : b) inside += (t->offset >= k.begin && t->offset + t->numel <= k.end) ? 1 : 0;
      EXPECT_EQ(inside, 1) << t->name;
    }
    if (cap == (int64_t{1} << 30)) {
      ASSERT_EQ(b.size(), 1u);
      EXPECT_EQ(b[0].begin, 0);  // the arena starts with a tensor
    }
  }
}

TEST(Buckets, GreedyUpToTheCap) {
  test::TinyModel m(1, 16, 16);
  const int64_t cap = m.params->size() * 4 / 4;
  auto b = parallel::plan_buckets(*m.params, cap);
  EXPECT_GE(b.size(), 3u);
  // A bucket closes only when its next tensor would take it past the cap.
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    const nn::Param* next = nullptr;
    for (const nn::Param* t : m.params->params())
      if (t->offset == b[i + 1].begin) next = t;
    ASSERT_NE(next, nullptr);
    EXPECT_GT(4 * (next->offset + next->numel - b[i].begin), cap) << "bucket " << i;
  }
  EXPECT_THROW(parallel::plan_buckets(*m.params, 0), UsageError);
}

TEST(GradSyncSerial, LeavesGradientsAsBackwardMadeThem) {
  test::TinyModel m(2, 16, 24);
  m.fill(0, 0);
  m.graph->forward();
  m.graph->backward();
  std::vector<float> want(m.params->grad(), m.params->grad() + m.params->size());

  parallel::GradSync sync(*m.params, *m.graph, Comm::world());
  EXPECT_EQ(sync.ranks(), 1);
  m.graph->forward();
  sync.begin_backward();
  m.graph->backward();
  sync.finish();
  std::vector<float> got(m.params->grad(), m.params->grad() + m.params->size());
  EXPECT_EQ(got, want);
  const auto& t = sync.last();
  EXPECT_EQ(t.buckets, static_cast<int>(sync.buckets().size()));
  EXPECT_EQ(t.bytes, m.params->size() * 4);
  EXPECT_GT(t.backward_s, 0.0);
  EXPECT_EQ(sync.calibrate(), 0.0);  // nothing to reduce on one rank
}

TEST(GradSyncSerial, RefusesFinishWithoutBeginAndDoubleBegin) {
  test::TinyModel m(1, 16, 16);
  parallel::GradSync sync(*m.params, *m.graph, Comm::world());
  EXPECT_THROW(sync.finish(), Error);
  sync.begin_backward();
  EXPECT_THROW(sync.begin_backward(), Error);
  sync.finish();
  // A backward without begin_backward() begins the step itself.
  m.fill(0, 0);
  m.graph->forward();
  m.graph->backward();
  EXPECT_NO_THROW(sync.finish());
}

TEST(GradSyncSerial, RefusesAGraphOfOtherParameters) {
  test::TinyModel a(1, 16, 16), b(1, 16, 16);
  parallel::GradSync sync(*a.params, Comm::world());
  EXPECT_THROW(sync.attach(*b.graph), Error);
}

TEST(GradSyncSerial, AGraphOutlivingTheSyncFindsItsHookInert) {
  test::TinyModel m(1, 16, 16);
  m.fill(0, 0);
  m.graph->forward();
  { parallel::GradSync sync(*m.params, *m.graph, Comm::world()); }
  EXPECT_NO_THROW(m.graph->backward());
}

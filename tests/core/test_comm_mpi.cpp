// The communicator really communicates: sums, extrema, broadcasts and gathers checked on every rank.
#include <gtest/gtest.h>

#include <numeric>

#include "core/mpi.hpp"

using climseg::Comm;

TEST(Comm, AllreduceSumsOnEveryRank) {
  Comm w = Comm::world();
  ASSERT_TRUE(w.is_mpi());
  ASSERT_GE(w.size(), 2);
  std::vector<double> v = {1.0, static_cast<double>(w.rank()), 0.5};
  w.allreduce_sum(v.data(), 3);
  const double p = w.size();
  EXPECT_DOUBLE_EQ(v[0], p);
  EXPECT_DOUBLE_EQ(v[1], p * (p - 1) / 2);
  EXPECT_DOUBLE_EQ(v[2], 0.5 * p);
  EXPECT_EQ(w.sum(int64_t{w.rank() + 1}), w.size() * (w.size() + 1) / 2);
  EXPECT_DOUBLE_EQ(w.max(static_cast<double>(w.rank())), p - 1);
  EXPECT_DOUBLE_EQ(w.min(static_cast<double>(w.rank())), 0.0);
  EXPECT_TRUE(w.any(w.rank() == w.size() - 1));
  EXPECT_FALSE(w.any(false));
}

TEST(Comm, BroadcastAndGather) {
  Comm w = Comm::world();
  std::string s = w.is_root() ? "from rank 0" : "";
  w.broadcast(s);
  EXPECT_EQ(s, "from rank 0");
  auto all = w.allgather("r" + std::to_string(w.rank()));
  ASSERT_EQ(static_cast<int>(all.size()), w.size());
  for (int r = 0; r < w.size(); ++r) EXPECT_EQ(all[static_cast<size_t>(r)], "r" + std::to_string(r));
}

TEST(Comm, SplitGivesGroups) {
  Comm w = Comm::world();
  Comm g = w.split(w.rank() % 2, w.rank());
  int expected = (w.size() + 1 - w.rank() % 2) / 2;
  EXPECT_EQ(g.size(), expected);
  EXPECT_EQ(g.sum(int64_t{1}), expected);
  g.free();
}

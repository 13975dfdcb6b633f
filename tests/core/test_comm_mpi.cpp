// The communicator really communicates: sums, extrema, broadcasts and gathers checked on every rank.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/mpi.hpp"

using climseg::Comm;
using climseg::OwnedComm;

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
  OwnedComm g = w.split(w.rank() % 2, w.rank());
  int expected = (w.size() + 1 - w.rank() % 2) / 2;
  EXPECT_EQ(g.size(), expected);
  EXPECT_EQ(g.comm().sum(int64_t{1}), expected);
}

// A new communicator has exactly one owner: what split and dup return cannot be copied (a copyable
// owner freed twice, once per copy, was the double free of the old Comm::split), nor viewed as a
// Comm straight from a temporary (that view would outlive the handle).
using Split = decltype(std::declval<const Comm&>().split(0, 0));
static_assert(!std::is_copy_constructible_v<Split> && !std::is_copy_assignable_v<Split>);
static_assert(std::is_nothrow_move_constructible_v<Split>);
static_assert(!std::is_convertible_v<Split&&, Comm>);
static_assert(std::is_convertible_v<const Split&, const Comm&>);

TEST(Comm, OwnedCommsMoveAndFreeOnce) {
  Comm w = Comm::world();
  std::vector<OwnedComm> kept;
  for (int i = 0; i < 3; ++i) {
    OwnedComm g = w.split(w.rank() % 2, w.rank());
    OwnedComm d = w.dup();
    OwnedComm moved = std::move(g);  // g is left serial: its destructor frees nothing
    EXPECT_FALSE(g.is_mpi());        // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.comm().sum(int64_t{1}), (w.size() + 1 - w.rank() % 2) / 2);
    EXPECT_EQ(d.comm().sum(int64_t{1}), w.size());
    d = std::move(moved);  // frees d's duplicate, takes the split
    kept.push_back(std::move(d));
  }
  for (OwnedComm& k : kept) {
    k.reset();
    k.reset();  // a second free is a no-op
    EXPECT_FALSE(k.is_mpi());
  }
  // The world still works after every handle above was freed exactly once.
  EXPECT_EQ(w.sum(int64_t{1}), w.size());
}

TEST(Comm, PointToPointAndSleepingCollectives) {
  Comm w = Comm::world();
  const OwnedComm c = w.dup();
  const Comm& v = c;
  if (v.rank() != 0) v.send_string(0, 7, "hello from " + std::to_string(v.rank()));
  if (v.rank() == 0) {
    std::set<int> from_ranks;
    for (int i = 1; i < v.size(); ++i) {
      int from = -1;
      const std::string s = v.recv_string(Comm::kAnySource, 7, &from);
      EXPECT_EQ(s, "hello from " + std::to_string(from));
      from_ranks.insert(from);
    }
    EXPECT_EQ(static_cast<int>(from_ranks.size()), v.size() - 1);
    EXPECT_EQ(v.probe(Comm::kAnySource, 7), -1);
  }
  std::string s = v.is_root() ? std::string(100000, 'x') : std::string();
  v.broadcast_sleeping(s);
  EXPECT_EQ(s, std::string(100000, 'x'));
  v.barrier_sleeping();
}

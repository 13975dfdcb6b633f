// Replica consistency across ranks: rank 0's weights broadcast, the checksum check that names the
// rank and tensor that diverged, running statistics averaged, and different models refused.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "parallel/grad_sync.hpp"
#include "parallel/state_sync.hpp"
#include "tiny_model.hpp"

using namespace climseg;

TEST(StateSync, BroadcastGivesEveryRankRootsWeights) {
  Comm world = Comm::world();
  test::TinyModel m(1, 16, 16, /*seed=*/100 + uint64_t(world.rank()));
  for (int64_t i = 0; i < m.params->buffer_size(); ++i) m.params->buffer_data()[i] = float(world.rank());
  test::TinyModel root_model(1, 16, 16, 100);  // what rank 0 holds
  parallel::broadcast_parameters(*m.params, world);
  EXPECT_EQ(parallel::parameter_checksum(*m.params), parallel::parameter_checksum(*root_model.params));
  EXPECT_EQ(m.params->buffer_data()[0], 0.0f);
  EXPECT_EQ(m.params->buffer_data()[m.params->buffer_size() - 1], 0.0f);
  EXPECT_NO_THROW(parallel::check_identical(*m.params, world, 0));
}

TEST(StateSync, CheckNamesTheRankAndTensorThatDiverged) {
  Comm world = Comm::world();
  test::TinyModel m(1, 16, 16, 7);
  const int odd = world.size() - 1;
  nn::Param& victim = m.params->at("level3.0.F_glo.fc.0.weight");
  if (world.rank() == odd) victim.data[2] = std::nextafter(victim.data[2], 1.0f);  // one ulp
  try {
    parallel::check_identical(*m.params, world, 300);
    ADD_FAILURE() << "no error on rank " << world.rank();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("after step 300"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank " + std::to_string(odd) + " differs from rank 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("level3.0.F_glo.fc.0.weight"), std::string::npos) << msg;
  }
}

// BatchNorm running statistics are part of the replica: one ulp of one running variance on the
// last rank is caught and named.
TEST(StateSync, CheckCoversBatchNormBuffers) {
  Comm world = Comm::world();
  test::TinyModel m(1, 16, 16, 7);
  const int odd = world.size() - 1;
  ASSERT_FALSE(m.params->buffers().empty());
  nn::Param* victim = m.params->buffers().back();  // the last BatchNorm's running variance
  ASSERT_NE(victim->name.find("running_var"), std::string::npos) << victim->name;
  const float before = victim->data[1];
  if (world.rank() == odd) victim->data[1] = std::nextafter(before, 2.0f);
  try {
    parallel::check_identical(*m.params, world, 12);
    ADD_FAILURE() << "no error on rank " << world.rank();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("rank " + std::to_string(odd) + " differs from rank 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find(victim->name), std::string::npos) << msg;
  }
  victim->data[1] = before;  // identical again
  EXPECT_NO_THROW(parallel::check_identical(*m.params, world, 13));
}

TEST(StateSync, BuffersAveraged) {
  Comm world = Comm::world();
  test::TinyModel m(1, 16, 16);
  float* b = m.params->buffer_data();
  for (int64_t i = 0; i < m.params->buffer_size(); ++i) b[i] = float(world.rank()) + 0.25f * float(i % 4);
  parallel::average_buffers(*m.params, world);
  const float mean_rank = 0.5f * float(world.size() - 1);
  for (int64_t i = 0; i < m.params->buffer_size(); ++i) ASSERT_FLOAT_EQ(b[i], mean_rank + 0.25f * float(i % 4)) << i;
}

TEST(StateSync, DifferentModelsAreRefusedNamingTheRank) {
  Comm world = Comm::world();
  auto cfg = test::tiny_cgnet_config();
  if (world.rank() == 1) cfg.params["N"] = 3;
  test::TinyModel m(1, 16, 16, 1, cfg);
  for (auto attempt : {0, 1}) {
    try {
      if (attempt == 0)
        parallel::broadcast_parameters(*m.params, world);
      else
        parallel::GradSync sync(*m.params, *m.graph, world);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank 1 differs from rank 0"), std::string::npos) << e.what();
    }
  }
}

// Data-parallel training on 2 and 4 ranks: a run stopped halfway and resumed gives bit-identical
// weights to an uninterrupted one, every rank holds the same weights, and a multi-rank prediction
// writes each input's output once.
#include <gtest/gtest.h>

#include <cstring>

#include "core/h5.hpp"
#include "models/training/predictor.hpp"
#include "models/training/trainer.hpp"
#include "parallel/state_sync.hpp"
#include "test_support.hpp"
#include "tiny_archive.hpp"

using namespace climseg;
using namespace climseg::training;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A directory shared by all ranks: rank 0 creates it, everyone learns its name.
struct SharedDir {
  std::unique_ptr<test::TempDir> owned;
  fs::path path;
  explicit SharedDir(const Comm& comm) {
    std::string p;
    if (comm.is_root()) {
      owned = std::make_unique<test::TempDir>();
      p = owned->path().string();
    }
    comm.broadcast(p);
    path = p;
  }
};

TrainConfig config(const std::vector<std::string>& files, const fs::path& ckdir) {
  json doc = {{"data", {{"train", files}, {"val_fraction", 0.2}}},
              {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
              {"optimizer", {{"type", "adam"}, {"lr", 0.003}}},
              {"epochs", 2},
              {"batch_size", 1},
              {"seed", 5},
              {"checkpoint_dir", ckdir.string()},
              {"distributed", {{"check_every", 1}, {"bucket_mb", 0.1}}}};
  return TrainConfig::from_json(doc);
}

}  // namespace

TEST(TrainMpi, ResumedRunIsBitIdenticalAndRanksAgree) {
  Comm comm = Comm::world();
  SharedDir dir(comm);
  std::vector<std::string> files;
  if (comm.is_root()) {
    fs::create_directories(dir.path / "data");
    files = test::write_tiny_archive(dir.path / "data", 2, 8, 24, 36);  // 16 samples: 12 train, 4 validation
  }
  std::string joined = files.empty() ? "" : files[0] + "\n" + files[1];
  comm.broadcast(joined);
  files = {joined.substr(0, joined.find('\n')), joined.substr(joined.find('\n') + 1)};

  TrainResult a = train(config(files, dir.path / "straight"), comm);
  const int64_t steps = 2 * (12 / comm.size());
  EXPECT_EQ(a.steps, steps);
  TrainConfig first = config(files, dir.path / "resumed");
  first.max_steps = steps / 2 + 1;
  train(first, comm);
  TrainConfig second = config(files, dir.path / "resumed");
  second.resume = "auto";
  TrainResult b = train(second, comm);
  EXPECT_EQ(b.steps, steps);
  if (comm.is_root()) {
    auto wa = test::checkpoint_weights(dir.path / "straight" / "last.h5"),
         wb = test::checkpoint_weights(dir.path / "resumed" / "last.h5");
    ASSERT_EQ(wa.size(), wb.size());
    EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * 4), 0) << "resumed weights differ";
  }

  // Every rank's copy of the model is the same as rank 0's.
  ModelBundle m = load_model(dir.path / "straight" / "last.h5");
  EXPECT_NO_THROW(parallel::check_identical(*m.params, comm, steps));

  PredictOptions po;
  po.inputs = files;
  po.out_dir = dir.path / "pred";
  PredictReport r = predict(m, po, comm);
  EXPECT_EQ(comm.sum(r.files_written), 2);
  EXPECT_EQ(comm.sum(r.samples), 16);
  comm.barrier();
}

// Data-parallel training on 2 and 4 ranks: a run stopped halfway and resumed gives bit-identical
// weights to an uninterrupted one, every rank holds the same weights, and a multi-rank prediction
// writes each input's output once; each epoch's shards are disjoint and make up the global epoch
// order; validation over the ranks equals a single process's; synchronised BatchNorm, hierarchical
// reduction and the linear learning-rate rule with its warmup run together with the ranks in step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/h5.hpp"
#include "models/nets/network.hpp"
#include "models/training/data.hpp"
#include "models/training/predictor.hpp"
#include "models/training/trainer.hpp"
#include "parallel/grad_sync.hpp"
#include "parallel/state_sync.hpp"
#include "shared_dir.hpp"
#include "test_support.hpp"
#include "tiny_archive.hpp"

using namespace climseg;
using namespace climseg::training;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

TrainConfig small_config(const std::vector<std::string>& files, const fs::path& ckdir) {
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

// Rank 0 writes `files` x `steps` tiny samples under dir/sub; every rank gets the paths.
std::vector<std::string> shared_archive(const Comm& comm, const fs::path& dir, int files, int steps) {
  std::vector<std::string> paths;
  if (comm.is_root()) {
    fs::create_directories(dir);
    paths = test::write_tiny_archive(dir, files, steps, 24, 36);
  }
  std::string joined;
  for (const std::string& p : paths) joined += p + "\n";
  comm.broadcast(joined);
  paths.clear();
  for (size_t a = 0, b; (b = joined.find('\n', a)) != std::string::npos; a = b + 1)
    paths.push_back(joined.substr(a, b - a));
  return paths;
}

}  // namespace

// Every step, each rank reports its batch; over an epoch the ranks' shards are disjoint, their union
// is the training set, and laid out by (step, rank, slot) they are the epoch's global order
// (epoch_order of the shared seed: the same for any rank), reshuffled each epoch. Validation is
// sharded too: the confusion matrices reduced over the ranks equal one process's over all samples.
TEST(TrainMpi, ShardsPartitionEachEpochAndValidationMatchesSerial) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  const std::vector<std::string> train_files = shared_archive(comm, dir.path / "train", 2, 8);  // 16 samples
  const std::vector<std::string> val_files = shared_archive(comm, dir.path / "val", 1, 6);
  ASSERT_EQ(train_files.size(), 2u);
  ASSERT_EQ(val_files.size(), 1u);
  const int64_t P = comm.size(), B = 2, N = 16, epochs = 2;
  ASSERT_EQ(N % (B * P), 0) << "the test wants whole epochs";
  const int64_t steps_per_epoch = N / (B * P);
  // No normalization: statistics computed over the ranks would be summed in another order than one
  // process's, and the serial validation below must see bit-identical inputs.
  json doc = {{"data", {{"train", train_files}, {"val", val_files}, {"normalization", "none"}}},
              {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
              {"optimizer", {{"type", "sgd"}, {"lr", 0.01}}},
              {"epochs", epochs},
              {"batch_size", B},
              {"seed", 9},
              {"checkpoint_dir", (dir.path / "ck").string()}};
  TrainConfig cfg = TrainConfig::from_json(doc);
  // slot (step * P + rank) * B + k holds 1 + the sample this rank used there (0: never filled)
  std::vector<double> slots(static_cast<size_t>(epochs * N), 0.0);
  int64_t calls = 0;
  TrainHooks hooks;
  hooks.on_batch = [&](int64_t step, const std::vector<int64_t>& samples) {
    ASSERT_EQ(static_cast<int64_t>(samples.size()), B);
    for (int64_t k = 0; k < B; ++k)
      slots[static_cast<size_t>((step * P + comm.rank()) * B + k)] += 1.0 + double(samples[size_t(k)]);
    ++calls;
  };
  TrainResult r = train(cfg, comm, hooks);
  EXPECT_EQ(r.steps, epochs * steps_per_epoch);
  EXPECT_EQ(calls, epochs * steps_per_epoch);
  comm.allreduce_sum(slots.data(), static_cast<int64_t>(slots.size()));
  std::vector<int64_t> all(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) all[size_t(i)] = i;  // data.val given: every training sample trains
  std::vector<std::vector<int64_t>> orders;
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int64_t> seen;
    for (int64_t i = 0; i < N; ++i) {
      const double v = slots[size_t(e * N + i)];
      ASSERT_GE(v, 1.0) << "slot " << i << " of epoch " << e << " unused";
      seen.push_back(static_cast<int64_t>(v) - 1);
    }
    // Disjoint shards whose union is the training set: the epoch's slots are a permutation of 0..N-1.
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, all) << "epoch " << e;
    // And the global order is the shared shuffle.
    EXPECT_EQ(seen, epoch_order(all, cfg.seed, e)) << "epoch " << e;
    orders.push_back(seen);
  }
  EXPECT_NE(orders[0], orders[1]) << "the order was not reshuffled";

  // The run ends with a validation of its final weights over the ranks; one process (rank 0 on
  // its own) resumes the same checkpoint with no step left and validates all the samples.
  ASSERT_FALSE(r.last_validation.is_null());
  EXPECT_EQ(r.last_validation.at("samples"), 6);
  std::string serial_dump;
  if (comm.is_root()) {
    TrainConfig s = cfg;
    s.checkpoint_dir = (dir.path / "serial").string();
    s.resume = (dir.path / "ck" / "last.h5").string();
    s.max_steps = r.steps;  // nothing left to train
    TrainHooks h;
    h.validate_when_done = true;
    TrainResult one = train(s, Comm::self(), h);
    EXPECT_EQ(one.steps, r.steps);
    serial_dump = one.last_validation.dump();
  }
  comm.broadcast(serial_dump);
  const json serial = json::parse(serial_dump);
  EXPECT_EQ(serial.at("samples"), 6);
  // Pixel counts are integers: exactly equal. Area weights and DeepCAM's mean are sums of doubles
  // in another order.
  EXPECT_EQ(r.last_validation.at("pixels").at("confusion"), serial.at("pixels").at("confusion"));
  const json& aw = r.last_validation.at("area_weighted").at("confusion");
  const json& aws = serial.at("area_weighted").at("confusion");
  for (size_t t = 0; t < aw.size(); ++t)
    for (size_t p = 0; p < aw[t].size(); ++p)
      EXPECT_NEAR(aw[t][p].get<double>(), aws[t][p].get<double>(), 1e-12 * std::abs(aws[t][p].get<double>()));
  EXPECT_NEAR(r.last_validation.at("deepcam_mean_iou").get<double>(), serial.at("deepcam_mean_iou").get<double>(),
              1e-12);
  double pixels = 0;
  for (const auto& row : serial.at("pixels").at("confusion"))
    for (const auto& v : row) pixels += v.get<double>();
  EXPECT_EQ(pixels, 6.0 * 24 * 36);
}

// Synchronised BatchNorm, the hierarchical reduction (every rank of this machine in one node
// group) and the linear learning-rate rule with its warmup, together: the logged rate is the base
// rate x (1 + (P - 1) s / (W - 1)) at update s < W - 1 (W: the warmup, one epoch here) and P x base
// from s = W - 1 (the epoch's last update), and the replicas (weights and running statistics) are
// checked bit-identical every step.
TEST(TrainMpi, SyncBatchNormHierarchicalAndLinearWarmup) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  const std::vector<std::string> files = shared_archive(comm, dir.path / "data", 2, 8);  // 16 samples
  const int64_t P = comm.size(), B = 1;
  const double base = 0.01;
  json doc = {{"data", {{"train", files}, {"val_fraction", 0}}},  // 16 train, no validation
              {"model", {{"type", "cgnet"}, {"M", 1}, {"N", 2}}},
              {"optimizer", {{"type", "sgd"}, {"lr", base}, {"momentum", 0.9}}},
              {"schedule", {{"kind", "constant"}, {"warmup_steps", 0}}},
              {"epochs", 1},
              {"batch_size", B},
              {"seed", 3},
              {"log_every", 1},
              {"checkpoint_dir", (dir.path / "ck").string()},
              {"distributed",
               {{"sync_batchnorm", true}, {"hierarchical", true}, {"lr_scaling", "linear"}, {"check_every", 1}}}};
  TrainConfig cfg = TrainConfig::from_json(doc);
  const int64_t steps_per_epoch = 16 / (B * P), warmup = steps_per_epoch;  // the last update is at full rate
  TrainResult r;
  ASSERT_NO_THROW(r = train(cfg, comm));
  EXPECT_EQ(r.steps, steps_per_epoch);
  if (comm.is_root()) {
    std::ifstream log(dir.path / "ck" / "metrics.jsonl");
    std::string line;
    int64_t lines = 0;
    while (std::getline(log, line)) {
      json j = json::parse(line);
      if (!j.contains("lr")) continue;
      const int64_t s = j.at("step").get<int64_t>() - 1;  // the update this line's rate was used for
      const double expected =
          s < warmup - 1 ? base * (1.0 + double(P - 1) * double(s) / double(warmup - 1)) : base * double(P);
      EXPECT_NEAR(j.at("lr").get<double>(), expected, 1e-12) << "update " << s;
      ++lines;
    }
    EXPECT_EQ(lines, r.steps);
  }
  // The watchdog's heartbeats went to <checkpoint_dir>/.watchdog (no CLIMSEG_WATCHDOG_DIR here);
  // each rank removes its file when the run ends.
  if (std::getenv("CLIMSEG_WATCHDOG_DIR") == nullptr) {
    EXPECT_TRUE(fs::is_directory(dir.path / "ck" / ".watchdog"));
    comm.barrier();
    EXPECT_TRUE(fs::is_empty(dir.path / "ck" / ".watchdog"));
  }
  // The saved replica is the one every rank holds (rank 0 wrote it; check_every 1 compared them).
  ModelBundle m = load_model(dir.path / "ck" / "last.h5");
  EXPECT_NO_THROW(parallel::check_identical(*m.params, comm, r.steps));
  comm.barrier();
}

// `climseg train`'s default bucket is GradSync's (1 MiB), which cuts CGNet's 1.98 MB of gradients
// into 2 buckets: the first can be reduced while backward goes on (one 4 MiB bucket could not).
TEST(TrainMpi, DefaultBucketSplitsCgnetForOverlap) {
  TrainConfig c;
  EXPECT_EQ(static_cast<int64_t>(c.distributed.bucket_mb * (1 << 20)), parallel::GradSyncOptions{}.bucket_bytes);
  nets::NetConfig m = c.model;
  ASSERT_EQ(m.type, "cgnet");
  m.channels = {"TMQ", "U850", "V850", "PSL"};
  auto net = nets::make_network(m);
  nn::Parameters params(*net, 1);
  EXPECT_EQ(params.count(), 494232);
  EXPECT_EQ(parallel::plan_buckets(params, parallel::GradSyncOptions{}.bucket_bytes).size(), 2u);
}

TEST(TrainMpi, ResumedRunIsBitIdenticalAndRanksAgree) {
  Comm comm = Comm::world();
  test::SharedDir dir(comm);
  std::vector<std::string> files;
  if (comm.is_root()) {
    fs::create_directories(dir.path / "data");
    files = test::write_tiny_archive(dir.path / "data", 2, 8, 24, 36);  // 16 samples: 12 train, 4 validation
  }
  std::string joined = files.empty() ? "" : files[0] + "\n" + files[1];
  comm.broadcast(joined);
  files = {joined.substr(0, joined.find('\n')), joined.substr(joined.find('\n') + 1)};

  TrainResult a = train(small_config(files, dir.path / "straight"), comm);
  const int64_t steps = 2 * (12 / comm.size());
  EXPECT_EQ(a.steps, steps);
  TrainConfig first = small_config(files, dir.path / "resumed");
  first.max_steps = steps / 2 + 1;
  train(first, comm);
  TrainConfig second = small_config(files, dir.path / "resumed");
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

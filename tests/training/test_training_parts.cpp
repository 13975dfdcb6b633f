// Pieces of the training pipeline checked by hand: config parsing and overrides, the confusion
// matrix and its scores, input filling (normalization, padding, roll, mirror), shuffling, class
// weights.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "core/config.hpp"
#include "core/error.hpp"
#include "models/training/data.hpp"
#include "models/training/metrics.hpp"
#include "models/training/train_config.hpp"

using namespace climseg;
using namespace climseg::training;
using nlohmann::json;

TEST(TrainConfig, DefaultsOverridesAndErrors) {
  json doc = json::parse(R"({"data": {"train": "a/*.nc"}, "epochs": 2, "optimizer": {"lr": 0.01}})");
  config::apply_overrides(
      doc,
      config::parse_override_args({"--optimizer.lr", "3e-4", "--model.type=unet", "--augment.flip", "true",
                                   "--data.val", "b.nc", "--loss.class_weights", "[1, 2, 3]"}),
      TrainConfig{}.to_json());
  TrainConfig c = TrainConfig::from_json(doc);
  EXPECT_EQ(c.data.train, std::vector<std::string>{"a/*.nc"});
  EXPECT_EQ(c.data.val, std::vector<std::string>{"b.nc"});
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 3e-4);
  EXPECT_EQ(c.model.type, "unet");
  EXPECT_TRUE(c.augment_flip);
  EXPECT_EQ(c.epochs, 2);
  EXPECT_EQ(c.batch_size, 4);
  EXPECT_EQ(c.loss.class_weights, json::parse("[1, 2, 3]"));
  // The saved config reads back to the same config.
  EXPECT_EQ(TrainConfig::from_json(c.to_json()).to_json(), c.to_json());

  auto usage = [](const char* text, const char* needle) {
    try {
      TrainConfig::from_json(json::parse(text));
      ADD_FAILURE() << "accepted " << text;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  usage(R"({"data": {"train": ["x"]}, "epochs": "many"})", "'epochs' has the wrong type");
  usage(R"({"data": {"train": ["x"]}, "optimiser": {}})", "unknown key 'optimiser'");
  usage(R"({"data": {"train": ["x"], "chanels": "TMQ"}})", "unknown key 'data.chanels'");
  usage(R"({"data": {"train": ["x"]}, "optimizer": {"type": "adagrad"}})", "'optimizer.type' must be one of");
  usage(R"({"data": {"train": ["x"]}, "loss": {"class_weights": "sqrt"}})", "loss.class_weights");
  usage(R"({"epochs": 1})", "'data.train' is required");
  usage(R"({"data": {"train": ["x"]}, "batch_size": 0})", "'batch_size' must be at least 1");
}

// A normalization table's kind is read, not guessed: minmax round-trips through JSON, and an
// unknown kind (which once fell through to zscore) is refused naming the file and the choices.
TEST(Normalizer, KindsRoundTripAndUnknownKindsAreRefused) {
  Normalizer m;
  m.kind = Normalization::minmax;
  m.channels = {"TMQ"};
  m.shift = {2.0f};
  m.scale = {8.0f};
  const json j = m.to_json();
  EXPECT_EQ(j, json::parse(R"({"kind": "minmax", "channels": {"TMQ": {"min": 2.0, "max": 10.0}}})"));
  const Normalizer back = Normalizer::from_json(j, {"TMQ"}, "m.h5");
  EXPECT_EQ(back.kind, Normalization::minmax);
  EXPECT_EQ(back.shift, m.shift);
  EXPECT_EQ(back.scale, m.scale);
  json robust = j;
  robust["kind"] = "robust";
  try {
    Normalizer::from_json(robust, {"TMQ"}, "m.h5");
    ADD_FAILURE() << "accepted kind robust";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "m.h5: normalization kind 'robust' is not one of zscore, minmax, none");
  }
}

TEST(ConfusionMatrix, ScoresByHand) {
  // truth/prediction over 2x4 pixels, classes 0..2, one ignored pixel (-100).
  const int32_t truth[] = {0, 0, 1, 1, 2, 2, 0, -100};
  const int32_t pred[] = {0, 1, 1, 1, 2, 0, 0, 2};
  ConfusionMatrix cm(3);
  cm.add(pred, truth, 2, 4, {1.0, 3.0});
  EXPECT_EQ(cm.count(0, 0), 2);
  EXPECT_EQ(cm.count(0, 1), 1);
  EXPECT_EQ(cm.count(2, 0), 1);
  // class 0: TP 2, FP 1 (a 2 predicted 0), FN 1 -> IoU 2/4; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2
  EXPECT_DOUBLE_EQ(cm.iou(0), 0.5);
  EXPECT_DOUBLE_EQ(cm.iou(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cm.iou(2), 0.5);
  EXPECT_DOUBLE_EQ(cm.precision(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cm.recall(0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cm.f1(2), 2 * 1.0 * 0.5 / 1.5);
  EXPECT_DOUBLE_EQ(cm.mean_iou(1), (2.0 / 3.0 + 0.5) / 2);
  EXPECT_DOUBLE_EQ(cm.deepcam_iou(), (0.5 + 2.0 / 3.0 + 0.5) / 3);
  // Area weights: row 0 weighs 1, row 1 weighs 3. Class 2: TP at (1,0) w3; FN (1,1) w3 -> 3/6.
  EXPECT_DOUBLE_EQ(cm.iou(2, true), 0.5);
  // Class 0 weighted: TP (0,0) 1 + (1,2) 3 = 4; FP (1,1) 3; FN (0,1) 1 -> 4/8.
  EXPECT_DOUBLE_EQ(cm.iou(0, true), 0.5);
  json j = cm.to_json({"bg", "tc", "ar"});
  EXPECT_DOUBLE_EQ(j["pixels"]["iou"]["tc"].get<double>(), 2.0 / 3.0);
  EXPECT_EQ(j["samples"], 1);
}

TEST(FillInput, NormalizesPadsRollsAndMirrors) {
  io::Sample s;
  s.grid = geo::Grid::cam(2, 4);
  s.channels = {"U850", "TMQ"};
  s.data = Tensor({2, 2, 4});
  for (int64_t k = 0; k < 16; ++k) s.data[k] = float(k);
  s.valid = Tensor::full({2, 2, 4}, 1.0f);
  s.valid[5] = 0;  // channel 0, row 1, col 1
  s.labels = Tensor({2, 4});
  for (int64_t k = 0; k < 8; ++k) s.labels[k] = float(k % 3);
  s.labels[7] = 9;  // not a class
  Normalizer n;
  n.channels = s.channels;
  n.shift = {1.0f, 10.0f};
  n.scale = {2.0f, 4.0f};
  const auto negate = zonal_wind_channels(s.channels);
  ASSERT_EQ(negate, (std::vector<bool>{true, false}));
  std::vector<float> x(2 * 4 * 8);
  std::vector<int32_t> y(4 * 8);
  fill_input(s, n, 4, 8, {}, negate, 3, x.data(), y.data());
  EXPECT_FLOAT_EQ(x[0], (0 - 1.0f) / 2);           // (c0, 0, 0)
  EXPECT_FLOAT_EQ(x[1 * 8 + 1], 0.0f);             // invalid -> 0
  EXPECT_FLOAT_EQ(x[4 * 8 + 0], (8 - 10.0f) / 4);  // (c1, 0, 0)
  EXPECT_FLOAT_EQ(x[0 * 8 + 5], x[0 * 8 + 1]);     // column 5 wraps to 1
  EXPECT_FLOAT_EQ(x[2 * 8 + 0], x[0 * 8 + 0]);     // row 2 mirrors row 0 (2H-2-i)
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1 * 8 + 3], -100);  // label 9: not a class
  EXPECT_EQ(y[0 * 8 + 5], -100);  // padding column
  EXPECT_EQ(y[2 * 8 + 0], -100);  // padding row
  // Roll east by 1: destination column 1 reads source column 0.
  fill_input(s, n, 2, 4, {1, false}, negate, 3, x.data(), y.data());
  EXPECT_FLOAT_EQ(x[1], (0 - 1.0f) / 2);
  EXPECT_EQ(y[1], 0);
  EXPECT_EQ(y[0], 0 /* label of source column 3: 3 % 3 */);
  // Mirror: column j reads W-1-j, and the zonal wind changes sign.
  fill_input(s, n, 2, 4, {0, true}, negate, 3, x.data(), y.data());
  EXPECT_FLOAT_EQ(x[0], (-3.0f - 1.0f) / 2);
  EXPECT_FLOAT_EQ(x[8 + 0], (11 - 10.0f) / 4);  // TMQ keeps its sign
}

TEST(EpochOrder, DeterministicPermutationsThatDifferByEpoch) {
  std::vector<int64_t> items(50);
  std::iota(items.begin(), items.end(), 100);
  auto a = epoch_order(items, 7, 0), b = epoch_order(items, 7, 0), c = epoch_order(items, 7, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()), std::set<int64_t>(items.begin(), items.end()));
  std::vector<int64_t> train, val;
  split_by_time(10, 0.2, train, val);
  EXPECT_EQ(val, (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(train.size(), 8u);
}

TEST(ClassWeights, DeepCamRuleAndInverse) {
  std::vector<double> f = {0.9, 0.06, 0.04};
  auto w = class_weights("frequency^-0.125", f);
  // Normalised so that sum f_c w_c = 1.
  double s = 0;
  for (size_t k = 0; k < 3; ++k) s += f[k] * w[k];
  EXPECT_NEAR(s, 1.0, 1e-6);
  EXPECT_NEAR(w[1] / w[0], std::pow(0.06 / 0.9, -0.125), 1e-5);
  auto inv = class_weights("inverse", f);
  EXPECT_NEAR(inv[2] / inv[0], 0.9 / 0.04, 1e-4);
  EXPECT_EQ(class_weights("none", f), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(class_weights(json::parse("[0.5, 2, 3]"), f), (std::vector<float>{0.5, 2, 3}));
  EXPECT_THROW(class_weights(json::parse("[1, 2]"), f), UsageError);
}

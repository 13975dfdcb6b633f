// Training end to end on a tiny labelled archive: the loss falls, a run stopped halfway and resumed
// from its checkpoint ends with bit-identical weights and the same loss log as an uninterrupted run,
// and the checkpoint predicts and evaluates through the same code as `climseg predict/evaluate`.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/h5.hpp"
#include "models/training/predictor.hpp"
#include "models/training/trainer.hpp"
#include "readers/netcdf_file.hpp"
#include "test_support.hpp"
#include "tiny_archive.hpp"

using namespace climseg;
using namespace climseg::training;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

TrainConfig tiny_config(const std::vector<std::string>& files, const fs::path& ckdir) {
  json doc = {{"data", {{"train", files}, {"val_fraction", 0.2}}},
              {"model", {{"type", "cgnet"}, {"M", 2}, {"N", 2}}},
              {"optimizer", {{"type", "adam"}, {"lr", 0.003}}},
              {"loss", {{"class_weights", "frequency^-0.125"}}},
              {"epochs", 2},
              {"batch_size", 2},
              {"seed", 11},
              {"checkpoint_dir", ckdir.string()},
              {"checkpoint_every", 2}};
  return TrainConfig::from_json(doc);
}

std::vector<double> losses_of(const fs::path& log) {
  std::ifstream in(log);
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

}  // namespace

TEST(TrainE2E, LearnsResumesExactlyPredictsAndEvaluates) {
  test::TempDir dir;
  fs::create_directories(dir / "data");
  auto files = test::write_tiny_archive(dir / "data", 3, 6);  // 18 samples: 14 train, 4 validation

  // Uninterrupted: 2 epochs of 7 steps.
  TrainConfig straight = tiny_config(files, dir / "straight");
  TrainResult a = train(straight, Comm::world());
  EXPECT_EQ(a.steps, 14);
  EXPECT_EQ(a.skipped_steps, 0);
  std::vector<double> la = losses_of(dir / "straight" / "metrics.jsonl");
  ASSERT_EQ(la.size(), 14u);
  EXPECT_LT(la.back(), 0.8 * la.front()) << "the loss falls";
  ASSERT_TRUE(a.last_validation.is_object());
  EXPECT_EQ(a.last_validation["samples"], 4);

  // Interrupted after 6 steps (mid-epoch), then resumed.
  TrainConfig first = tiny_config(files, dir / "resumed");
  first.max_steps = 6;
  TrainResult b1 = train(first, Comm::world());
  EXPECT_EQ(b1.steps, 6);
  TrainConfig second = tiny_config(files, dir / "resumed");
  second.resume = "auto";
  TrainResult b2 = train(second, Comm::world());
  EXPECT_EQ(b2.steps, 14);
  std::vector<float> wa = test::checkpoint_weights(dir / "straight" / "last.h5"),
                     wb = test::checkpoint_weights(dir / "resumed" / "last.h5");
  ASSERT_EQ(wa.size(), wb.size());
  EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * sizeof(float)), 0) << "resumed weights differ";
  EXPECT_EQ(losses_of(dir / "resumed" / "metrics.jsonl"), la) << "the resumed loss log differs";

  // Predict: one output per input file with a CF class mask; a second run keeps complete outputs.
  ModelBundle m = load_model(dir / "straight" / "last.h5");
  EXPECT_EQ(m.kind, "climseg checkpoint");
  EXPECT_EQ(m.config.channels, (std::vector<std::string>{"TMQ", "U850", "V850", "PSL"}));
  PredictOptions po;
  po.inputs = files;
  po.out_dir = dir / "pred";
  po.probabilities = true;
  PredictReport r = predict(m, po, Comm::world());
  EXPECT_EQ(r.samples, 18);
  ASSERT_EQ(r.files_written, 3);
  {
    io::NcFile f(r.outputs[0]);
    int v = io::nc_find_var(f.id(), "class_mask");
    ASSERT_GE(v, 0);
    EXPECT_EQ(io::nc_var_shape(f.id(), v), (std::vector<size_t>{6, 32, 48}));
    EXPECT_EQ(io::nc_att_text(f.id(), v, "flag_meanings"), "Background Tropical_Cyclone Atmospheric_River");
    EXPECT_GE(io::nc_find_var(f.id(), "prob_Tropical_Cyclone"), 0);
  }
  PredictReport again = predict(m, po, Comm::world());
  EXPECT_EQ(again.files_written, 0);
  EXPECT_EQ(again.files_skipped, 3);

  // Evaluate: every sample scored; the confusion matrix counts every labelled pixel.
  EvaluateOptions eo;
  eo.inputs = files;
  ConfusionMatrix cm = evaluate(m, eo, Comm::world());
  EXPECT_EQ(cm.samples(), 18);
  double total = 0;
  for (int t = 0; t < 3; ++t)
    for (int p = 0; p < 3; ++p) total += cm.count(t, p);
  EXPECT_EQ(total, 18.0 * 32 * 48);
  EXPECT_GT(cm.iou(0), 0.5);
}

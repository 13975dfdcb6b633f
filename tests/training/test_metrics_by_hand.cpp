// DeepCAM's metric and the area-weighted scores of ConfusionMatrix, against values worked out by
// hand. DeepCAM (MLPerf HPC deepcam, utils/metric.py compute_score) takes per sample and class
// IoU = TP / (TP + FP + FN), with nan_to_num(..., nan = 1 / num_classes) after dividing by the
// class count, i.e. a class absent from truth and prediction counts as IoU 1; the per-sample
// mean over classes is then averaged over the samples.
#include <gtest/gtest.h>

#include <cmath>

#include "geo/grid.hpp"
#include "models/training/metrics.hpp"

using namespace climseg;
using training::ConfusionMatrix;

TEST(MetricsByHand, DeepCamMeanOverClassesPerSampleThenOverSamples) {
  // Sample A (2x3): class 2 appears in neither truth nor prediction.
  //   truth 0 0 1 / 0 1 1, prediction 0 1 1 / 0 0 1
  //   class 0: TP 2, FP 1 (1,1), FN 1 (0,1) -> 2/4; class 1: TP 2, FP 1 (0,1), FN 1 (1,1) -> 2/4;
  //   class 2: absent -> 1.  Sample mean (0.5 + 0.5 + 1) / 3 = 2/3.
  const int32_t truth_a[] = {0, 0, 1, 0, 1, 1}, pred_a[] = {0, 1, 1, 0, 0, 1};
  // Sample B (2x3): truth 2 2 0 / 0 0 0, prediction 2 0 0 / 0 0 1
  //   class 0: TP 3, FP 1 (0,1), FN 1 (1,2) -> 3/5; class 1: TP 0, FP 1 -> 0; class 2: TP 1, FN 1 -> 1/2.
  //   Sample mean (0.6 + 0 + 0.5) / 3 = 1.1/3.
  const int32_t truth_b[] = {2, 2, 0, 0, 0, 0}, pred_b[] = {2, 0, 0, 0, 0, 1};
  const double expected = (2.0 / 3.0 + 1.1 / 3.0) / 2.0;  // 0.51667

  ConfusionMatrix cm(3);
  cm.add(pred_a, truth_a, 2, 3, {});
  cm.add(pred_b, truth_b, 2, 3, {});
  EXPECT_EQ(cm.samples(), 2);
  EXPECT_NEAR(cm.deepcam_iou(), expected, 1e-15);
  // Not the pooled scores: over both samples class 0 is 5/9, class 1 2/5, class 2 1/2, mean 0.4852.
  EXPECT_NEAR(cm.iou(0), 5.0 / 9.0, 1e-15);
  EXPECT_NEAR(cm.iou(1), 2.0 / 5.0, 1e-15);
  EXPECT_NEAR(cm.iou(2), 1.0 / 2.0, 1e-15);
  EXPECT_NEAR(cm.mean_iou(), (5.0 / 9.0 + 0.4 + 0.5) / 3.0, 1e-15);
  // Nor the rule that skips absent classes (sample A 0.5): that would give (0.5 + 1.1/3) / 2 = 0.4333.
  EXPECT_GT(std::abs(cm.deepcam_iou() - (0.5 + 1.1 / 3.0) / 2.0), 0.05);

  // Per-rank matrices merged (as evaluate's reduction does) give the same.
  ConfusionMatrix a(3), b(3);
  a.add(pred_a, truth_a, 2, 3, {});
  b.add(pred_b, truth_b, 2, 3, {});
  EXPECT_NEAR(a.deepcam_iou(), 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(b.deepcam_iou(), 1.1 / 3.0, 1e-15);
  a.merge(b);
  EXPECT_EQ(a.samples(), 2);
  EXPECT_NEAR(a.deepcam_iou(), expected, 1e-15);
  EXPECT_EQ(a.to_json({"bg", "tc", "ar"}), cm.to_json({"bg", "tc", "ar"}));
}

TEST(MetricsByHand, AreaWeightedPrecisionRecallF1OnACosLatGrid) {
  // A cell-centred 4x3 global grid: latitudes -67.5, -22.5, 22.5, 67.5, so row weights
  // cos(latitude) are a, b, b, a with a = cos 67.5 deg, b = cos 22.5 deg, a / b = tan 22.5 = sqrt2 - 1.
  const geo::Grid grid = geo::Grid::centred(4, 3);
  const std::vector<double> w = grid.row_cos_lat();
  const double a = 0.38268343236508984, b = 0.9238795325112866;  // numpy cos(radians(67.5)), (22.5)
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NEAR(w[0], a, 1e-15);
  EXPECT_NEAR(w[1], b, 1e-15);
  EXPECT_NEAR(w[2], b, 1e-15);
  EXPECT_NEAR(w[3], a, 1e-15);
  // truth        prediction
  //  0 0 1        0 1 1      row weight a
  //  1 1 0        1 0 0      b
  //  2 2 0        2 0 0      b
  //  0 0 0        0 0 2      a
  const int32_t truth[] = {0, 0, 1, 1, 1, 0, 2, 2, 0, 0, 0, 0};
  const int32_t pred[] = {0, 1, 1, 1, 0, 0, 2, 0, 0, 0, 0, 2};
  ConfusionMatrix cm(3);
  cm.add(pred, truth, 4, 3, w);
  const double s2 = std::sqrt(2.0);
  // Class 1: TP (0,2) a + (1,0) b; FP (0,1) a; FN (1,1) b.
  //   precision (a+b)/(2a+b), recall (a+b)/(a+2b), F1 = 2(a+b)/(3a+3b) = 2/3, IoU (a+b)/(2a+2b) = 1/2.
  EXPECT_NEAR(cm.precision(1, true), (a + b) / (2 * a + b), 1e-15);  // 0.77346
  EXPECT_NEAR(cm.recall(1, true), (a + b) / (a + 2 * b), 1e-15);     // 0.58579
  EXPECT_NEAR(cm.f1(1, true), 2.0 / 3.0, 1e-15);
  EXPECT_NEAR(cm.iou(1, true), 0.5, 1e-15);
  // Class 2: TP (2,0) b; FP (3,2) a; FN (2,1) b.
  //   precision b/(a+b) = 1/sqrt2, recall 1/2, F1 = 2 - sqrt2, IoU b/(a+2b) = sqrt2 - 1.
  EXPECT_NEAR(cm.precision(2, true), 1 / s2, 1e-15);
  EXPECT_NEAR(cm.recall(2, true), 0.5, 1e-15);
  EXPECT_NEAR(cm.f1(2, true), 2 - s2, 1e-15);
  EXPECT_NEAR(cm.iou(2, true), s2 - 1, 1e-15);
  // Class 0: TP (0,0) a, (1,2) b, (2,2) b, (3,0) a, (3,1) a = 3a+2b; FP (1,1) b, (2,1) b; FN (0,1) a, (3,2) a.
  EXPECT_NEAR(cm.precision(0, true), (3 * a + 2 * b) / (3 * a + 4 * b), 1e-15);  // 0.61851
  EXPECT_NEAR(cm.recall(0, true), (3 * a + 2 * b) / (5 * a + 2 * b), 1e-15);     // 0.79651
  EXPECT_NEAR(cm.iou(0, true), (3 * a + 2 * b) / (5 * a + 4 * b), 1e-15);        // 0.53411
  // Pixel-weighted, the same matrix gives other numbers: class 2 precision 1/2, class 1 recall 2/3.
  EXPECT_DOUBLE_EQ(cm.precision(2), 0.5);
  EXPECT_DOUBLE_EQ(cm.recall(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cm.count(1, 1, true), a + b);
  // The JSON carries both.
  nlohmann::json j = cm.to_json({"bg", "tc", "ar"});
  EXPECT_NEAR(j["area_weighted"]["precision"]["ar"].get<double>(), 1 / s2, 1e-15);
  EXPECT_NEAR(j["pixels"]["precision"]["ar"].get<double>(), 0.5, 1e-15);
}

TEST(MetricsByHand, AClassNeverPredictedHasNoPrecision) {
  // Truth has class 2, the prediction never says 2: precision 0/0 is NaN (null in JSON), recall 0,
  // IoU 0, F1 NaN; a class in neither is NaN everywhere and left out of mean IoU.
  const int32_t truth[] = {0, 2, 2, 0}, pred[] = {0, 0, 0, 0};
  ConfusionMatrix cm(4);
  cm.add(pred, truth, 1, 4, {});
  EXPECT_TRUE(std::isnan(cm.precision(2)));
  EXPECT_EQ(cm.recall(2), 0.0);
  EXPECT_EQ(cm.iou(2), 0.0);
  EXPECT_TRUE(std::isnan(cm.f1(2)));
  EXPECT_TRUE(std::isnan(cm.iou(1)));
  // Class 0: TP 2, FP 2 -> 1/2; class 2: 0; class 1 and 3 absent: mean (0.5 + 0) / 2.
  EXPECT_DOUBLE_EQ(cm.mean_iou(), 0.25);
  // DeepCAM counts the two absent classes as 1: (0.5 + 1 + 0 + 1) / 4.
  EXPECT_DOUBLE_EQ(cm.deepcam_iou(), 0.625);
  nlohmann::json j = cm.to_json({"c0", "c1", "c2", "c3"});
  EXPECT_TRUE(j["pixels"]["precision"]["c2"].is_null());
  EXPECT_EQ(j["pixels"]["recall"]["c2"].get<double>(), 0.0);
}

// Segmentation scores: a confusion matrix (pixel counts and cell-area weights) reduced over MPI
// ranks, per-class IoU, precision, recall and F1, and DeepCAM's per-sample mean IoU.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/mpi.hpp"

namespace climseg::training {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes = 3);
  int64_t classes() const { return k_; }
  // Adds one sample: predicted and true classes (H, W); labels outside [0, K) are ignored.
  // row_weight (H) weights each row's pixels for the area-weighted matrix (e.g. cell areas);
  // empty means 1. Also accumulates the sample's DeepCAM IoU.
  void add(const int32_t* predicted, const int32_t* truth, int64_t H, int64_t W, const std::vector<double>& row_weight);
  void merge(const ConfusionMatrix& other);
  // Sums over the ranks of comm (every rank ends with the total).
  void allreduce(const Comm& comm);

  // counts(t, p): pixels of true class t predicted as p.
  double count(int64_t t, int64_t p, bool area_weighted = false) const;
  double iou(int64_t c, bool area_weighted = false) const;  // TP / (TP + FP + FN); NaN when class absent
  double precision(int64_t c, bool area_weighted = false) const;
  double recall(int64_t c, bool area_weighted = false) const;
  double f1(int64_t c, bool area_weighted = false) const;
  // Mean IoU over classes [first, K) that occur (in truth or prediction).
  double mean_iou(int64_t first = 0, bool area_weighted = false) const;
  // DeepCAM's metric: per sample, the mean over classes of IoU (a class absent from both truth and
  // prediction counts as 1); averaged over samples.
  double deepcam_iou() const;
  int64_t samples() const { return samples_; }

  // {"classes": [...], "pixels": {"confusion": [[...]], "iou": {...}, ...}, "area_weighted": {...},
  //  "deepcam_mean_iou": x, "samples": n}
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;

 private:
  int64_t k_;
  std::vector<double> counts_, area_;  // (K, K) row-major: truth, prediction
  double deepcam_sum_ = 0;
  int64_t samples_ = 0;
};

}  // namespace climseg::training

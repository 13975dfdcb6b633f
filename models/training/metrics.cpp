// Segmentation scores.
#include "models/training/metrics.hpp"

#include <cmath>
#include <limits>

namespace climseg::training {
using nlohmann::json;

ConfusionMatrix::ConfusionMatrix(int64_t classes)
    : k_(classes), counts_(static_cast<size_t>(classes * classes), 0.0), area_(counts_) {}

void ConfusionMatrix::add(const int32_t* predicted, const int32_t* truth, int64_t H, int64_t W,
                          const std::vector<double>& row_weight) {
  std::vector<double> local(static_cast<size_t>(k_ * k_), 0.0), local_area(local);
  for (int64_t i = 0; i < H; ++i) {
    const double w = row_weight.empty() ? 1.0 : row_weight[static_cast<size_t>(i)];
    for (int64_t j = 0; j < W; ++j) {
      const int32_t t = truth[i * W + j], p = predicted[i * W + j];
      if (t < 0 || t >= k_ || p < 0 || p >= k_) continue;
      const size_t cell = static_cast<size_t>(t * k_ + p);
      local[cell] += 1;
      local_area[cell] += w;
    }
  }
  double sum = 0;
  for (int64_t c = 0; c < k_; ++c) {
    double tp = local[static_cast<size_t>(c * k_ + c)], fp = 0, fn = 0;
    for (int64_t o = 0; o < k_; ++o)
      if (o != c) {
        fp += local[static_cast<size_t>(o * k_ + c)];
        fn += local[static_cast<size_t>(c * k_ + o)];
      }
    sum += tp + fp + fn > 0 ? tp / (tp + fp + fn) : 1.0;
  }
  deepcam_sum_ += sum / double(k_);
  ++samples_;
  for (size_t i = 0; i < local.size(); ++i) {
    counts_[i] += local[i];
    area_[i] += local_area[i];
  }
}

void ConfusionMatrix::merge(const ConfusionMatrix& o) {
  for (size_t i = 0; i < counts_.size(); ++i) {
    counts_[i] += o.counts_[i];
    area_[i] += o.area_[i];
  }
  deepcam_sum_ += o.deepcam_sum_;
  samples_ += o.samples_;
}

void ConfusionMatrix::allreduce(const Comm& comm) {
  std::vector<double> buf = counts_;
  buf.insert(buf.end(), area_.begin(), area_.end());
  buf.push_back(deepcam_sum_);
  buf.push_back(double(samples_));
  comm.allreduce_sum(buf.data(), static_cast<int64_t>(buf.size()));
  const size_t n = counts_.size();
  std::copy(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n), counts_.begin());
  std::copy(buf.begin() + static_cast<std::ptrdiff_t>(n), buf.begin() + static_cast<std::ptrdiff_t>(2 * n),
            area_.begin());
  deepcam_sum_ = buf[2 * n];
  samples_ = static_cast<int64_t>(std::llround(buf[2 * n + 1]));
}

double ConfusionMatrix::count(int64_t t, int64_t p, bool area_weighted) const {
  return (area_weighted ? area_ : counts_)[static_cast<size_t>(t * k_ + p)];
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double ConfusionMatrix::iou(int64_t c, bool aw) const {
  double tp = count(c, c, aw), fp = 0, fn = 0;
  for (int64_t o = 0; o < k_; ++o)
    if (o != c) {
      fp += count(o, c, aw);
      fn += count(c, o, aw);
    }
  return tp + fp + fn > 0 ? tp / (tp + fp + fn) : kNaN;
}

double ConfusionMatrix::precision(int64_t c, bool aw) const {
  double tp = count(c, c, aw), all = 0;
  for (int64_t o = 0; o < k_; ++o) all += count(o, c, aw);
  return all > 0 ? tp / all : kNaN;
}

double ConfusionMatrix::recall(int64_t c, bool aw) const {
  double tp = count(c, c, aw), all = 0;
  for (int64_t o = 0; o < k_; ++o) all += count(c, o, aw);
  return all > 0 ? tp / all : kNaN;
}

double ConfusionMatrix::f1(int64_t c, bool aw) const {
  double p = precision(c, aw), r = recall(c, aw);
  if (std::isnan(p) || std::isnan(r)) return kNaN;
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double ConfusionMatrix::mean_iou(int64_t first, bool aw) const {
  double sum = 0;
  int n = 0;
  for (int64_t c = first; c < k_; ++c) {
    double v = iou(c, aw);
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  return n > 0 ? sum / n : kNaN;
}

double ConfusionMatrix::deepcam_iou() const { return samples_ > 0 ? deepcam_sum_ / double(samples_) : kNaN; }

json ConfusionMatrix::to_json(const std::vector<std::string>& names) const {
  auto num = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
  auto block = [&](bool aw) {
    json conf = json::array();
    for (int64_t t = 0; t < k_; ++t) {
      json row = json::array();
      for (int64_t p = 0; p < k_; ++p) row.push_back(count(t, p, aw));
      conf.push_back(row);
    }
    json iou_j = json::object(), prec = json::object(), rec = json::object(), f1_j = json::object();
    for (int64_t c = 0; c < k_; ++c) {
      const std::string& n = names[static_cast<size_t>(c)];
      iou_j[n] = num(iou(c, aw));
      prec[n] = num(precision(c, aw));
      rec[n] = num(recall(c, aw));
      f1_j[n] = num(f1(c, aw));
    }
    return json{{"confusion", conf},
                {"iou", iou_j},
                {"precision", prec},
                {"recall", rec},
                {"f1", f1_j},
                {"mean_iou", num(mean_iou(0, aw))},
                {"event_mean_iou", num(mean_iou(1, aw))}};
  };
  return json{{"classes", names},
              {"pixels", block(false)},
              {"area_weighted", block(true)},
              {"deepcam_mean_iou", num(deepcam_iou())},
              {"samples", samples_}};
}

}  // namespace climseg::training

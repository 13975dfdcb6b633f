// A small CGNet (M=2, N=2) training graph and a deterministic global batch, shared by the parallel
// tests: every rank can build the whole batch or its share of it from the same numbers.
#pragma once

#include <memory>
#include <vector>

#include "models/nets/cgnet.hpp"
#include "nn/layers.hpp"
#include "nn/ops.hpp"

namespace climseg::test {

inline nets::NetConfig tiny_cgnet_config() {
  nets::NetConfig cfg;
  cfg.params["M"] = 2;
  cfg.params["N"] = 2;
  return cfg;
}

// One model and its training graph for `batch` samples of 4 x H x W (3 classes, unweighted
// cross-entropy: the mean over the batch's pixels). frozen_bn: every BatchNorm uses its running
// statistics (eval-mode BatchNorm inside a training graph: no coupling between samples).
struct TinyModel {
  TinyModel(int64_t batch, int64_t h, int64_t w, uint64_t seed = 11, nets::NetConfig cfg = tiny_cgnet_config(),
            bool frozen_bn = false)
      : batch(batch), h(h), w(w) {
    net = std::make_unique<nets::CGNet>(cfg);
    if (frozen_bn)
      net->visit_modules([](const std::string&, nn::Module& m) {
        if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m)) bn->freeze();
      });
    params = std::make_unique<nn::Parameters>(*net, seed);
    if (frozen_bn)  // running statistics away from the initial 0 and 1, the same on every rank
      net->visit_modules([](const std::string&, nn::Module& m) {
        if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m))
          for (int64_t c = 0; c < bn->running_mean().numel; ++c) {
            bn->running_mean().data[c] = 0.1f * float(c % 5) - 0.2f;
            bn->running_var().data[c] = 0.5f + 0.25f * float(c % 7);
          }
      });
    graph = std::make_unique<nn::Graph>(params.get(), nn::Graph::Mode::train);
    x = graph->input("x", {batch, 4, h, w});
    y = graph->input_labels("y", {batch, h, w});
    loss = nn::cross_entropy(net->forward(x), y);
    graph->compile({loss}, loss);
  }

  // Samples [first, first + batch) of the global batch of step `step`: values depend only on
  // (step, sample, element), so any split of the batch over ranks sees the same numbers.
  void fill(int64_t step, int64_t first) {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < batch; ++i) ids.push_back(first + i);
    fill_samples(step, ids);
  }
  // The given samples of step `step`'s global batch, in this order.
  void fill_samples(int64_t step, const std::vector<int64_t>& ids) {
    float* xp = graph->tensor(x).data();
    int32_t* yp = graph->labels(y);
    const int64_t per_x = 4 * h * w, per_y = h * w;
    for (int64_t i = 0; i < batch; ++i) {
      const auto stream = static_cast<uint64_t>(step * 1000 + ids[static_cast<size_t>(i)]);
      for (int64_t e = 0; e < per_x; ++e) xp[i * per_x + e] = nn::random_normal(77, stream, static_cast<uint64_t>(e));
      for (int64_t e = 0; e < per_y; ++e)
        yp[i * per_y + e] = static_cast<int32_t>(nn::random_uniform(78, stream, static_cast<uint64_t>(e)) * 3.0f) % 3;
    }
  }

  int64_t batch, h, w;
  std::unique_ptr<nets::CGNet> net;
  std::unique_ptr<nn::Parameters> params;
  std::unique_ptr<nn::Graph> graph;
  nn::Value x, y, loss;
};

}  // namespace climseg::test

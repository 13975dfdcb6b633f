// Optimizers against torch.optim on recorded gradients (tests/data/nn/optim.h5), LAMB and the
// learning-rate schedules against hand-worked values, and gradient clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/h5.hpp"
#include "nn/optim.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {

struct Bag : Module {
  explicit Bag(const std::vector<Shape>& shapes) {
    for (size_t i = 0; i < shapes.size(); ++i) register_parameter("p" + std::to_string(i), shapes[i], Init::zeros());
  }
};

TEST(Optimizers, MatchTorchOptimStepByStep) {
  h5::File f = h5::File::open(test::nn_data("optim.h5"));
  for (const std::string& name : f.members()) {
    SCOPED_TRACE(name);
    h5::Group c = f.open_group(name);
    auto spec = nlohmann::json::parse(c.attr_string("spec"));
    std::vector<Shape> shapes;
    for (auto& s : spec["shapes"]) shapes.push_back(s.get<Shape>());
    Bag bag(shapes);
    Parameters params(bag);
    std::unique_ptr<Optimizer> opt;
    const std::string type = spec["type"];
    if (type == "sgd")
      opt = std::make_unique<Sgd>(params, SgdOptions{spec["momentum"], 0.0, spec["weight_decay"], spec["nesterov"]});
    else
      opt = std::make_unique<Adam>(params, AdamOptions{spec["beta1"], spec["beta2"], spec["eps"], spec["weight_decay"]},
                                   type == "adamw");
    auto at = [&](int i) -> Param& { return params.at("p" + std::to_string(i)); };
    for (size_t i = 0; i < shapes.size(); ++i) c.read_into("p0_" + std::to_string(i), at(int(i)).data, shapes[i]);
    const int steps = spec["steps"];
    for (int s = 1; s <= steps; ++s) {
      for (size_t i = 0; i < shapes.size(); ++i)
        c.read_into("g" + std::to_string(s) + "_" + std::to_string(i), at(int(i)).grad, shapes[i]);
      opt->step(spec["lr"]);
      for (size_t i = 0; i < shapes.size(); ++i) {
        Tensor want = c.read_tensor("p" + std::to_string(s) + "_" + std::to_string(i));
        EXPECT_LE(test::rel_max_error(at(int(i)).tensor(), want), 2e-6) << "step " << s << " p" << i;
      }
    }
    EXPECT_EQ(opt->steps(), steps);
  }
}

TEST(Optimizers, LambFollowsItsDefinition) {
  Bag bag({{3}, {2, 2}});
  Parameters params(bag);
  LambOptions o{0.9, 0.99, 1e-6, 0.1};
  Lamb opt(params, o);
  Param& a = params.at("p0");
  Param& b = params.at("p1");
  std::vector<double> pa = {0.5, -1.0, 2.0}, pb = {0.1, 0.2, -0.3, 0.4};
  std::copy(pa.begin(), pa.end(), a.data);
  std::copy(pb.begin(), pb.end(), b.data);
  std::vector<double> ma(3), va(3), mb(4), vb(4);
  for (int t = 1; t <= 3; ++t) {
    std::vector<double> ga = {0.3 * t, -0.2, 0.05}, gb = {-0.1, 0.4 / t, 0.2, -0.3};
    std::copy(ga.begin(), ga.end(), a.grad);
    std::copy(gb.begin(), gb.end(), b.grad);
    opt.step(0.01);
    // the definition, in double, per tensor
    auto update = [&](std::vector<double>& p, std::vector<double>& m, std::vector<double>& v,
                      const std::vector<double>& g) {
      std::vector<double> u(p.size());
      double pn = 0, un = 0;
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
        double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.99, t));
        u[i] = mh / (std::sqrt(vh) + 1e-6) + 0.1 * p[i];
        pn += p[i] * p[i];
        un += u[i] * u[i];
      }
      double trust = std::sqrt(pn) / std::sqrt(un);
      for (size_t i = 0; i < p.size(); ++i) p[i] -= 0.01 * trust * u[i];
    };
    update(pa, ma, va, ga);
    update(pb, mb, vb, gb);
    for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(a.data[i], pa[i], 1e-6) << t;
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(b.data[i], pb[i], 1e-6) << t;
  }
}

TEST(Optimizers, ParametersWithoutDecayAreNotDecayed) {
  struct M : Module {
    M() {
      register_parameter("w", {4}, Init::ones(), true);
      register_parameter("bias", {4}, Init::ones(), false);
    }
  } m;
  Parameters params(m);
  params.zero_grad();
  Sgd opt(params, {0, 0, 0.5, false});
  opt.step(0.1);
  EXPECT_FLOAT_EQ(params.at("w").data[0], 1.0f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(params.at("bias").data[0], 1.0f);
  auto adamw = make_adamw(params, {0.9, 0.999, 1e-8, 0.5});
  adamw->step(0.1);
  EXPECT_FLOAT_EQ(params.at("w").data[0], 0.95f * 0.95f);
  EXPECT_FLOAT_EQ(params.at("bias").data[0], 1.0f);
}

TEST(Optimizers, ClipByGlobalNorm) {
  Bag bag({{2}, {3}});
  Parameters params(bag);
  float* g0 = params.at("p0").grad;
  float* g1 = params.at("p1").grad;
  g0[0] = 3, g0[1] = 0, g1[0] = 0, g1[1] = 4, g1[2] = 12;  // norm 13
  EXPECT_NEAR(grad_norm(params), 13.0, 1e-9);
  EXPECT_NEAR(clip_grad_norm(params, 26.0), 13.0, 1e-9);  // below the limit: unchanged
  EXPECT_EQ(g1[2], 12.0f);
  EXPECT_NEAR(clip_grad_norm(params, 1.3), 13.0, 1e-9);
  EXPECT_NEAR(g1[2], 12.0 * 1.3 / (13.0 + 1e-6), 1e-6);
  EXPECT_NEAR(grad_norm(params), 1.3, 1e-6);
}

TEST(Schedules, HandWorkedValues) {
  LrSchedule s;
  s.base_lr = 0.1;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(s.lr(0), 0.025);
  EXPECT_DOUBLE_EQ(s.lr(3), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(100), 0.1);
  s.kind = LrSchedule::Kind::step;
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr(9), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(25), 0.025);
  s.kind = LrSchedule::Kind::multistep;
  s.milestones = {6, 8};
  EXPECT_DOUBLE_EQ(s.lr(5), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(6), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(8), 0.025);
  s.kind = LrSchedule::Kind::cosine;
  s.total_steps = 14;
  s.min_lr = 0.01;
  EXPECT_DOUBLE_EQ(s.lr(4), 0.1);
  EXPECT_NEAR(s.lr(9), 0.055, 1e-12);  // halfway: (0.1 + 0.01) / 2
  EXPECT_DOUBLE_EQ(s.lr(14), 0.01);
  EXPECT_EQ(LrSchedule::parse_kind("cosine"), LrSchedule::Kind::cosine);
  EXPECT_THROW(LrSchedule::parse_kind("linear-ish"), UsageError);
}

}  // namespace
}  // namespace climseg::nn

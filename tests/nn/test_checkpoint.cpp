// Checkpoints: an exact round trip of weights, buffers, optimizer state and run info (so a resumed
// run continues bit for bit), atomic writes, load errors that name the tensor, HDF5 helpers, and
// ClimateNet's published CGNet weights read by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <fstream>

#include "core/atomic_file.hpp"
#include "core/checksum.hpp"
#include "core/error.hpp"
#include "core/h5.hpp"
#include "nn/checkpoint.hpp"
#include "nn/layers.hpp"
#include "nn_test_util.hpp"

namespace climseg::nn {
namespace {
namespace fs = std::filesystem;

struct Tiny : Module {
  Tiny() {
    register_module("conv", conv);
    register_module("bn", bn);
    register_module("fc", fc);
  }
  Value forward(Value x) { return sigmoid(bn(conv(x))); }
  Conv2d conv{2, 3, 3, Conv2dOptions().pad(Padding::circular(1))};
  BatchNorm2d bn{3};
  Linear fc{3, 2};  // not used by forward: its gradient is zero, its state still saved
};

// One training step on fixed data; returns the loss.
float train_step(Graph& g, Value x, Value loss, Optimizer& opt, int step) {
  Tensor xt = g.tensor(x);
  for (int64_t i = 0; i < xt.numel(); ++i) xt[i] = std::sin(0.1f * float(i + 7 * step));
  g.forward();
  g.backward();
  opt.step(0.01);
  return g.scalar(loss);
}

TEST(Checkpoint, RoundTripResumesBitForBit) {
  test::TempDir tmp;
  Tiny a;
  Parameters pa(a, 5);
  Graph ga(&pa);
  Value xa = ga.input("x", {2, 2, 5, 6});
  Value la = global_avg_pool(reshape(a.forward(xa), {1, 1, 2 * 3, 30}));
  ga.compile({la}, reshape(la, {1}));
  Adam oa(pa, {});
  for (int s = 0; s < 3; ++s) train_step(ga, xa, la, oa, s);
  CheckpointInfo info;
  info.step = 3;
  info.config = R"({"model": "tiny"})";
  info.loader = R"({"epoch": 0, "index": 6})";
  info.rng = R"({"seed": 5})";
  info.attributes["architecture"] = "tiny";
  info.attributes["classes"] = R"(["Background", "Storm"])";
  fs::path path = tmp / "ckpt.h5";
  save_checkpoint(path, pa, &oa, info);
  for (auto& e : fs::directory_iterator(tmp.path())) EXPECT_EQ(e.path().filename(), "ckpt.h5") << "temp file left";

  Tiny b;
  Parameters pb(b, 77);  // different initial values, all overwritten by the load
  Adam ob(pb, {});
  CheckpointInfo got = load_checkpoint(path, pb, &ob);
  EXPECT_EQ(got.step, 3);
  EXPECT_EQ(got.config, info.config);
  EXPECT_EQ(got.loader, info.loader);
  EXPECT_EQ(got.rng, info.rng);
  EXPECT_EQ(got.attributes, info.attributes);  // so a weights-only copy (climseg export) keeps them
  EXPECT_EQ(ob.steps(), 3);
  EXPECT_EQ(std::memcmp(pa.data(), pb.data(), size_t(pa.size()) * 4), 0);
  EXPECT_EQ(std::memcmp(pa.buffer_data(), pb.buffer_data(), size_t(pa.buffer_size()) * 4), 0);
  EXPECT_EQ(h5::File::open(path).attr_string("architecture"), "tiny");

  Graph gb(&pb);
  Value xb = gb.input("x", {2, 2, 5, 6});
  Value lb = global_avg_pool(reshape(b.forward(xb), {1, 1, 2 * 3, 30}));
  gb.compile({lb}, reshape(lb, {1}));
  for (int s = 3; s < 5; ++s) {
    float l1 = train_step(ga, xa, la, oa, s), l2 = train_step(gb, xb, lb, ob, s);
    EXPECT_EQ(l1, l2) << s;
  }
  EXPECT_EQ(std::memcmp(pa.data(), pb.data(), size_t(pa.size()) * 4), 0);

  // Saving again replaces the file atomically.
  info.step = 5;
  save_checkpoint(path, pa, &oa, info);
  EXPECT_EQ(load_checkpoint(path, pb).step, 5);
  // The optimizer must be of the same kind.
  Sgd sgd(pb, {0.9, 0, 0, false});
  EXPECT_THROW(load_checkpoint(path, pb, &sgd), Error);
}

// Checkpoints are sealed (core/checksum.hpp): damage is refused before HDF5 reads the file; a file
// without a seal (another tool's, an older climseg's) is read through the crash-isolating probe.
TEST(Checkpoint, SealedFilesRefuseDamageAndUnsealedOnesStillLoad) {
  test::TempDir tmp;
  Tiny a;
  Parameters pa(a, 5);
  Adam oa(pa, {});
  const fs::path path = tmp / "sealed.h5";
  save_checkpoint(path, pa, &oa, {});
  EXPECT_EQ(check_seal(path), SealState::intact);
  const std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 2000u);
  auto load_error = [&](const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    Tiny b;
    Parameters pb(b, 6);
    try {
      load_checkpoint(path, pb);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x01;  // one bit, somewhere in the tensors or the metadata
  EXPECT_NE(load_error(flipped).find(path.string() + ": damaged: CRC-32C"), std::string::npos) << load_error(flipped);
  EXPECT_NE(load_error(bytes.substr(0, bytes.size() - 100)).find(path.string() + ": truncated or damaged"),
            std::string::npos);

  // The seal blanked: HDF5 still finds the file after the 512-byte user block, and the probe lets
  // it through, so the values load exactly.
  std::string unsealed = bytes;
  std::fill(unsealed.begin(), unsealed.begin() + static_cast<std::ptrdiff_t>(kSealBytes), '\0');
  EXPECT_EQ(load_error(unsealed), "loaded");
  EXPECT_EQ(check_seal(path), SealState::absent);
  Tiny c;
  Parameters pc(c, 7);
  Adam oc(pc, {});
  load_checkpoint(path, pc, &oc);
  EXPECT_EQ(std::memcmp(pa.data(), pc.data(), size_t(pa.size()) * 4), 0);

  // Unsealed and broken inside: a clean error naming the file, whatever the library does.
  std::string broken = unsealed;
  for (size_t i = kSealBytes + 600; i < broken.size(); i += 97) broken[i] = static_cast<char>(0xA5);
  const std::string e = load_error(broken);
  EXPECT_NE(e, "loaded");
  EXPECT_EQ(e.rfind(path.string() + ":", 0), 0u) << e;
}

TEST(Checkpoint, LoadErrorsNameTheTensor) {
  test::TempDir tmp;
  Tiny a;
  Parameters pa(a);
  fs::path path = tmp / "w.h5";
  save_checkpoint(path, pa, nullptr, {});
  StateDict sd = read_state_dict(path);
  EXPECT_EQ(sd.size(), pa.state().size());
  EXPECT_EQ(sd.at("conv.weight").shape(), (Shape{3, 2, 3, 3}));

  StateDict missing = sd;
  missing.erase("bn.running_var");
  missing.emplace("bn.num_batches_tracked", Tensor(Shape{1}));
  StateDict wrong = sd;
  wrong["fc.weight"] = Tensor(Shape{2, 4});
  try {
    load_state_dict(pa, missing, true, "x.h5");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("x.h5: "), std::string::npos) << m;
    EXPECT_NE(m.find("missing bn.running_var"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected bn.num_batches_tracked"), std::string::npos) << m;
  }
  try {
    load_state_dict(pa, wrong);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight: file [2, 4] vs model [2, 3]"), std::string::npos) << e.what();
  }
  LoadReport r = load_state_dict(pa, missing, false, "", {"bn.num_batches_tracked"});
  EXPECT_EQ(r.missing, std::vector<std::string>{"bn.running_var"});
  EXPECT_TRUE(r.unexpected.empty());

  std::ofstream(tmp / "junk.h5") << "not hdf5";
  EXPECT_THROW(read_state_dict(tmp / "junk.h5"), Error);
  EXPECT_THROW(read_state_dict(tmp / "absent.h5"), Error);
  EXPECT_THROW(load_checkpoint(tmp / "junk.h5", pa), Error);
}

TEST(H5, AttributesDatasetsAndErrors) {
  test::TempDir tmp;
  fs::path p = tmp / "a.h5";
  {
    h5::File f = h5::File::create(p);
    f.set_attr("s", std::string("hello"));
    f.set_attr("i", int64_t(-42));
    f.set_attr("d", 2.5);
    h5::Group g = f.create_group("g");
    std::vector<int64_t> iv = {1, 2, 3};
    g.write("ints", iv.data(), {3});
    Tensor t({2, 3});
    for (int64_t i = 0; i < 6; ++i) t[i] = float(i) * 0.5f;
    g.write("t", t);
    EXPECT_THROW(g.write("t", t), Error);
    f.close();
  }
  h5::File f = h5::File::open(p);
  EXPECT_EQ(f.attr_string("s"), "hello");
  EXPECT_EQ(f.attr_int64("i"), -42);
  EXPECT_EQ(f.attr_double("d"), 2.5);
  EXPECT_THROW(f.attr_string("nope"), Error);
  h5::Group g = f.open_group("g");
  EXPECT_EQ(g.members(), (std::vector<std::string>{"ints", "t"}));
  EXPECT_EQ(g.read_int64s("ints"), (std::vector<int64_t>{1, 2, 3}));
  Tensor t = g.read_tensor("t");
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t[5], 2.5f);
  float buf[6];
  EXPECT_THROW(g.read_into("t", buf, {3, 2}), Error);
  try {
    g.read_tensor("missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.h5:/g/missing: no such dataset"), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.open_group("nope"), Error);
}

// ClimateNet's pretrained CGNet, converted from weights.pth: values read with h5dump.
TEST(Checkpoint, ClimateNetStateDictLoadsByName) {
  CLIMSEG_REQUIRE_SHARED_DATA();
  fs::path file = test::shared_data() / "climatenet" / "cgnet_climatenet.h5";
  StateDict sd = read_state_dict(file);
  EXPECT_EQ(sd.size(), 444u);
  EXPECT_EQ(sd.at("level1_0.conv.weight").shape(), (Shape{32, 4, 3, 3}));
  EXPECT_EQ(sd.at("level2_0.F_sur.conv.weight").shape(), (Shape{64, 1, 3, 3}));
  EXPECT_EQ(sd.at("level3.19.F_glo.fc.0.weight").shape(), (Shape{8, 128}));
  EXPECT_EQ(sd.at("classifier.0.conv.weight").shape(), (Shape{3, 256, 1, 1}));
  // h5dump prints 6 significant digits
  EXPECT_NEAR(sd.at("level1_0.conv.weight")[0], -0.259929, 1e-6);
  EXPECT_NEAR(sd.at("level1_0.conv.weight")[2], -0.109321, 1e-6);
  EXPECT_NEAR(sd.at("level3.19.F_glo.fc.2.bias")[1], 0.0522477, 1e-7);
  EXPECT_NEAR(sd.at("bn_prelu_3.bn.running_var")[255], 2.26732, 1e-5);
  EXPECT_EQ(sd.count("level1_0.bn.num_batches_tracked"), 0u);
  int64_t params = 0;
  for (auto& [k, t] : sd)
    if (k.find("running_") == std::string::npos) params += t.numel();
  EXPECT_EQ(params, 494232);
  EXPECT_EQ(h5::File::open(file).attr_string("architecture"), "cgnet");

  // A model with the same names takes a subset by name; a wrong shape is named.
  struct Stage1 : Module {
    struct Cbp : Module {
      Cbp(int64_t cin, int64_t cout, int64_t s)
          : conv(cin, cout, 3, Conv2dOptions().stride(s).pad(Padding::circular(1)), false), bn(cout, 1e-3), act(cout) {
        register_module("conv", conv);
        register_module("bn", bn);
        register_module("act", act);
      }
      Conv2d conv;
      BatchNorm2d bn;
      PReLU act;
    };
    Stage1() {
      register_module("level1_0", l0);
      register_module("level1_1", l1);
    }
    Cbp l0{4, 32, 2}, l1{32, 32, 1};
  } m;
  Parameters p(m);
  LoadReport r = load_state_dict(p, sd, false);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_TRUE(r.mismatched.empty());
  EXPECT_EQ(r.unexpected.size(), 444u - 12u);  // two Conv-BN-PReLU of 6 tensors each were taken
  EXPECT_NEAR(p.at("level1_0.conv.weight").data[1], -0.0326395, 1e-7);
}

}  // namespace
}  // namespace climseg::nn

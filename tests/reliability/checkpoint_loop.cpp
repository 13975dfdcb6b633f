// Helper of the kill -9 tests: resumes from DIR/last.h5 when it exists (checking it), then saves a
// checkpoint over it again and again, every value (weights and Adam moments) equal to the step,
// printing "saved STEP" after each save. The test kills it with SIGKILL at random moments.
//   reliability_checkpoint_loop DIR [FLOATS]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "nn/checkpoint.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"

namespace {

// One big weight: a few MB, so a save takes long enough to be interrupted in every phase.
class Blob : public climseg::nn::Module {
 public:
  explicit Blob(int64_t n) { register_parameter("w", {n}, climseg::nn::Init::zeros()); }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace climseg;
  if (argc < 2) {
    std::fprintf(stderr, "usage: reliability_checkpoint_loop DIR [FLOATS]\n");
    return 2;
  }
  const std::filesystem::path path = std::filesystem::path(argv[1]) / "last.h5";
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : (int64_t{1} << 19);
  try {
    Blob blob(n);
    nn::Parameters params(blob);
    nn::Adam adam(params, nn::AdamOptions{});
    auto fill = [&](float v) {
      for (int64_t i = 0; i < params.size(); ++i) params.data()[i] = v;
      for (auto& [name, t] : adam.state())
        for (float& x : *t) x = v;
    };
    int64_t step = 0;
    if (std::filesystem::exists(path)) {
      nn::CheckpointInfo info = nn::load_checkpoint(path, params, &adam);
      step = info.step;
      const auto want = static_cast<float>(step);
      for (int64_t i = 0; i < n; ++i)
        if (params.data()[i] != want) fail("{}: weight {} is {}, not {}", path.string(), i, params.data()[i], want);
      for (auto& [name, t] : adam.state())
        for (float x : *t)
          if (x != want) fail("{}: Adam {} holds {}, not {}", path.string(), name, x, want);
      std::printf("resumed %lld\n", static_cast<long long>(step));
      std::fflush(stdout);
    }
    while (true) {
      ++step;
      fill(static_cast<float>(step));
      nn::CheckpointInfo info;
      info.step = step;
      info.config = "{\"test\": true}";
      nn::save_checkpoint(path, params, &adam, info);
      std::printf("saved %lld\n", static_cast<long long>(step));
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reliability_checkpoint_loop: error: %s\n", e.what());
    return 1;
  }
}

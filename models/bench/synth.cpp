// Synthetic-step generation and writing against the memory-bandwidth floor.
#include "models/bench/synth.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>

#include "core/error.hpp"
#include "core/median.hpp"
#include "core/tensor.hpp"
#include "core/threads.hpp"
#include "core/timer.hpp"
#include "models/synth/archive.hpp"
#include "readers/writer.hpp"

namespace climseg::bench {

nlohmann::ordered_json bench_synth(const SynthBenchOptions& o) {
  std::smatch m;
  if (!std::regex_match(o.grid, m, std::regex(R"((\d+)x(\d+))"))) fail_usage("--grid {}: expected HxW", o.grid);
  synth::SynthConfig c;
  c.height = std::stoll(m[1]);
  c.width = std::stoll(m[2]);
  c.steps = 1000;
  synth::validate(c);
  const synth::World world(c);
  synth::StepFields s;
  world.generate(0, s);  // warm up: allocations, page faults
  std::vector<double> gen, cols, fill;
  Tensor q, u, v;
  Tensor sink = Tensor::empty({synth::kChannelCount, c.height, c.width});
  for (int r = 0; r < o.repeat; ++r) {
    Stopwatch sw;
    world.generate(r + 1, s);
    gen.push_back(sw.seconds());
    if (o.levels) {
      sw.reset();
      world.columns_at_pressure(s, {100000, 92500, 85000, 70000, 60000, 50000, 40000, 30000, 25000, 20000}, q, u, v);
      cols.push_back(sw.seconds());
    }
    sw.reset();
    float* d = sink.data();
    const int64_t n = sink.numel();
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; ++k) d[k] = 1.5f * float(k & 7);
    fill.push_back(sw.seconds());
  }
  // Writing one step (16 channels + LABELS), deflated and raw, into a temporary file.
  const std::filesystem::path dir =
      o.tmp.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(o.tmp);
  auto time_write = [&](int level) {
    io::OutputSpec spec;
    spec.grid = world.grid();
    spec.set_time("days since 2000-01-01 00:00:00", "standard");
    spec.deflate_level = level;
    for (const auto& ch : synth::cam5_channels())
      spec.variables.push_back(io::float_field(ch.name, ch.units, ch.long_name));
    spec.variables.push_back(io::mask_field("LABELS", {"Background", "Tropical Cyclone", "Atmospheric River"}));
    spec.provenance.timestamp = false;
    Stopwatch sw;
    io::CfWriter w(dir / "climseg-bench-synth.nc", spec);
    w.append_time(0);
    for (int ch = 0; ch < synth::kChannelCount; ++ch)
      w.write(synth::cam5_channels()[size_t(ch)].name, 0, s.fields.data() + ch * world.grid().size());
    w.write("LABELS", 0, s.labels.data());
    w.close();
    const double t = sw.seconds();
    std::filesystem::remove(dir / "climseg-bench-synth.nc");
    return t;
  };
  const double write1 = time_write(1), write0 = time_write(0);
  nlohmann::ordered_json j;
  j["bench"] = "synth";
  j["grid"] = o.grid;
  j["threads"] = num_threads();
  j["steps_timed"] = o.repeat;
  j["generate_s"] = median(gen);
  if (o.levels) j["columns_s"] = median(cols);
  j["write_deflate1_s"] = write1;
  j["write_raw_s"] = write0;
  j["fill_s"] = median(fill);
  j["generate_vs_fill"] = median(gen) / std::max(median(fill), 1e-9);
  return j;
}

}  // namespace climseg::bench

// `climseg bench archive`: the real predict and label pipelines over a deflated CAM-like archive, per
// step: wall and core seconds, reading / compute / writing, the I/O hidden behind compute
// (models/bench/archive.hpp); with --peer also the xarray + PyTorch loop (scripts/peer/).
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "apps/bench_peer.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/threads.hpp"
#include "models/bench/archive.hpp"

namespace climseg::app {
namespace {

std::string default_model() {
  const char* shared = std::getenv("CLIMSEG_SHARED_DATA");
  const std::filesystem::path root = shared ? shared : std::filesystem::path(CLIMSEG_SOURCE_DIR) / ".." / "shared/data";
  return (root / "climatenet" / "cgnet_climatenet.h5").lexically_normal().string();
}

// scripts/peer/xarray_torch_predict.py over the archive, with glibc's allocator as it is and keeping
// freed memory (bench_peer.hpp): the faster run's JSON with both times, or fail naming the command.
nlohmann::json predict_peer(const bench::ArchiveBench& b, const std::string& python, const std::string& model) {
  const std::string cmd =
      fmt::format("'{}' '{}' --in '{}' --model '{}' --out '{}' --threads {}", python,
                  peer_script("xarray_torch_predict.py"), b.archive(), model, b.scratch("peer"), num_threads());
  std::vector<nlohmann::json> found;
  for (const PeerRun& r : run_peer_both_allocators(cmd)) {
    if (r.status != 0) fail("the xarray + PyTorch peer failed (exit status {}, {}): {}", r.status, r.allocator, cmd);
    try {
      found.push_back(nlohmann::json::parse(r.out.substr(r.out.rfind('{'))));
    } catch (const std::exception&) {
      fail("the xarray + PyTorch peer printed no result: {}", cmd);
    }
  }
  return faster_peer(found[0], found[1], "loop_s_per_step");
}

class BenchArchive : public Command {
 public:
  std::string name() const override { return "archive"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "predict and label over a deflated CAM-like archive: per step wall/core seconds, read/compute/write";
  }
  void setup(CLI::App& app) override {
    app.add_option("--in", o_.in, "An archive to run over (default: write a synth archive first, not timed)");
    app.add_option("--dir", o_.dir, "Where the archive and outputs go (default: a temporary folder, removed)");
    app.add_option("--grid", grid_, "HxW of the written archive")->capture_default_str();
    app.add_option("--files", o_.files, "Files of the written archive")->capture_default_str();
    app.add_option("--steps-per-file", o_.steps_per_file, "Time steps per file")->capture_default_str();
    app.add_option("--deflate", o_.deflate, "Deflate level of the written archive (1-9)")->capture_default_str();
    app.add_option("-m,--model", o_.model, "Weights for predict (default: ClimateNet's, ../shared/data)");
    app.add_option("--jobs", o_.jobs, "Jobs in order: predict, and label detector lists (tc, tc,ar, ...)")
        ->capture_default_str();
    auto* on = app.add_flag("--overlap", overlap_, "Run the pipelines with --overlap (background reading and writing)");
    app.add_flag("--no-overlap", no_overlap_, "Run the pipelines with --no-overlap (serial reading and writing)")
        ->excludes(on);
    app.add_flag("--probabilities", o_.probabilities, "predict also writes the probabilities");
    app.add_flag("--json", json_, "One JSON object per job on stdout (default: one line of text per job)");
    app.add_flag("--peer", peer_, "Also run scripts/peer/xarray_torch_predict.py over the archive (1 rank)");
    app.add_option("--python", python_, "Interpreter with xarray and torch for --peer")->capture_default_str();
    app.footer(
        "Per job: wall and core seconds (getrusage, all ranks) per step; the busy seconds of reading (and\n"
        "decoding), compute and writing, and the part of reading and writing that the pipeline waited for\n"
        "(exposed); setup + exposed reading + compute + exposed writing is the wall time. Two ranks:\n"
        "mpiexec -n 2 climseg --threads 1 bench archive. See docs/benchmarks.md.");
  }

  int run(const GlobalOptions&) override {
    const Comm& comm = Comm::world();
    if (std::sscanf(grid_.c_str(), "%ldx%ld", &o_.height, &o_.width) != 2)
      fail_usage("--grid {}: expected HxW, e.g. 768x1152", grid_);
    if (o_.model.empty()) o_.model = default_model();
    if (peer_ && comm.size() > 1) fail_usage("--peer: run it on one rank (the peer is one process)");
    o_.overlap = overlap_ ? io::Overlap::on : no_overlap_ ? io::Overlap::off : io::Overlap::automatic;
    bench::ArchiveBench b(o_, comm);
    for (const std::string& job : o_.jobs) {
      nlohmann::json j = b.run(job);
      if (peer_ && job == "predict") {
        const nlohmann::json p = predict_peer(b, python_, o_.model);
        j["peer"] = "xarray + numpy + PyTorch " + p.value("torch", std::string("?"));
        for (const char* k : {"", "_default_allocator", "_keep_memory", "_allocator"})
          j[std::string("peer_s_per_step") + k] = p.at(std::string("loop_s_per_step") + k);
        j["speedup_vs_peer"] = p.at("loop_s_per_step").get<double>() / j["steady_s_per_step"].get<double>();
      }
      j["isa"] = isa_name(active_isa());
      if (!comm.is_root()) continue;
      if (json_) {
        std::cout << j.dump() << std::endl;
        continue;
      }
      std::cout << fmt::format(
                       "{:<22} {} steps {} x{}t: wall {:.3f} s/step ({:.3f} steady), {:.3f} core-s/step; read {:.2f} s "
                       "(exposed {:.2f}), compute {:.2f} s, write {:.2f} s (exposed {:.2f}), setup {:.2f} s; I/O "
                       "hidden {:.0f}%",
                       j["job"].get<std::string>(), j["steps"].get<int64_t>(), j["grid"].get<std::string>(),
                       num_threads(), j["wall_s_per_step"].get<double>(), j["steady_s_per_step"].get<double>(),
                       j["core_s_per_step"].get<double>(), j["read_s"].get<double>(), j["read_exposed_s"].get<double>(),
                       j["compute_s"].get<double>(), j["write_s"].get<double>(), j["write_exposed_s"].get<double>(),
                       j["setup_s"].get<double>(), 100 * j["io_hidden_fraction"].get<double>())
                << (j.contains("peer_s_per_step")
                        ? fmt::format("; peer {:.3f} s/step ({:.1f}x)", j["peer_s_per_step"].get<double>(),
                                      j["speedup_vs_peer"].get<double>())
                        : "")
                << std::endl;
    }
    return 0;
  }

 private:
  bench::ArchiveBenchOptions o_;
  std::string grid_ = "768x1152", python_ = "/usr/bin/python3";
  bool overlap_ = false, no_overlap_ = false, json_ = false, peer_ = false;
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchArchive)
}  // namespace climseg::app

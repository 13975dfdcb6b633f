// `climseg bench ops`: the engine's layers against this machine's SGEMM and memory-bandwidth roofs
// measured in the same run, and optionally against PyTorch (JSON lines on stdout).
#include "nn/bench_ops.hpp"

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"

namespace climseg::app {
namespace {

class BenchOpsCommand : public Command {
 public:
  std::string name() const override { return "ops"; }
  std::string parent() const override { return "bench"; }
  std::string summary() const override {
    return "Time the engine's layers (conv, depthwise, BatchNorm, PReLU) against SGEMM, memory bandwidth and PyTorch";
  }
  void setup(CLI::App& app) override {
    app.add_flag("--peer", peer_, "Also run the same shapes through PyTorch (scripts/peer/torch_ops.py)");
    app.add_option("--repeat", repeats_, "Timed runs per op and pass (median reported)")->check(CLI::PositiveNumber);
    app.add_option("--filter", filter_, "Only ops whose name or shape contains this text (comma: any of several)");
    app.add_option("--python", python_, "Interpreter with torch for --peer");
    app.add_flag("--list", list_, "List the cases and exit");
    app.add_flag("--quick", quick_, "Measure the roofs on small arrays (less accurate; for smoke tests)");
    app.footer(
        "One JSON object per line: op, shape, pass (fwd | fwd+bwd), algo, seconds, and gflops with sgemm_gflops and\n"
        "roof_fraction (compute-bound convolutions) or gbytes_per_s with copy_gbs and roof_fraction (memory-bound\n"
        "ops); bound (compute | memory: the roof that binds, by the op's flops per byte against the machine's)\n"
        "and roofline_fraction (the binding roof's time over the measured time); with --peer also peer_seconds\n"
        "and speedup. See docs/benchmarks.md.");
  }

  int run(const GlobalOptions& global) override {
    if (!Comm::world().is_root()) return 0;  // a single-process benchmark
    std::vector<std::string> words;
    for (size_t b = 0; b <= filter_.size();) {
      size_t e = filter_.find(',', b);
      if (e == std::string::npos) e = filter_.size();
      if (e > b) words.push_back(filter_.substr(b, e - b));
      b = e + 1;
    }
    std::vector<nn::OpBenchCase> cases;
    for (const auto& c : nn::default_op_cases()) {
      bool keep = words.empty();
      for (const auto& w : words)
        keep = keep || c.op.find(w) != std::string::npos || c.shape().find(w) != std::string::npos;
      if (keep) cases.push_back(c);
    }
    if (cases.empty()) fail_usage("no op matches --filter '{}'", filter_);
    if (list_) {
      for (const auto& c : cases) std::cout << c.op << "  " << c.shape() << "\n";
      return 0;
    }
    const int threads = num_threads();
    log::info("bench ops: {} thread(s), OpenBLAS core {}", threads, blas_core_name());
    Progress progress("bench ops", static_cast<int64_t>(cases.size()), !global.no_progress);
    for (const auto& c : cases) {
      // Both roofs are measured again right before each case: this shared host's speed drifts by up
      // to 1.45x within minutes, and a roof taken once at the start would misjudge the later rows.
      const double sgemm = nn::sgemm_gflops(quick_ ? 512 : 2048);
      const double copy = nn::copy_bandwidth_gbs(quick_ ? 16 : 256);
      // The peer runs each case right before ours, so both see the same machine state.
      std::map<std::string, double> peer;
      if (peer_)
        for (auto& [k, v] : nn::run_torch_peer({c}, threads, repeats_, python_)) peer[k] = v;
      for (const nn::OpBenchResult& r : nn::bench_op(c, repeats_)) {
        nlohmann::json j = {{"bench", "ops"},
                            {"op", c.op},
                            {"shape", c.shape()},
                            {"pass", r.pass},
                            {"algo", r.algo},
                            {"threads", threads},
                            {"blas_core", blas_core_name()},
                            {"seconds", r.seconds}};
        if (!c.memory_bound()) {
          const double gf = r.flops / r.seconds / 1e9;
          j["gflops"] = gf;
          j["sgemm_gflops"] = sgemm;
          j["roof_fraction"] = gf / sgemm;
        } else {
          const double gb = r.bytes / r.seconds / 1e9;
          j["gbytes_per_s"] = gb;
          j["copy_gbs"] = copy;
          j["roof_fraction"] = gb / copy;
          if (r.flops > 0) j["gflops"] = r.flops / r.seconds / 1e9, j["sgemm_gflops"] = sgemm;
        }
        // The roofline: the op cannot take less than its bytes at the copy bandwidth nor its flops at
        // the SGEMM rate, whichever is longer ("bound" names it). A depthwise 3x3 does 4.5 flops per
        // byte, more than this machine's balance (~3), so it is compute-bound here.
        const double t_mem = r.bytes > 0 ? r.bytes / (copy * 1e9) : 0.0, t_flop = r.flops / (sgemm * 1e9);
        j["bound"] = t_flop >= t_mem ? "compute" : "memory";
        j["roofline_fraction"] = std::max(t_mem, t_flop) / r.seconds;
        if (auto it = peer.find(c.op + "|" + c.shape() + "|" + r.pass); it != peer.end()) {
          j["peer_seconds"] = it->second;
          j["speedup"] = it->second / r.seconds;
        }
        j["isa"] = isa_name(active_isa());
        std::cout << j.dump() << "\n" << std::flush;
      }
      progress.advance();
    }
    progress.finish();
    return 0;
  }

 private:
  bool peer_ = false, list_ = false, quick_ = false;
  int repeats_ = 5;
  std::string filter_, python_ = "/usr/bin/python3";
};

}  // namespace
CLIMSEG_REGISTER_COMMAND(BenchOpsCommand)
}  // namespace climseg::app

// `climseg bench ops`: the engine's layers against this machine's SGEMM and memory-bandwidth roofs
// measured in the same run (nn/bench_ops.hpp), and optionally against PyTorch (JSON lines on stdout).
#include "nn/bench_ops.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/bench_peer.hpp"
#include "apps/command.hpp"
#include "core/error.hpp"
#include "core/isa.hpp"
#include "core/log.hpp"
#include "core/mpi.hpp"
#include "core/progress.hpp"
#include "core/threads.hpp"

namespace climseg::app {
namespace {

// Runs scripts/peer/torch_ops.py (PyTorch, the same shapes, `threads` threads) with `python`, with
// glibc's allocator as it is and keeping memory: by "op|shape|pass", the faster run's median seconds
// with both runs' figures (faster_peer). Error when the interpreter or torch is missing.
std::map<std::string, nlohmann::json> torch_ops_peer(const nn::OpBenchCase& c, int threads, int repeats,
                                                     const std::string& python) {
  namespace fs = std::filesystem;
  const std::string script = peer_script("torch_ops.py");
  if (!fs::exists(script)) fail("{}: the PyTorch peer script is missing", script);
  const fs::path spec = fs::temp_directory_path() / fmt::format("climseg-bench-ops-{}.json", ::getpid());
  {
    std::ofstream f(spec);
    f << nlohmann::json::array({nn::op_case_json(c)}).dump();
    if (!f) fail("{}: cannot write the peer's case list", spec.string());
  }
  const std::string cmd =
      fmt::format("'{}' '{}' '{}' --threads {} --repeats {}", python, script, spec.string(), threads, repeats);
  const std::vector<PeerRun> runs = run_peer_both_allocators(cmd);
  std::error_code ec;
  fs::remove(spec, ec);
  std::map<std::string, nlohmann::json> by_allocator[2];
  for (size_t a = 0; a < runs.size(); ++a) {
    if (runs[a].status == -1) fail("cannot run the PyTorch peer: {}", cmd);
    if (runs[a].status != 0)
      fail("the PyTorch peer failed (exit status {}, allocator {}): {} (is python3-torch installed?)", runs[a].status,
           runs[a].allocator, cmd);
    std::istringstream lines(runs[a].out);
    for (std::string line; std::getline(lines, line);) {
      try {
        auto j = nlohmann::json::parse(line);
        by_allocator[a][j.at("op").get<std::string>() + "|" + j.at("shape").get<std::string>() + "|" +
                        j.at("pass").get<std::string>()] = j;
      } catch (const std::exception&) {
        // not a result line (warnings); ignored
      }
    }
  }
  std::map<std::string, nlohmann::json> out;
  for (const auto& [key, j] : by_allocator[0]) {
    auto other = by_allocator[1].find(key);
    out[key] = faster_peer(j, other == by_allocator[1].end() ? nlohmann::json() : other->second, "seconds");
  }
  return out;
}

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
        "(PyTorch run as it is and with glibc keeping freed memory, the faster: peer_seconds_default_allocator,\n"
        "peer_seconds_keep_memory, peer_seconds_allocator) and speedup against it. See docs/benchmarks.md.");
  }

  int run(const GlobalOptions& global) override {
    if (!Comm::world().is_root()) return 0;  // a single-process benchmark
    const std::vector<nn::OpBenchCase> cases = nn::select_op_cases(filter_);
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
      const auto peer = peer_ ? torch_ops_peer(c, threads, repeats_, python_) : std::map<std::string, nlohmann::json>{};
      for (const nn::OpBenchResult& r : nn::bench_op(c, repeats_)) {
        nlohmann::json j = nn::op_result_json(r, sgemm, copy, threads);
        if (auto it = peer.find(c.op + "|" + c.shape() + "|" + r.pass); it != peer.end()) {
          for (const auto& [k, v] : it->second.items())
            if (k.rfind("seconds", 0) == 0) j["peer_" + k] = v;
          j["speedup"] = it->second["seconds"].get<double>() / r.seconds;
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

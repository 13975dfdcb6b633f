// Shared helpers for tests.
#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace climseg::test {
namespace fs = std::filesystem;

fs::path shared_data() {
  if (const char* env = std::getenv("CLIMSEG_SHARED_DATA"); env && *env) {
    return fs::is_directory(env) ? fs::path(env) : fs::path();
  }
  fs::path p = CLIMSEG_TEST_SHARED_DATA;
  return fs::is_directory(p) ? p : fs::path();
}

fs::path real_file(const std::string& name) {
  fs::path d = shared_data();
  return d.empty() ? fs::path() : d / "real" / name;
}

fs::path test_data() { return CLIMSEG_TEST_DATA; }
fs::path climseg_exe() { return CLIMSEG_TEST_EXE; }
std::string mpiexec(int ranks) { return std::string(CLIMSEG_TEST_MPIEXEC) + " " + std::to_string(ranks); }

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p =
        fs::temp_directory_path() / ("climseg-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

static std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

RunResult run_command(const std::string& command_line) {
  TempDir tmp;
  fs::path out = tmp / "stdout", err = tmp / "stderr";
  std::string cmd = command_line + " >" + out.string() + " 2>" + err.string() + " </dev/null";
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

RunResult run_climseg(const std::string& args) { return run_command(climseg_exe().string() + " " + args); }

std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> head;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::stringstream ss(l);
    std::string c;
    while (std::getline(ss, c, ',')) cells.push_back(c);
    return cells;
  };
  if (std::getline(in, line)) head = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> r;
    for (size_t k = 0; k < head.size() && k < cells.size(); ++k) r[head[k]] = cells[k];
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace climseg::test

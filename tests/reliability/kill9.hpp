// Helpers of the kill -9 tests: start a program with its output in files, SIGKILL it after a delay.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace climseg::test {

// Starts argv[0] with stdout/stderr redirected to files; returns its pid (or -1).
inline pid_t spawn_program(const std::vector<std::string>& argv, const std::filesystem::path& out,
                           const std::filesystem::path& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

struct Ended {
  bool killed = false;  // by our SIGKILL (false: it exited first)
  int exit_code = -1;   // when it exited
};

// Sends SIGKILL after `delay` unless the program has ended; reaps it.
inline Ended kill_after(pid_t pid, std::chrono::microseconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return {false, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return {true, -1};
  return {false, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

inline std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// How many times to loop: $CLIMSEG_KILL9_LOOPS, else `fallback` (a third of it under the sanitizers,
// where every run is several times slower).
inline int kill9_loops(int fallback) {
  const char* env = std::getenv("CLIMSEG_KILL9_LOOPS");
  if (env && *env) return std::max(1, std::atoi(env));
  const char* sanitized = std::getenv("CLIMSEG_SANITIZED");
  return sanitized && *sanitized ? std::max(1, fallback / 3) : fallback;
}

}  // namespace climseg::test

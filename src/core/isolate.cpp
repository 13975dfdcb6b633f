// fork, run, report.
#include "core/isolate.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <fstream>

#include "core/error.hpp"

// Present when built with a sanitizer (and replaced by libFuzzer): what runs before a sanitizer
// report ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace climseg {
namespace {

constexpr int kThrew = 3;           // the child's work threw; its message is on the pipe
constexpr int kSanitizerDied = 86;  // a sanitizer report ended the child

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// The process's virtual size now (/proc/self/statm, pages), or -1.
int64_t virtual_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = -1;
  if (!(in >> pages)) return -1;
  return pages * ::sysconf(_SC_PAGESIZE);
}

[[noreturn]] void child(const std::function<void()>& work, int fd, int64_t memory_bytes, pid_t parent) {
  // Dies with the parent (a job killed by the scheduler must not leave a hung child behind).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(kThrew);
  if (memory_bytes > 0 && !kAsan) {
    if (const int64_t now = virtual_bytes(); now > 0) {
      const auto cap = static_cast<rlim_t>(now + memory_bytes);
      rlimit lim{cap, cap};
      ::setrlimit(RLIMIT_AS, &lim);
    }
  }
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) std::signal(sig, SIG_DFL);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback([] { _exit(kSanitizerDied); });
  if (int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, STDERR_FILENO);
  int code = 0;
  try {
    work();
  } catch (const std::exception& e) {
    write_all(fd, e.what());
    code = kThrew;
  } catch (...) {
    write_all(fd, "unknown exception");
    code = kThrew;
  }
  _exit(code);
}

}  // namespace

IsolatedResult run_isolated(const std::function<void()>& work, double timeout_s, int64_t memory_bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("cannot create a pipe: {}", std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail("cannot fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(work, fds[1], memory_bytes, parent);
  }
  ::close(fds[1]);
  // Read the message (if any) until the child closes its end, within the time limit.
  std::string message;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file: the child exited
    if (message.size() < 65536) message.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  IsolatedResult res;
  if (timed_out) {
    res.ok = false;
    res.message = fmt::format("did not finish within {:.3g} s", timeout_s);
  } else if (WIFSIGNALED(status)) {
    res.ok = false;
    res.message = fmt::format("crashed with signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kThrew) {
    res.ok = false;
    res.message = message.empty() ? "failed" : message;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerDied) {
    res.ok = false;
    res.message = "made a memory error (sanitizer report)";
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    res.ok = false;
    res.message = fmt::format("exited with status {}", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return res;
}

}  // namespace climseg

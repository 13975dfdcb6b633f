// Fatal signals inside NetCDF/HDF5: the note of the faulting thread becomes the error line.
#include "core/crash_note.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>

#include "core/atomic_file.hpp"

namespace climseg {
namespace {

constexpr size_t kNoteMax = 3 * 4096;
struct Note {
  bool active = false;
  size_t head = 0, tail = 0;  // "PATH: damaged: the HDF5 library crashed with " | " while ..."
  std::array<char, kNoteMax> text{};
};
thread_local Note t_note;

constexpr std::array<int, 5> kSignals{SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
std::array<struct sigaction, kSignals.size()> g_previous{};
std::array<char, 64> g_prefix{};
size_t g_prefix_len = 0;

// Appends s to buf[at..] (truncating at the end), returns the new length.
size_t append(char* buf, size_t cap, size_t at, std::string_view s) {
  const size_t n = std::min(s.size(), cap > at ? cap - at : 0);
  std::memcpy(buf + at, s.data(), n);
  return at + n;
}

void write_all(const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(2, p, n);
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

const char* signal_text(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "signal 11 (Segmentation fault)";
    case SIGBUS:
      return "signal 7 (Bus error)";
    case SIGFPE:
      return "signal 8 (Floating point exception)";
    case SIGILL:
      return "signal 4 (Illegal instruction)";
    case SIGABRT:
      return "signal 6 (Aborted)";
    default:
      return "a fatal signal";
  }
}

extern "C" void on_fatal_signal(int sig, siginfo_t* info, void* /*context*/) {
  remove_pending_temporaries();
  const Note& note = t_note;
  if (note.active) {
    write_all("climseg: error: ", 16);
    write_all(g_prefix.data(), g_prefix_len);
    write_all(note.text.data(), note.head);
    const char* s = signal_text(sig);
    write_all(s, std::strlen(s));
    write_all(note.text.data() + note.head, note.tail - note.head);
    ::_exit(1);
  }
  // Not inside a noted library call: the handler before ours, or the default action.
  for (size_t i = 0; i < kSignals.size(); ++i)
    if (kSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  // A signal sent by kill/raise/abort is sent again (delivered when this handler returns); a fault
  // recurs when the faulting instruction runs again, now reaching that handler.
  if (info == nullptr || info->si_code <= 0) ::raise(sig);
}

}  // namespace

LibraryCrashNote::LibraryCrashNote(std::string_view path, std::string_view action) noexcept {
  Note& n = t_note;
  if (n.active) return;
  char* b = n.text.data();
  const size_t cap = n.text.size() - 1;
  size_t at = append(b, cap, 0, path);
  at = append(b, cap, at, ": damaged: the HDF5 library crashed with ");
  n.head = at;
  at = append(b, cap, at, " while ");
  at = append(b, cap, at, action);
  at = append(b, cap, at, "; check the file with ncdump or h5dump, and replace it or leave it out of the inputs");
  b[at++] = '\n';
  n.tail = at;
  n.active = true;
  owner_ = true;
}

LibraryCrashNote::~LibraryCrashNote() {
  if (owner_) t_note.active = false;
}

void install_crash_handlers(std::string_view prefix) {
  g_prefix_len = append(g_prefix.data(), g_prefix.size(), 0, prefix);
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &g_previous[i]);
}

}  // namespace climseg

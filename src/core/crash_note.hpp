// A note of what a thread is doing inside NetCDF/HDF5, readable from a fatal-signal handler: a
// damaged file that crashes the library (docs/reliability.md, "Known library issues") ends in one
// error line naming the file and exit code 1, not a bare "Segmentation fault" among thousands of
// inputs. The CLI installs the handler; libraries and the Python module only write notes.
#pragma once

#include <string_view>

namespace climseg {

// While alive, a fatal signal on this thread (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) under the
// handler below prints
//   climseg: error: PATH: damaged: the HDF5 library crashed with signal 11 (Segmentation fault)
//   while ACTION; check the file with ncdump or h5dump, and replace it or leave it out of the inputs
// (ACTION: "opening it", "reading PSL")
// on one line and exits with 1. Nested notes keep the outer one. Costs one formatting into a
// thread-local buffer; nothing is allocated.
class LibraryCrashNote {
 public:
  LibraryCrashNote(std::string_view path, std::string_view action) noexcept;
  ~LibraryCrashNote();
  LibraryCrashNote(const LibraryCrashNote&) = delete;
  LibraryCrashNote& operator=(const LibraryCrashNote&) = delete;

 private:
  bool owner_ = false;
};

// Installs the fatal-signal handler; `prefix` goes before the note (e.g. "[rank 1/4] "). Call it
// after MPI_Init (Open MPI installs its own handler there). Without a note on the faulting thread the
// handler removes pending temporary outputs (AtomicOutput) and hands the signal on: to the handler
// installed before it (a sanitizer's, Open MPI's) or to the default action (a core dump).
void install_crash_handlers(std::string_view prefix);

}  // namespace climseg

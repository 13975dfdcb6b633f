// Exceptions that carry context (file, variable, rank) up to the CLI, which prints one line and exits.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace climseg {

// A runtime failure: bad input data, an I/O error, a numerical failure. The CLI exits 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The command line or a configuration was wrong. The CLI exits 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <class... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

// A broken invariant of the program (a bug, never bad input): thrown by CLIMSEG_ASSERT.
class InvariantError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] inline void invariant_failed(const char* condition, const char* file, int line) {
  throw InvariantError(fmt::format("internal error: {} is false at {}:{} (please report this)", condition, file, line));
}

}  // namespace climseg

// Checks an invariant of the program (not of the input: bad input is fail()/fail_usage()). Compiled
// in builds that keep assertions (-DCLIMSEG_ASSERTS=ON, which the test builds use, and Debug: both
// leave NDEBUG undefined); in Release builds the condition is not evaluated. Keep it out of inner loops.
#ifndef NDEBUG
#define CLIMSEG_ASSERTS_ENABLED 1
#define CLIMSEG_ASSERT(cond) ((cond) ? static_cast<void>(0) : ::climseg::invariant_failed(#cond, __FILE__, __LINE__))
#else
#define CLIMSEG_ASSERTS_ENABLED 0
#define CLIMSEG_ASSERT(cond) static_cast<void>(sizeof((cond) ? 1 : 0))
#endif

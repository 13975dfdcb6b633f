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

// Checks an invariant of the input (not of the program) and throws Error with the message.
#define CLIMSEG_CHECK(cond, ...)               \
  do {                                         \
    if (!(cond)) ::climseg::fail(__VA_ARGS__); \
  } while (0)

}  // namespace climseg

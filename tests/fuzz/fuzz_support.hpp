// Shared by the fuzz targets: the input bytes as a file (NetCDF and HDF5 open paths), quiet logging,
// and the rule every target enforces: bad bytes may only end in climseg::Error, never in a crash,
// a foreign exception, a hang or a huge allocation.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "core/log.hpp"
#include "readers/limits.hpp"

namespace climseg::fuzz {

// One file per process in $TMPDIR (libFuzzer's -fork and -jobs run several processes), rewritten for
// every input; removed at exit.
class InputFile {
 public:
  explicit InputFile(const std::string& extension) {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") / ("climseg-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = dir_ / ("input" + extension);
  }
  ~InputFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::filesystem::path& write(const uint8_t* data, size_t size) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    f.close();
    if (!f) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::filesystem::path dir_, path_;
};

inline void quiet() {
  static bool done = [] {
    log::set_level(log::Level::error);
    // libFuzzer reports any malloc over -malloc_limit_mb (default 2 GB) as a crash: a header that
    // claims more than this budget must be refused with an Error before allocating.
    io::set_memory_budget(int64_t{256} << 20);
    return true;
  }();
  (void)done;
}

// Runs f; climseg::Error is the expected answer to bad bytes. Anything else is a finding: print it
// and abort so libFuzzer records the input.
template <class F>
void expect_clean_error(F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: escaped exception (not climseg::Error): %s\n", e.what());
    std::abort();
  }
}

}  // namespace climseg::fuzz

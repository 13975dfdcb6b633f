// Crash-safe outputs and the signal handlers that clean up after them.
#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>

#include "core/error.hpp"

namespace climseg {
namespace fs = std::filesystem;
namespace {

// Pending temporary paths, readable from a signal handler: fixed slots of fixed-size C strings.
constexpr int kSlots = 64;
constexpr int kPathMax = 4096;
std::array<std::array<char, kPathMax>, kSlots> g_paths{};
std::array<std::atomic<int>, kSlots> g_used{};
std::mutex g_mutex;

int register_temp(const fs::path& p) {
  std::lock_guard lock(g_mutex);
  const std::string& s = p.native();
  if (s.size() + 1 > static_cast<size_t>(kPathMax)) return -1;
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[static_cast<size_t>(i)].load() == 0) {
      std::memcpy(g_paths[static_cast<size_t>(i)].data(), s.c_str(), s.size() + 1);
      g_used[static_cast<size_t>(i)].store(1);
      return i;
    }
  }
  return -1;
}

void unregister_temp(int slot) {
  if (slot < 0) return;
  std::lock_guard lock(g_mutex);
  g_used[static_cast<size_t>(slot)].store(0);
}

extern "C" void cleanup_on_signal(int sig) {
  remove_pending_temporaries();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(::getpid()));
  return fmt::format("{:x}.{:08x}", ::getpid(), static_cast<uint32_t>(rng()));
}

}  // namespace

void remove_pending_temporaries() noexcept {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[static_cast<size_t>(i)].load() != 0) ::unlink(g_paths[static_cast<size_t>(i)].data());
}

void install_cleanup_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, cleanup_on_signal);
}

AtomicOutput::AtomicOutput(fs::path final_path) : final_(std::move(final_path)) {
  fs::path dir = final_.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    const fs::path in_the_way = file_in_the_way(dir);
    if (!in_the_way.empty()) fail("{}: {} is a file, not a directory", final_.string(), in_the_way.string());
    fail("{}: output directory does not exist", dir.string());
  }
  temp_ = dir / ("." + final_.filename().string() + ".tmp." + random_suffix());
  slot_ = register_temp(temp_);
}

AtomicOutput::~AtomicOutput() {
  if (!done_) discard();
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open to flush: {}", path.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Directories on some file systems refuse fsync with EINVAL; that is not a data loss.
  if (rc != 0 && !(err == EINVAL && fs::is_directory(path)))
    fail("{}: fsync failed: {}", path.string(), std::strerror(err));
}

void AtomicOutput::commit() {
  if (done_) return;
  std::error_code ec;
  if (!fs::exists(temp_, ec)) {
    discard();
    fail("{}: nothing was written", final_.string());
  }
  try {
    fsync_path(temp_);
  } catch (...) {
    discard();
    throw;
  }
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    int err = errno;
    discard();
    fail("{}: cannot rename the finished output into place: {}", final_.string(), std::strerror(err));
  }
  done_ = true;
  unregister_temp(slot_);
  slot_ = -1;
  fs::path dir = final_.parent_path();
  try {
    fsync_path(dir.empty() ? fs::path(".") : dir);
  } catch (...) {
    // The file is complete and renamed; a directory that cannot be flushed is not worth failing for.
  }
}

void AtomicOutput::discard() {
  std::error_code ec;
  fs::remove(temp_, ec);
  done_ = true;
  unregister_temp(slot_);
  slot_ = -1;
}

OutputGroup::~OutputGroup() {
  if (done_) return;
  std::error_code ec;
  for (const auto& [staging, into] : folders_) fs::remove_all(staging, ec);
  // files_ remove their temporaries themselves.
}

const fs::path& OutputGroup::add(const fs::path& final_path) {
  files_.push_back(std::make_unique<AtomicOutput>(final_path));
  return files_.back()->temp_path();
}

fs::path OutputGroup::add_folder(const fs::path& into) {
  const fs::path staging = (into.empty() ? fs::path(".") : into) / (".climseg-staged.tmp." + random_suffix());
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) fail("{}: cannot create: {}", staging.string(), ec.message());
  folders_.emplace_back(staging, into);
  return staging;
}

void OutputGroup::commit() {
  for (auto& f : files_) f->commit();
  for (const auto& [staging, into] : folders_) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(staging, ec)) {
      const fs::path to = into / e.path().filename();
      if (::rename(e.path().c_str(), to.c_str()) != 0)
        fail("{}: cannot move the finished output into place: {}", to.string(), std::strerror(errno));
    }
    fs::remove_all(staging, ec);
  }
  done_ = true;
}

fs::path final_name(const fs::path& path) {
  const std::string name = path.filename().string();
  const size_t tmp = name.rfind(".tmp.");
  if (name.size() < 2 || name[0] != '.' || tmp == std::string::npos || tmp < 2) return path;
  // The suffix after ".tmp." is PID.RANDOM (two fields).
  const std::string suffix = name.substr(tmp + 5);
  if (std::count(suffix.begin(), suffix.end(), '.') != 1) return path;
  return path.parent_path() / name.substr(1, tmp - 1);
}

fs::path file_in_the_way(const fs::path& folder) {
  std::error_code ec;
  for (fs::path p = folder; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) return fs::is_directory(p, ec) ? fs::path() : p;
    if (p == p.parent_path()) break;
  }
  return {};
}

void check_output_folder(const fs::path& folder, const char* option) {
  const fs::path in_the_way = file_in_the_way(folder);
  if (in_the_way.empty()) return;
  if (in_the_way == folder) fail("{} {}: is a file, not a directory", option, folder.string());
  fail("{} {}: {} is a file, not a directory", option, folder.string(), in_the_way.string());
}

void make_output_folder(const fs::path& folder, const char* option) {
  check_output_folder(folder, option);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec || !fs::is_directory(folder))
    fail("{} {}: cannot create the directory{}", option, folder.string(), ec ? ": " + ec.message() : "");
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  AtomicOutput out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary);
    if (!f) fail("{}: cannot create: {}", final_name(path).string(), std::strerror(errno));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) fail("{}: write failed (disk full?)", final_name(path).string());
  }
  out.commit();
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: no such file", path.string());
  if (fs::is_directory(path, ec)) fail("{}: is a directory, not a file", path.string());
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open: {}", path.string(), std::strerror(errno));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return s;
}

}  // namespace climseg

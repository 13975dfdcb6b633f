// A temporary directory shared by all ranks of a communicator, for MPI tests.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/mpi.hpp"
#include "test_support.hpp"

namespace climseg::test {

// Rank 0 creates it and removes it at destruction, after every rank is done with it (a barrier);
// every rank learns its name. The one helper of its kind: use it rather than a local copy.
struct SharedDir {
  std::unique_ptr<TempDir> owned;
  std::filesystem::path path;
  Comm comm;
  explicit SharedDir(const Comm& c) : comm(c) {
    std::string p;
    if (comm.is_root()) {
      owned = std::make_unique<TempDir>();
      p = owned->path().string();
    }
    comm.broadcast(p);
    path = p;
  }
  ~SharedDir() { comm.barrier(); }
  SharedDir(const SharedDir&) = delete;
  SharedDir& operator=(const SharedDir&) = delete;
};

}  // namespace climseg::test

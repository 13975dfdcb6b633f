// A temporary directory shared by all ranks of a communicator, for MPI tests.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/mpi.hpp"
#include "test_support.hpp"

namespace climseg::test {

// Rank 0 creates it (and removes it at destruction); every rank learns its name.
struct SharedDir {
  std::unique_ptr<TempDir> owned;
  std::filesystem::path path;
  explicit SharedDir(const Comm& comm) {
    std::string p;
    if (comm.is_root()) {
      owned = std::make_unique<TempDir>();
      p = owned->path().string();
    }
    comm.broadcast(p);
    path = p;
  }
};

}  // namespace climseg::test

// Whether the pipelines (predict, label) read the next step and write the last one on background
// threads while a step is computed (readers/prefetch.hpp, readers/write_behind.hpp). The outputs are
// the same bytes either way; only the time differs.
#pragma once

#include <utility>

#include "core/enum_names.hpp"

namespace climseg::io {

// automatic: background threads only when they have cores of their own (spare_io_cores()): on a node
// whose cores the compute threads of its ranks already fill, a background reader and writer compete
// with compute and the run gets slower (docs/benchmarks.md, bench archive), not faster.
enum class Overlap { automatic, on, off };

// True when this process's share of its node's cores (online cores / ranks on the node, at most its
// affinity mask: core/threads.hpp) exceeds its compute threads (num_threads()).
bool spare_io_cores();

// on: true; off: false; automatic: spare_io_cores().
bool background_io(Overlap o);

}  // namespace climseg::io

template <>
struct climseg::config::EnumTable<climseg::io::Overlap> {
  static constexpr std::pair<const char*, io::Overlap> names[] = {
      {"auto", io::Overlap::automatic}, {"on", io::Overlap::on}, {"off", io::Overlap::off}};
};

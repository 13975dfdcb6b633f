// When the pipelines read ahead and write behind.
#include "readers/overlap.hpp"

#include "core/threads.hpp"

namespace climseg::io {

bool spare_io_cores() { return core_share() > num_threads(); }

bool background_io(Overlap o) {
  switch (o) {
    case Overlap::on:
      return true;
    case Overlap::off:
      return false;
    case Overlap::automatic:
      break;
  }
  return spare_io_cores();
}

}  // namespace climseg::io

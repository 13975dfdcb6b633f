// One time step of an archive.
#include "readers/sample.hpp"

namespace climseg::io {

int Sample::channel_index(const std::string& name) const {
  for (size_t i = 0; i < channels.size(); ++i)
    if (channels[i] == name) return static_cast<int>(i);
  return -1;
}

}  // namespace climseg::io

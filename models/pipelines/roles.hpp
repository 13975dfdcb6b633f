// The roles the detectors read (which archive variable is the 850 hPa wind, the sea-level pressure,
// ...), as a type: parsed once from "--var ROLE=VARIABLE" or a configuration, named in messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace climseg::pipelines {

// One per quantity of readers/quantities.cpp (the tables are checked against each other by a test).
enum class Role {
  u850,
  v850,
  psl,
  ubot,
  vbot,
  t200,
  t500,
  z200,
  z1000,
  tmq,
  prect,
  ivt,
  hs,
  q3d,  // specific humidity on levels (IVT is integrated from q3d, u3d, v3d)
  u3d,
  v3d,
};

const std::vector<Role>& all_roles();
const char* role_name(Role r);  // "u850", as in --var and StepFields
std::optional<Role> parse_role(std::string_view name);
// The 3-D roles, read whole (all levels) rather than as one plane.
inline bool is_3d(Role r) { return r == Role::q3d || r == Role::u3d || r == Role::v3d; }
// "u850, v850, ..." for messages.
std::string role_list();

}  // namespace climseg::pipelines

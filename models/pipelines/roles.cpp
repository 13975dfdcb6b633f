// Role names (the enumeration's one table).
#include "models/pipelines/roles.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace climseg::pipelines {

namespace {

constexpr std::array<std::pair<Role, const char*>, 16> kRoles = {{
    {Role::u850, "u850"},
    {Role::v850, "v850"},
    {Role::psl, "psl"},
    {Role::ubot, "ubot"},
    {Role::vbot, "vbot"},
    {Role::t200, "t200"},
    {Role::t500, "t500"},
    {Role::z200, "z200"},
    {Role::z1000, "z1000"},
    {Role::tmq, "tmq"},
    {Role::prect, "prect"},
    {Role::ivt, "ivt"},
    {Role::hs, "hs"},
    {Role::q3d, "q3d"},
    {Role::u3d, "u3d"},
    {Role::v3d, "v3d"},
}};

}  // namespace

const std::vector<Role>& all_roles() {
  static const std::vector<Role> all = [] {
    std::vector<Role> v;
    for (const auto& [r, n] : kRoles) v.push_back(r);
    return v;
  }();
  return all;
}

const char* role_name(Role r) {
  for (const auto& [role, n] : kRoles)
    if (role == r) return n;
  return "?";
}

std::optional<Role> parse_role(std::string_view name) {
  for (const auto& [r, n] : kRoles)
    if (name == n) return r;
  return std::nullopt;
}

std::string role_list() {
  // Sorted by name, as the message listed them when the roles were a std::map's keys.
  std::vector<std::string> names;
  for (const auto& [r, n] : kRoles) names.emplace_back(n);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace climseg::pipelines

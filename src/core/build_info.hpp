// What was built: version, commit, build type and the optional features compiled in.
#pragma once

#include <string>

namespace climseg::build {

const char* version();
const char* git_hash();
const char* build_type();
const char* compiler();
bool parallel_netcdf();
const char* sanitizers();
// Multi-line description for `climseg --version`, including runtime facts (MPI library, BLAS core).
std::string describe();

}  // namespace climseg::build

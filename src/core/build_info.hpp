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
// The bundled model and sample data (models/, sample/): $CLIMSEG_DATA_DIR if set, else share/climseg
// next to the running binary's folder (an installed climseg: <prefix>/bin and <prefix>/share/climseg),
// else the source tree's data/ (a build tree); empty when none exists.
std::string data_dir();
// Multi-line description for `climseg --version`, including runtime facts (MPI library, BLAS core).
std::string describe();

}  // namespace climseg::build

// Starting the peers of `climseg bench` (scripts/peer/: PyTorch, xarray): the libraries measure
// climseg, the command line front end starts the other processes and merges their figures.
#pragma once

#include <string>

namespace climseg::app {

// scripts/peer/NAME in the source tree this executable was built from.
std::string peer_script(const std::string& name);

// Runs `command` through the shell and returns what it printed on stdout; status is its exit
// status (-1 when it could not be started).
std::string run_peer_command(const std::string& command, int& status);

}  // namespace climseg::app

// What main.cpp and cli.cpp share: the exit codes, the error line, the command line's run.
#pragma once

#include <string>

namespace climseg::app {

// Exit codes: 0 success, 1 runtime error (bad data, I/O), 2 usage error, 130 interrupted.
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// "climseg: error: MESSAGE" (with "[rank r/n]" under MPI) on one line of stderr.
void print_error(const std::string& message);

// Parses the command line and runs the innermost parsed command; returns the exit code. Throws
// UsageError or Error from the command.
int run_cli(int argc, char** argv);

}  // namespace climseg::app

// Preloaded by InspectCli.LibraryCrashOpeningAFileIsOneLineNamingIt: nc_open faults on a file whose
// name holds "crash_in_nc_open", as HDF5 does on some damaged files (docs/reliability.md), and is
// the real nc_open otherwise.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

int nc_open(const char* path, int mode, int* ncidp) {
  if (strstr(path, "crash_in_nc_open") != NULL) {
    volatile int* volatile p = NULL;
    *p = 1;
  }
  int (*real)(const char*, int, int*) = (int (*)(const char*, int, int*))dlsym(RTLD_NEXT, "nc_open");
  return real(path, mode, ncidp);
}

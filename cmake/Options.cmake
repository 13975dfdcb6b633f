# Compiler flags shared by every climseg target: warnings, instruction set, sanitizers, assertions.
add_library(climseg_options INTERFACE)
target_compile_options(climseg_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>)
if(CLIMSEG_WERROR)
  target_compile_options(climseg_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
# Instruction sets. By default everything is compiled for a portable baseline, and the hot kernels
# of src/nn/kernels once more per ISA level, chosen at run time from CPUID (core/isa.hpp,
# docs/development.md). CLIMSEG_ISA_LEVELS lists the levels and CLIMSEG_ISA_FLAGS_<level> their
# flags; a target compiled for one level sets its CLIMSEG_KERNEL_ARCH property, every other target
# gets the baseline. With CLIMSEG_NATIVE everything is compiled for this machine and there is one
# level, "native", the one its -march=native implies.
if(CLIMSEG_NATIVE)
  target_compile_options(climseg_options INTERFACE -march=native)
  set(CLIMSEG_ISA_LEVELS native)
  set(CLIMSEG_ISA_FLAGS_native "")
  set(CLIMSEG_BUILD_ISA "this machine (-march=native, CLIMSEG_NATIVE=ON)")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(CLIMSEG_ISA_LEVELS baseline avx2 avx512)
  set(CLIMSEG_ISA_FLAGS_baseline -march=x86-64-v2)
  set(CLIMSEG_ISA_FLAGS_avx2 -march=x86-64-v3)
  set(CLIMSEG_ISA_FLAGS_avx512 -march=x86-64-v4)
  target_compile_options(climseg_options INTERFACE
    "$<IF:$<BOOL:$<TARGET_PROPERTY:CLIMSEG_KERNEL_ARCH>>,$<TARGET_PROPERTY:CLIMSEG_KERNEL_ARCH>,${CLIMSEG_ISA_FLAGS_baseline}>")
  target_compile_definitions(climseg_options INTERFACE CLIMSEG_KERNEL_DISPATCH=1)
  set(CLIMSEG_BUILD_ISA "the x86-64-v2 baseline")
else()
  set(CLIMSEG_ISA_LEVELS native)  # another architecture: its compiler's default, one level
  set(CLIMSEG_ISA_FLAGS_native "")
  set(CLIMSEG_BUILD_ISA "the compiler's default")
endif()
if(CLIMSEG_ASSERTS)
  target_compile_options(climseg_options INTERFACE -UNDEBUG)
endif()
if(CLIMSEG_SANITIZE)
  string(REPLACE "," ";" _sanitizers "${CLIMSEG_SANITIZE}")
  foreach(_s IN LISTS _sanitizers)
    if(NOT _s MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "climseg: unknown sanitizer '${_s}' in CLIMSEG_SANITIZE (use address, undefined, leak, thread)")
    endif()
  endforeach()
  target_compile_options(climseg_options INTERFACE -fsanitize=${CLIMSEG_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(climseg_options INTERFACE -fsanitize=${CLIMSEG_SANITIZE})
  # GCC 12's -Wmaybe-uninitialized misfires on sanitizer-instrumented std::regex (its std::function)
  # wherever a regex is built (apps, the reliability tests, the grid names of src/geo): the
  # sanitizers check at run time what that warning guesses at.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(climseg_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
  endif()
endif()
target_link_libraries(climseg_options INTERFACE fmt::fmt)

# Features compiled in, reported by `climseg --version`.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
  OUTPUT_VARIABLE CLIMSEG_GIT_HASH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT CLIMSEG_GIT_HASH)
  set(CLIMSEG_GIT_HASH "unknown")
endif()

# Fuzzing (tests/fuzz, scripts/fuzz.sh): clang only. Every target gets libFuzzer's coverage
# instrumentation plus ASan and UBSan; the fuzz targets link libFuzzer itself.
option(CLIMSEG_FUZZ "Build tests/fuzz as libFuzzer targets (needs clang)" OFF)
if(CLIMSEG_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "climseg: CLIMSEG_FUZZ needs clang (Debian: clang, libclang-rt-dev): "
      "cmake -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCLIMSEG_FUZZ=ON ...")
  endif()
  target_compile_options(climseg_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-unknown-warning-option)
  target_link_options(climseg_options INTERFACE -fsanitize=address,undefined)
endif()

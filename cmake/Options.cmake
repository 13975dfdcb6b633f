# Compiler flags shared by every climseg target: warnings, instruction set, sanitizers, assertions.
add_library(climseg_options INTERFACE)
target_compile_options(climseg_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>)
if(CLIMSEG_WERROR)
  target_compile_options(climseg_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(CLIMSEG_NATIVE)
  target_compile_options(climseg_options INTERFACE -march=native)
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

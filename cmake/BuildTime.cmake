# What keeps a from-scratch build short on two cores (docs/development.md#build-time): unity builds of
# the libraries, the executable and the tests, one precompiled header for the libraries and one for
# the tests, and ccache kept usable with those headers.
option(CLIMSEG_UNITY_BUILD "Compile each library's, the executable's and each test's sources in batches" ON)
option(CLIMSEG_PRECOMPILE_HEADERS "Precompile the heavy headers the libraries share (the standard library, json, fmt) and those the tests share (gtest, json, fmt, MPI)" ON)

# ccache caches a compilation that uses a precompiled header only with this sloppiness (ccache manual,
# "Precompiled headers"); without it every test object is a miss. The normal variable shadows the
# cache entry (-DCMAKE_CXX_COMPILER_LAUNCHER=ccache), which stays as given.
if(CLIMSEG_PRECOMPILE_HEADERS AND CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache")
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env
    CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${CMAKE_CXX_COMPILER_LAUNCHER})
endif()

# climseg_unity_build(TARGET... [BATCH n]): compile the targets' sources in batches of n (CMake's
# default 8). Two sources of one target must then not define the same name at file scope, in an
# anonymous namespace too; a source with its own compile options or definitions compiles alone.
# A type from an anonymous namespace is no longer in the main file, which GCC's -Wsubobject-linkage
# reports although nothing is shared between translation units.
function(climseg_unity_build)
  cmake_parse_arguments(U "" "BATCH" "" ${ARGN})
  if(NOT CLIMSEG_UNITY_BUILD)
    return()
  endif()
  foreach(t IN LISTS U_UNPARSED_ARGUMENTS)
    if(NOT TARGET ${t})
      continue()
    endif()
    set_target_properties(${t} PROPERTIES UNITY_BUILD ON)
    if(U_BATCH)
      set_target_properties(${t} PROPERTIES UNITY_BUILD_BATCH_SIZE ${U_BATCH})
    endif()
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-subobject-linkage>)
    endif()
  endforeach()
endfunction()

# climseg_library_pch(TARGET...): the standard-library, fmt and nlohmann-json headers most library
# sources include, precompiled once (about 2 s of every unity batch's compile) and reused by the
# targets. The header is built by climseg_library_pch, an object library with the libraries' own
# flags: GCC refuses a precompiled header built with other code-generation flags (-march, -fPIC),
# so the kernels compiled per ISA level and the Python module (-fvisibility=hidden) build without it.
# Not with CLIMSEG_SANITIZE: GCC 12 crashes (internal compiler error in IPA-CP) compiling
# src/nn/bench_ops.cpp at -O3 under ASan+UBSan with this header, and compiles it without.
function(climseg_library_pch)
  if(NOT CLIMSEG_PRECOMPILE_HEADERS OR CLIMSEG_SANITIZE)
    return()
  endif()
  add_library(climseg_library_pch OBJECT ${PROJECT_SOURCE_DIR}/src/core/pch_host.cpp)
  target_link_libraries(climseg_library_pch PRIVATE climseg_options fmt::fmt nlohmann_json::nlohmann_json OpenMP::OpenMP_CXX)
  target_precompile_headers(climseg_library_pch PRIVATE
    <algorithm> <array> <cmath> <cstdint> <cstring> <filesystem> <fstream> <functional> <limits> <map>
    <memory> <mutex> <optional> <set> <span> <string> <utility> <vector>
    <fmt/format.h> <nlohmann/json.hpp>)
  foreach(t IN LISTS ARGN)
    if(TARGET ${t})
      target_precompile_headers(${t} REUSE_FROM climseg_library_pch)
    endif()
  endforeach()
endfunction()

# Test registration: unit tests are discovered per test case; MPI tests run whole under mpiexec.
include(GoogleTest)

set(CLIMSEG_SHARED_DATA "${CMAKE_SOURCE_DIR}/../shared/data" CACHE PATH "Real data files used by tests (skipped when absent)")
set(CLIMSEG_MPIEXEC_FLAGS --allow-run-as-root --oversubscribe CACHE STRING "Flags for mpiexec in tests")
# The launcher line of test::mpiexec(ranks) (tests/support), the one way tests start programs on
# several ranks; ctest's own MPI tests (below) use the same executable and flags.
string(REPLACE ";" " " CLIMSEG_TEST_MPIEXEC_LINE "${MPIEXEC_EXECUTABLE};${CLIMSEG_MPIEXEC_FLAGS}")

# climseg_add_test(NAME SOURCES a.cpp... [LIBS ...] [LABEL unit|integration] [MPI_RANKS 2 4] [TIMEOUT s])
function(climseg_add_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS;MPI_RANKS" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE climseg_test_support ${T_LIBS})
  if(TARGET climseg_test_pch)
    target_precompile_headers(${name} REUSE_FROM climseg_test_pch)
  endif()
  # Integration tests run the executable (run_climseg): building such a test builds climseg too.
  if(T_LABEL STREQUAL "integration")
    add_dependencies(${name} climseg)
  endif()
  set(_env "CLIMSEG_NUM_THREADS=1;OMPI_MCA_rmaps_base_oversubscribe=1")
  if(T_MPI_RANKS)
    target_link_libraries(${name} PRIVATE climseg_test_mpi_main)
    foreach(n IN LISTS T_MPI_RANKS)
      add_test(NAME ${name}.np${n}
        COMMAND ${MPIEXEC_EXECUTABLE} ${CLIMSEG_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} ${n} $<TARGET_FILE:${name}>)
      set_tests_properties(${name}.np${n} PROPERTIES LABELS "mpi" TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "${_env}" PROCESSORS ${n})
    endforeach()
  else()
    target_link_libraries(${name} PRIVATE climseg_test_main)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${_env}")
  endif()
endfunction()

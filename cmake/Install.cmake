# `cmake --install BUILD [--prefix P]` (docs/development.md#installing): bin/climseg, the libraries
# (static) and their public headers (include/climseg/), the CMake package
# lib/cmake/climseg/climsegConfig.cmake with targets climseg::core, climseg::readers, climseg::nn, ...,
# lib/pkgconfig/climseg.pc, and the bundled model and sample data under share/climseg/ (the binary
# finds them there, relative to itself: build::data_dir()).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Dependencies outside standard locations (modules, Spack) stay found at run time after install.
set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)

# The libraries, in link order (a library before those it uses), and the dependency targets they
# link (plain paths, cmake/Dependencies.cmake).
set(CLIMSEG_INSTALLED_LIBRARIES search training heuristics synth nets parallel nn analysis readers geo core)
set(_targets)
foreach(l IN LISTS CLIMSEG_INSTALLED_LIBRARIES)
  set_target_properties(climseg_${l} PROPERTIES EXPORT_NAME ${l})
  list(APPEND _targets climseg_${l})
endforeach()
foreach(d netcdf hdf5 blas fftw libdeflate udunits2)
  set_target_properties(climseg_${d} PROPERTIES EXPORT_NAME dep_${d})
  list(APPEND _targets climseg_${d})
endforeach()
set_target_properties(climseg PROPERTIES EXPORT_NAME climseg)
install(TARGETS climseg ${_targets} EXPORT climsegTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/climseg)

# Public headers: as the sources include them ("core/mpi.hpp", "readers/cf_file.hpp",
# "models/nets/network.hpp"), under include/climseg/.
install(DIRECTORY src/ readers models DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/climseg FILES_MATCHING PATTERN "*.hpp")

set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/climseg)
install(EXPORT climsegTargets NAMESPACE climseg:: DESTINATION ${_cmakedir})
configure_package_config_file(cmake/climsegConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/climsegConfig.cmake
  INSTALL_DESTINATION ${_cmakedir} PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/climsegConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/climsegConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/climsegConfigVersion.cmake
  DESTINATION ${_cmakedir})

# pkg-config: the libraries, then what they link, as paths found at configure time.
set(_pc_libs)
foreach(l IN LISTS CLIMSEG_INSTALLED_LIBRARIES)
  string(APPEND _pc_libs " -lclimseg_${l}")
endforeach()
set(_pc_cflags)
foreach(d netcdf hdf5 blas fftw libdeflate udunits2)
  get_target_property(_i climseg_${d} INTERFACE_INCLUDE_DIRECTORIES)
  get_target_property(_l climseg_${d} INTERFACE_LINK_LIBRARIES)
  get_target_property(_c climseg_${d} INTERFACE_COMPILE_DEFINITIONS)
  foreach(x IN LISTS _i)
    if(x AND NOT x STREQUAL "/usr/include")
      string(APPEND _pc_cflags " -I${x}")
    endif()
  endforeach()
  foreach(x IN LISTS _c)
    if(x)
      string(APPEND _pc_cflags " -D${x}")
    endif()
  endforeach()
  foreach(x IN LISTS _l)
    if(x)
      string(APPEND _pc_libs " ${x}")
    endif()
  endforeach()
endforeach()
get_target_property(_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
foreach(x IN LISTS MPI_CXX_INCLUDE_DIRS _fmt_inc)
  if(NOT x STREQUAL "/usr/include")  # a compiler's own folder: -I there breaks #include_next
    string(APPEND _pc_cflags " -I${x}")
  endif()
endforeach()
list(JOIN MPI_CXX_LIBRARIES " " _mpi_libs)
list(JOIN OpenMP_CXX_FLAGS " " _omp)
string(APPEND _pc_libs " ${PNG_LIBRARIES} ${ZLIB_LIBRARIES} -lfmt ${_mpi_libs} ${_omp}")
string(REPLACE ";" " " _pc_libs "${_pc_libs}")
string(APPEND _pc_cflags " ${_omp}")
file(RELATIVE_PATH _pc_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)  # ../.. or ../../..
string(REGEX REPLACE "/$" "" _pc_prefix "${_pc_prefix}")
configure_file(cmake/climseg.pc.in ${CMAKE_CURRENT_BINARY_DIR}/climseg.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/climseg.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The bundled model and sample data.
install(DIRECTORY data/models data/sample DESTINATION ${CMAKE_INSTALL_DATADIR}/climseg)

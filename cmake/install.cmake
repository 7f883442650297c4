# `cmake --install build --prefix P`: the libraries, the public headers under P/include/tapelm,
# the tapelm binary, the CMake package (find_package(tapelm CONFIG)) and tapelm.pc.
# Internals are not installed: the kernels/ folders (inline loops compiled with the library's
# flags, e.g. -march=native, which a consumer's translation units must not see), optim/fmadd.h
# for the same reason, and the command line (train/cli).
include(CMakePackageConfigHelpers)

set(tapelm_layers autograd data baselines nn decode optim events train)
set(tapelm_library_targets)
foreach(layer ${tapelm_layers})
  list(APPEND tapelm_library_targets tapelm_${layer})
endforeach()
install(TARGETS ${tapelm_library_targets} tapelm_all EXPORT tapelmTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS tapelm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY autograd nn optim data decode baselines train DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapelm
        FILES_MATCHING PATTERN "*.h"
        PATTERN kernels EXCLUDE PATTERN cli EXCLUDE PATTERN fmadd.h EXCLUDE)
install(FILES tapelm.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapelm)

set(tapelm_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tapelm)
install(EXPORT tapelmTargets NAMESPACE tapelm:: DESTINATION ${tapelm_cmake_dir})
# What the config file finds again for the consumer: the dependencies this build linked.
if(dnnl_FOUND)
  set(TAPELM_WITH_ONEDNN ON)
else()
  set(TAPELM_WITH_ONEDNN OFF)
endif()
if(OPENBLAS_FOUND)
  set(TAPELM_WITH_OPENBLAS ON)
else()
  set(TAPELM_WITH_OPENBLAS OFF)
endif()
configure_package_config_file(cmake/tapelmConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/tapelmConfig.cmake
                              INSTALL_DESTINATION ${tapelm_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/tapelmConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapelmConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/tapelmConfigVersion.cmake
        DESTINATION ${tapelm_cmake_dir})

# pkg-config: the layers in link order, then what they need.
set(tapelm_pc_requires "yaml-cpp sentencepiece eigen3")
if(OPENBLAS_FOUND)
  string(APPEND tapelm_pc_requires " openblas")
endif()
if(TAPELM_WITH_MPI)
  string(APPEND tapelm_pc_requires " ompi-c")
endif()
set(tapelm_pc_libs "-ltapelm_train -ltapelm_baselines -ltapelm_events -ltapelm_decode -ltapelm_optim -ltapelm_nn -ltapelm_data -ltapelm_autograd")
if(dnnl_FOUND)
  string(APPEND tapelm_pc_libs " -ldnnl")
endif()
string(APPEND tapelm_pc_libs " ${OpenMP_CXX_FLAGS}")
configure_file(cmake/tapelm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/tapelm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/tapelm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

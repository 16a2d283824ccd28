# `cmake --install`: the shared libodrt, odrt.h, the CLI, pkg-config's odrt.pc and a CMake package
# (find_package(odrt) -> odrt::odrt). The Python package's build (scikit-build-core sets SKBUILD)
# installs the library and the CLI into the package folder instead.
include(GNUInstallDirs)
if(SKBUILD)
  # one file (a wheel has no symlinks); the package loads it by path
  install(FILES $<TARGET_FILE:odrt_shared> DESTINATION odrt)
  install(TARGETS odrt_cli RUNTIME DESTINATION odrt/bin)
  return()
endif()

install(TARGETS odrt_shared EXPORT odrtTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/odrt.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS odrt_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# pkg-config: a shared library needs only itself on the link line; its own dependencies are its
# DT_NEEDED entries
# relocatable: the prefix is found from the .pc file's own folder (cmake --install --prefix anywhere)
file(RELATIVE_PATH ODRT_PC_UP "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
string(REGEX REPLACE "/$" "" ODRT_PC_UP "${ODRT_PC_UP}")
set(ODRT_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
set(ODRT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/odrt.pc.in ${CMAKE_BINARY_DIR}/odrt.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/odrt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(CMakePackageConfigHelpers)
install(EXPORT odrtTargets NAMESPACE odrt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odrt)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/odrtConfig.cmake.in ${CMAKE_BINARY_DIR}/odrtConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odrt)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/odrtConfigVersion.cmake VERSION ${ODRT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/odrtConfig.cmake ${CMAKE_BINARY_DIR}/odrtConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odrt)

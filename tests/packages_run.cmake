# The Debian packages, built and checked: a build tree configured for /usr
# with packaging on (no tests), cpack's DEB generator, then
# tests/packages_check.py (lintian, dpkg -x, --help, the plugin loaded by
# mosquitto, a program built against the -dev package). Called by the ctest
# entry "packages" with SOURCE_DIR, BINARY_DIR, C_COMPILER and PYTHON set.

set(RUN_NAME "packages run")
include(${CMAKE_CURRENT_LIST_DIR}/nested_run.cmake)

# RelWithDebInfo's optimisation without its -g: cpack strips the binaries
# (CPACK_STRIP_FILES), so the packages hold the same code, built sooner.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG"
    -DCMAKE_C_COMPILER=${C_COMPILER}
    -DCMAKE_INSTALL_PREFIX=/usr -DONR_PACKAGING=ON -DBUILD_TESTING=OFF -DONR_WERROR=ON)
run(${CMAKE_COMMAND} --build ${BINARY_DIR} --parallel ${jobs})
file(GLOB old ${BINARY_DIR}/*.deb)
if(old)
  file(REMOVE ${old})
endif()
run(${CMAKE_COMMAND} -E chdir ${BINARY_DIR} cpack -G DEB)
run(${PYTHON} ${CMAKE_CURRENT_LIST_DIR}/packages_check.py ${BINARY_DIR})

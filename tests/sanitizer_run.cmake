# Configure, build and run the unit and integration tests with
# -fsanitize=address,undefined. Called by the ctest entry "sanitizers" with
# SOURCE_DIR, BINARY_DIR and C_COMPILER set. Any sanitizer report fails the
# test (-fno-sanitize-recover; the integration tests check the broker's
# reports for the plugin, which runs inside mosquitto).

set(RUN_NAME "sanitizer run")
include(${CMAKE_CURRENT_LIST_DIR}/nested_run.cmake)

run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=${C_COMPILER}
    -DONR_SANITIZE=ON -DONR_UNIT_TESTS_ONLY=OFF -DONR_SANITIZER_RUN=OFF -DONR_WERROR=ON
    -DONR_TEST_HOOKS=ON)
run(${CMAKE_COMMAND} --build ${BINARY_DIR} --parallel ${jobs})
set(ENV{ASAN_OPTIONS} "detect_leaks=1:abort_on_error=1:strict_string_checks=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
# Instrumented processes are several times larger: the many-devices test
# runs 50 devices here (200 in the plain build), and so does the chaos test.
set(ENV{ONR_TEST_DEVICES} 50)
set(ENV{ONR_TEST_CHAOS_DEVICES} 50)
# Not run a second time instrumented, to keep the suite's time (their C
# code runs instrumented elsewhere): the PostgreSQL twins (the services'
# code runs here on SQLite; the backend is instrumented by unit.svc_db_pg),
# onramp-admin's and the examples' tests (onramp-admin deploys every
# instrumented fabric below, whose services read its configurations),
# bulk pairing and the label tools (their parsers are unit-tested and
# fuzzed), and the load generator (a bench tool).
run(${CMAKE_CTEST_COMMAND} --test-dir ${BINARY_DIR} -L "unit|integration"
    -E "^integration[.]([a-z_]+_pg|admin|examples|bulk_pairing|ctl_label|nfc|loadgen)$"
    --output-on-failure --parallel ${jobs})

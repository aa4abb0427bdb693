# Configure and build the libFuzzer targets with clang (-fsanitize=fuzzer,
# address,undefined) in a nested build tree, then run each for a short
# time on its seed corpus (tests/fuzz/corpus/<target>/) and its regression
# corpus (tests/fuzz/regressions/<target>/, replayed every run), two at a
# time. Fails if any target crashes, leaks, times out on an input, runs out
# of memory, or fails one of its own checks. Prints each target's
# executions. Called by the ctest entry "fuzz.short" with SOURCE_DIR and
# BINARY_DIR set; also the command for longer runs (tests/fuzz/README.md):
#
#   FUZZ_SECONDS  seconds per target (default 6)
#   FUZZ_TARGETS  a ;-list of targets to run (default: all)
#   FUZZ_JOBS     targets run at once (default 2)
#   C_COMPILER    clang to use (default: clang-14, else clang)

cmake_minimum_required(VERSION 3.25)

if(NOT FUZZ_SECONDS)
  set(FUZZ_SECONDS 6)
endif()
if(NOT FUZZ_JOBS)
  set(FUZZ_JOBS 2)
endif()
if(NOT C_COMPILER)
  find_program(C_COMPILER NAMES clang-14 clang)
  if(NOT C_COMPILER)
    message(FATAL_ERROR "fuzz run: no clang (install clang-14 and libclang-rt-14-dev: "
                        "scripts/deps.sh --tests)")
  endif()
endif()

set(RUN_NAME "fuzz run")
include(${CMAKE_CURRENT_LIST_DIR}/nested_run.cmake)

string(TIMESTAMP started "%s")
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=${C_COMPILER}
    -DONR_FUZZ=ON -DONR_FUZZ_RUN=OFF -DONR_SANITIZE=OFF -DONR_SANITIZER_RUN=OFF
    -DONR_UNIT_TESTS_ONLY=OFF -DONR_WERROR=ON)
run(${CMAKE_COMMAND} --build ${BINARY_DIR} --target onr_fuzz --parallel ${jobs})
string(TIMESTAMP built "%s")
math(EXPR build_seconds "${built} - ${started}")
message(STATUS "fuzz run: built in ${build_seconds} s; ${FUZZ_SECONDS} s per target, "
               "${FUZZ_JOBS} at a time")

include(${BINARY_DIR}/tests/fuzz/fuzz_targets.cmake)
set(fuzz_src ${SOURCE_DIR}/tests/fuzz)
set(work ${BINARY_DIR}/fuzz-work)
file(MAKE_DIRECTORY ${work})

# UBSan aborts (the targets are built with -fno-sanitize-recover); leaks
# are reported by libFuzzer's own check (-detect_leaks=1).
set(ENV{ASAN_OPTIONS} "abort_on_error=1:strict_string_checks=1")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")

# The targets asked for, as "name|max_len|dict".
set(queue "")
foreach(entry ${FUZZ_TARGET_LIST})
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 name)
  if(NOT FUZZ_TARGETS OR name IN_LIST FUZZ_TARGETS)
    list(APPEND queue "${entry}")
  endif()
endforeach()
if(NOT queue)
  message(FATAL_ERROR "fuzz run: no target among '${FUZZ_TARGETS}'")
endif()

# One libFuzzer command line, wrapped in sh for its log file. New inputs go
# to the work corpus in the build tree (kept between runs); the source
# tree's corpora are only read.
function(fuzz_command entry out_name out_cmd)
  string(REPLACE "|" ";" fields "${entry}")
  list(GET fields 0 name)
  list(GET fields 1 max_len)
  list(LENGTH fields n)
  set(dict "")
  if(n GREATER 2)
    list(GET fields 2 dict)
  endif()
  file(REMOVE_RECURSE ${work}/${name}/artifacts)
  # The work corpus carries one run's finds to the next; past a bound it
  # starts again from the seeds, so replaying it stays a small part of a run.
  file(GLOB kept ${work}/${name}/corpus/*)
  list(LENGTH kept n_kept)
  if(n_kept GREATER 5000)
    message(STATUS "fuzz run: ${name}: ${n_kept} inputs kept, starting again from the seeds")
    file(REMOVE_RECURSE ${work}/${name}/corpus)
  endif()
  file(MAKE_DIRECTORY ${work}/${name}/corpus ${work}/${name}/artifacts)
  set(args -max_total_time=${FUZZ_SECONDS} -max_len=${max_len} -timeout=10
      -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1
      -artifact_prefix=${work}/${name}/artifacts/)
  if(dict)
    list(APPEND args -dict=${dict})
  endif()
  list(APPEND args ${work}/${name}/corpus)
  foreach(dir ${fuzz_src}/corpus/${name} ${fuzz_src}/regressions/${name})
    if(IS_DIRECTORY ${dir})
      list(APPEND args ${dir})
    endif()
  endforeach()
  set(line "'${BINARY_DIR}/tests/fuzz/fuzz_${name}'")
  foreach(arg ${args})
    string(APPEND line " '${arg}'")
  endforeach()
  # The exit status goes to a file: execute_process reports only the one
  # killed by a signal when a pipeline member is. (Lines, not ';': a ';'
  # would split the CMake list.)
  file(REMOVE ${work}/${name}/status)
  set(${out_name} ${name} PARENT_SCOPE)
  set(${out_cmd} sh -c "${line} > '${work}/${name}/log' 2>&1\necho $? > '${work}/${name}/status'"
      PARENT_SCOPE)
endfunction()

# The number after `key:` in a libFuzzer log, or "?".
function(stat log key out)
  file(STRINGS ${log} lines REGEX "^stat::${key}:")
  set(value "?")
  if(lines)
    list(GET lines 0 line)
    string(REGEX REPLACE "^stat::${key}:[ \t]*" "" value "${line}")
  endif()
  set(${out} ${value} PARENT_SCOPE)
endfunction()

set(failed "")
set(report "")
list(LENGTH queue remaining)
while(remaining GREATER 0)
  # The next FUZZ_JOBS targets run at once: execute_process starts every
  # COMMAND together (as a pipeline; the fuzzers read no input).
  set(batch "")
  set(commands "")
  foreach(i RANGE 1 ${FUZZ_JOBS})
    list(LENGTH queue remaining)
    if(remaining EQUAL 0)
      break()
    endif()
    list(POP_FRONT queue entry)
    fuzz_command("${entry}" name cmd)
    list(APPEND batch ${name})
    list(APPEND commands COMMAND ${cmd})
  endforeach()
  math(EXPR limit "${FUZZ_SECONDS} + 120")
  execute_process(${commands} TIMEOUT ${limit})
  foreach(name ${batch})
    set(rc "no exit status: killed after ${limit} s")
    if(EXISTS ${work}/${name}/status)
      file(STRINGS ${work}/${name}/status rc LIMIT_COUNT 1)
    endif()
    set(log ${work}/${name}/log)
    stat(${log} number_of_executed_units runs)
    stat(${log} average_exec_per_sec speed)
    stat(${log} new_units_added added)
    stat(${log} peak_rss_mb rss)
    if(rc STREQUAL "0")
      set(verdict "ok")
    else()
      set(verdict "FAILED (${rc})")
      list(APPEND failed ${name})
    endif()
    string(APPEND report
      "  fuzz_${name}: ${runs} executions, ${speed} exec/s, ${added} new inputs, "
      "${rss} MB: ${verdict}\n")
    if(NOT rc STREQUAL "0")
      # From the report's first line (a sanitizer's, libFuzzer's or a
      # target's own check), else the log's end.
      file(READ ${log} text)
      set(from -1)
      foreach(mark "\nfuzz: " "==ERROR: " "ERROR: libFuzzer" "runtime error:")
        string(FIND "${text}" "${mark}" at)
        if(at GREATER_EQUAL 0 AND (from LESS 0 OR at LESS from))
          set(from ${at})
        endif()
      endforeach()
      string(LENGTH "${text}" text_len)
      if(from LESS 0 AND text_len GREATER 6000)
        math(EXPR from "${text_len} - 6000")
      endif()
      if(from GREATER 0)
        string(SUBSTRING "${text}" ${from} 8000 text)
      endif()
      message("---- fuzz_${name} (${log}) ----\n${text}")
      file(GLOB artifacts ${work}/${name}/artifacts/*)
      message("---- fuzz_${name}: the failing input: ${artifacts}")
    endif()
  endforeach()
  list(LENGTH queue remaining)
endwhile()

string(TIMESTAMP finished "%s")
math(EXPR total "${finished} - ${started}")
message("fuzz run: ${total} s in all\n${report}")
if(failed)
  message(FATAL_ERROR "fuzz run: failed: ${failed} (reproduce: the target binary in "
                      "${BINARY_DIR}/tests/fuzz/ with the input as its argument; "
                      "tests/fuzz/README.md)")
endif()

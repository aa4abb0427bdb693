# Shared by the script-mode runs that build and test a second tree
# (sanitizer_run.cmake, fuzz_run.cmake): `jobs`, the machine's processors,
# and run(), which fails the whole run (named by RUN_NAME) when a command
# fails.

include(ProcessorCount)
ProcessorCount(jobs)
if(jobs EQUAL 0)
  set(jobs 2)
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${RUN_NAME}: '${ARGN}' failed (${rc})")
  endif()
endfunction()

# Per-target build settings shared by every Onramp target. Only target_*
# commands: nothing here changes global flags.

# onr_target_defaults(<target>): warnings, -Werror, sanitizers and fuzzing
# instrumentation as configured.
function(onr_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
    -Wvla -Wpointer-arith -Wcast-qual -fno-common)
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
  if(ONR_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ONR_FUZZ)
    # Coverage for libFuzzer (clang), and the sanitizers it reports through.
    # The fuzz targets themselves link -fsanitize=fuzzer (tests/fuzz/).
    target_compile_options(${target} PRIVATE
      -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(ONR_SANITIZE)
    target_compile_options(${target} PRIVATE
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# onr_program(<target> [COMPONENT <component>]): a program users run: built
# into build/bin (so the demo, the tests and a shell find them all in one
# place) and installed, as part of <component> (default: tools; the
# components are the Debian packages, cmake/OnrampPackaging.cmake).
function(onr_program target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "COMPONENT" "")
  if(NOT arg_COMPONENT)
    set(arg_COMPONENT tools)
  endif()
  onr_target_defaults(${target})
  set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${arg_COMPONENT})
endfunction()

# Profile-guided optimisation of Release builds (GCC). scripts/build_release.sh drives it:
#   PARLEY_PGO=generate  an instrumented parleyd that writes its profile to PARLEY_PGO_DIR
#                        (build-pgo; trained by scripts/pgo_train.sh with the gateway bench),
#   PARLEY_PGO=use       the Release build laid out and inlined by that profile.
# Both builds must get the same flags: a function whose code differs from the one that was
# measured is a coverage mismatch (built without its profile, with a warning; see below).
# -fprofile-prefix-path keeps the profile's file names relative to each build directory, so
# that the two directories find the same files. Functions the training never ran are
# optimised as without a profile (-fprofile-partial-training): the training runs the
# gateway, not the IRC listener.
# A source without a profile gets -Wmissing-profile: objects the binary does not link (two
# today) and any file compiled here after a training that did not finish.
# Bench x2i: 4-8 % less CPU per stanza, lower in 12 of 12 rounds (bench/README.md, session 41).
set(PARLEY_PGO "" CACHE STRING "Profile-guided optimisation: generate, use, or empty for none")
set(PARLEY_PGO_DIR "" CACHE PATH "Where the instrumented build writes its profile and the use build reads it")
set_property(CACHE PARLEY_PGO PROPERTY STRINGS "" generate use)

if(PARLEY_PGO)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "PARLEY_PGO needs GCC (its -fprofile-prefix-path and partial training)")
  endif()
  if(NOT PARLEY_PGO_DIR)
    message(FATAL_ERROR "PARLEY_PGO=${PARLEY_PGO} needs PARLEY_PGO_DIR")
  endif()
  set(parley_pgo_paths -fprofile-prefix-path=${CMAKE_BINARY_DIR})
  # No ccache in either: it does not know -fprofile-update or -fprofile-prefix-path (Debian
  # 12's 4.7 runs the compiler itself), and it would key an object by its source and flags,
  # not by the profile it was built with.
  set(CMAKE_CXX_COMPILER_LAUNCHER "")
  set(CMAKE_C_COMPILER_LAUNCHER "")
  if(PARLEY_PGO STREQUAL "generate")
    # Atomic counters: parleyd runs several io threads.
    add_compile_options(-fprofile-generate=${PARLEY_PGO_DIR} -fprofile-update=atomic ${parley_pgo_paths})
    add_link_options(-fprofile-generate=${PARLEY_PGO_DIR} -fprofile-update=atomic)
  elseif(PARLEY_PGO STREQUAL "use")
    # A source edited since the training (a build by hand, not scripts/build_release.sh,
    # which trains again first) has a profile that no longer matches: GCC's error by default;
    # here a warning, and that function is built without its profile.
    add_compile_options(-fprofile-use=${PARLEY_PGO_DIR} -fprofile-partial-training ${parley_pgo_paths}
                        -Wno-error=coverage-mismatch)
    add_link_options(-fprofile-use=${PARLEY_PGO_DIR} -fprofile-partial-training)
  else()
    message(FATAL_ERROR "PARLEY_PGO must be generate, use or empty, not '${PARLEY_PGO}'")
  endif()
endif()

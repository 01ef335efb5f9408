# unibus_part(NAME SOURCES...): an object library for one part of unibus (src/<part>),
# compiled with our warnings, folded into the single unibus library by src/lib.
# Each part appends itself to UNIBUS_PARTS (a global property) so src/lib links them.
function(unibus_part name)
  add_library(unibus_${name} OBJECT ${ARGN})
  target_compile_options(unibus_${name} PRIVATE ${UNIBUS_WARNINGS})
  target_include_directories(unibus_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/src>)
  target_link_libraries(unibus_${name} PUBLIC absl::status absl::statusor absl::time
    absl::synchronization absl::strings absl::flat_hash_map Threads::Threads spdlog::spdlog)
  set_property(GLOBAL APPEND PROPERTY UNIBUS_PARTS unibus_${name})
endfunction()

# unibus_test(NAME SOURCES... [LIBS ...]): a gtest binary registered with ctest.
# Does nothing when UNIBUS_BUILD_TESTS is OFF.
function(unibus_test name)
  if(NOT UNIBUS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_UNPARSED_ARGUMENTS})
  target_compile_options(${name} PRIVATE ${UNIBUS_WARNINGS})
  target_link_libraries(${name} PRIVATE unibus::unibus GTest::gtest GTest::gmock GTest::gtest_main ${T_LIBS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# unibus_part_link(NAME LIBS...): third-party libraries a part uses. They are linked
# privately into the unibus library, so no backend type leaks to its users.
function(unibus_part_link name)
  target_link_libraries(unibus_${name} PUBLIC ${ARGN})
  set_property(GLOBAL APPEND PROPERTY UNIBUS_PRIVATE_LIBS ${ARGN})
endfunction()

# unibus_part_define(DEFINITIONS...): compile definitions the backend registry sees
# (for example UNIBUS_HAVE_KAFKA), so it registers only the backends built in.
function(unibus_part_define)
  set_property(GLOBAL APPEND PROPERTY UNIBUS_BACKEND_DEFINES ${ARGN})
endfunction()

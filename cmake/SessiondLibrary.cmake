# sessiond_add_library(NAME SOURCES a.cc b.cc... [PUBLIC libs...]
#                      [PRIVATE libs...] [PUBLIC_API_ONLY])
# builds one static library of ours from exactly the sources listed (a
# missing one stops configure with its name). Its include directories say
# the layering: include/ (the public API) is PUBLIC, so whatever links it
# sees sessiond/*.h; src/ (internal headers such as "store/lmdb_records.h")
# is PRIVATE, so it reaches only targets that ask for it themselves, and
# with PUBLIC_API_ONLY (the client library, which ships) not even this one.
# Our warnings apply (cmake/SessiondWarnings.cmake).
function(sessiond_check_sources owner)
  foreach(source ${ARGN})
    if(IS_ABSOLUTE "${source}")
      set(path "${source}")
    else()
      set(path "${CMAKE_CURRENT_SOURCE_DIR}/${source}")
    endif()
    if(NOT EXISTS "${path}")
      message(FATAL_ERROR "${owner}: source file ${source} does not exist "
                          "(${CMAKE_CURRENT_LIST_FILE})")
    endif()
  endforeach()
endfunction()

function(sessiond_add_library name)
  cmake_parse_arguments(ARG "PUBLIC_API_ONLY" "" "SOURCES;PUBLIC;PRIVATE"
                        ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sessiond_add_library(${name}): no SOURCES")
  endif()
  sessiond_check_sources(${name} ${ARG_SOURCES})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}/include")
  if(NOT ARG_PUBLIC_API_ONLY)
    target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  endif()
  target_link_libraries(${name}
    PUBLIC ${ARG_PUBLIC}
    PRIVATE ${ARG_PRIVATE} sessiond_warnings)
endfunction()

# sessiond_add_executable(NAME SOURCES a.cc... [LIBS libs...]): a program of
# ours (daemon, CLI, benchmark), with src/ as a private include directory.
function(sessiond_add_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  sessiond_check_sources(${name} ${ARG_SOURCES})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} sessiond_warnings)
endfunction()

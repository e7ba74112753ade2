"""A stand-in Slicer build tree for configuring the real CMake files in tests (no Slicer needed)."""

from __future__ import annotations

STUB_SLICER_CONFIG = r"""
# A stand-in for Slicer's build tree: the packaging macros check and record files instead of
# compiling and installing them, so CMake itself evaluates the lists (variables, subdirectories).
set(Slicer_USE_FILE "${CMAKE_CURRENT_LIST_DIR}/UseSlicer.cmake")
set(Slicer_EXTENSION_GENERATE_CONFIG "${CMAKE_CURRENT_LIST_DIR}/Noop.cmake")
set(Slicer_EXTENSION_CPACK "${CMAKE_CURRENT_LIST_DIR}/Noop.cmake")
set(Slicer_INSTALL_SHARE_DIR "share/Slicer-5.9")
set(Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR "lib/Slicer-5.9/qt-scripted-modules")
set(STUB_MANIFEST "${CMAKE_BINARY_DIR}/packaged.txt")
file(WRITE "${STUB_MANIFEST}" "")

function(_stub_package)
  foreach(f ${ARGN})
    if(NOT IS_ABSOLUTE "${f}")
      set(f "${CMAKE_CURRENT_SOURCE_DIR}/${f}")
    endif()
    if(NOT EXISTS "${f}" AND EXISTS "${f}.py")
      set(f "${f}.py")
    endif()
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "listed for packaging but does not exist: ${f}")
    endif()
    file(APPEND "${STUB_MANIFEST}" "${f}\n")
  endforeach()
endfunction()

function(slicerMacroBuildScriptedModule)
  cmake_parse_arguments(MY "WITH_GENERIC_TESTS;WITH_SUBDIR;VERBOSE" "NAME" "SCRIPTS;RESOURCES" ${ARGN})
  if(MY_UNPARSED_ARGUMENTS OR NOT MY_NAME)
    message(FATAL_ERROR "slicerMacroBuildScriptedModule: bad arguments '${ARGN}'")
  endif()
  _stub_package(${MY_SCRIPTS} ${MY_RESOURCES})
endfunction()

function(slicerMacroBuildScriptedCLI)
  cmake_parse_arguments(MY "NO_INSTALL;VERBOSE" "NAME;FOLDER" "" ${ARGN})
  if(MY_UNPARSED_ARGUMENTS OR NOT MY_NAME)
    message(FATAL_ERROR "SlicerMacroBuildScriptedCLI: bad arguments '${ARGN}'")
  endif()
  _stub_package(${MY_NAME}.py ${MY_NAME}.xml)
endfunction()

function(slicer_add_python_unittest)
  cmake_parse_arguments(MY "" "SCRIPT;TESTNAME_PREFIX" "SLICER_ARGS" ${ARGN})
  _stub_package(${MY_SCRIPT})
endfunction()

function(install)
  cmake_parse_arguments(MY "" "DESTINATION;COMPONENT;RENAME" "FILES;PERMISSIONS" ${ARGN})
  _stub_package(${MY_FILES})
endfunction()
"""


def stub_config_version(version: str) -> str:
    """A SlicerConfigVersion.cmake as Slicer writes it (CMake/SlicerConfigVersion.cmake.in)."""
    return (f'set(PACKAGE_VERSION "{version}")\n'
            'if("${PACKAGE_VERSION}" VERSION_LESS "${PACKAGE_FIND_VERSION}")\n  set(PACKAGE_VERSION_COMPATIBLE FALSE)\n'
            'else()\n  set(PACKAGE_VERSION_COMPATIBLE TRUE)\nendif()\n')

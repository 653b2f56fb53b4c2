# USER_C_MODULES for CMake ports: include every module of this directory.
include(${CMAKE_CURRENT_LIST_DIR}/openamp/micropython.cmake)

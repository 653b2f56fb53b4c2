# amp's `openamp` module as a MicroPython user C module (CMake ports):
#
#     make USER_C_MODULES=/path/to/amp/micropython/micropython.cmake
#
# This lists the library and the binding core. A CMake port is a
# microcontroller: it needs a platform file for its chip (bind/ampy_*.c)
# added with AMP_MICROPY_PLATFORM_SOURCES; see the README.
add_library(usermod_openamp_amp INTERFACE)
get_filename_component(AMP_TOP ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
target_sources(usermod_openamp_amp INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modopenamp.c
    ${AMP_TOP}/src/amp_vring.c
    ${AMP_TOP}/src/amp_rpmsg.c
    ${AMP_TOP}/src/amp_rsc.c
    ${AMP_TOP}/src/amp_elf.c
    ${AMP_TOP}/src/amp_rproc.c
    ${AMP_TOP}/bind/ampy.c
    ${AMP_MICROPY_PLATFORM_SOURCES}
)
target_include_directories(usermod_openamp_amp INTERFACE
    ${AMP_TOP}/include ${AMP_TOP}/bind ${AMP_MICROPY_PLATFORM_INCLUDES})
# Wake-ups go through a static scheduler node (a flag for the whole firmware).
target_compile_definitions(usermod_openamp_amp INTERFACE MICROPY_PY_OPENAMP_AMP=1
    "MICROPY_SCHEDULER_STATIC_NODES=(1)")
target_link_libraries(usermod INTERFACE usermod_openamp_amp)

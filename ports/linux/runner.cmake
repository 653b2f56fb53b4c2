# amp-vcore-run: the Linux virtual core's runner, which the host spawns to
# run firmware under strict seccomp (amp_vcore_run.c). Included from
# ports/linux/CMakeLists.txt.
#
# Static, so that it needs no loader or shared library once the sandbox
# is up, and never built with sanitizers: their runtime would make system
# calls that strict seccomp forbids (and would own the addresses the
# firmware's memory goes to). Hence no amp_host_target().
add_executable(amp-vcore-run ${CMAKE_CURRENT_LIST_DIR}/amp_vcore_run.c)
set_target_properties(amp-vcore-run PROPERTIES C_STANDARD 11 C_EXTENSIONS OFF
  POSITION_INDEPENDENT_CODE OFF)
target_compile_options(amp-vcore-run PRIVATE ${AMP_WARNINGS} -fno-sanitize=all)
# The kernel puts a static binary's heap anywhere up to 1 GiB past its end
# (x86-64 brk randomisation): linked at 0x400000 that covers the core's
# regions (0x10000000, 0x20000000) now and then, and mapping them fails.
target_link_options(amp-vcore-run PRIVATE -static -s -fno-sanitize=all -Wl,-Ttext-segment=0x40000000)

/*
 * amp_vcore_blob.S - the virtual core's runner executable, built into the
 * host library, so a program (or a Python extension) needs no path to it.
 * AMP_VCORE_RUNNER_FILE is the runner's path at build time.
 */
    .section .rodata.amp_vcore_runner, "a"
    .balign 16
    .globl amp_vcore_runner_start
amp_vcore_runner_start:
    .incbin AMP_VCORE_RUNNER_FILE
    .globl amp_vcore_runner_end
amp_vcore_runner_end:
    .section .note.GNU-stack, "", @progbits

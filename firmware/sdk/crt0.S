/*
 * crt0.S - entry point of firmware for the Linux virtual core.
 *
 * The runner calls _start (rdi = 0, reserved) on a stack of its own. We
 * move to our stack at the top of
 * RAM (__stack_top, from link.ld), call main and pass its return value
 * to exit (60), the only exit strict seccomp allows (exit_group, 231,
 * would kill us).
 *
 * .bss is not cleared here: the host loads the whole image at every start
 * and zero-fills each segment past its file size, so .bss (and .data)
 * are fresh on every run, restarts included.
 */
    .section .text._start, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    mov     $__stack_top, %rsp      /* 16-byte aligned: call leaves main the ABI's rsp % 16 == 8 */
    xor     %ebp, %ebp              /* end of the frame chain for debuggers */
    call    main
    mov     %eax, %edi              /* exit(main()) */
    mov     $60, %eax
    syscall
    ud2                             /* not reached: exit does not return */
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits

# MicroPython's qemu port on QEMU's mps2-an521, core 0 (a Cortex-M33
# without FPU or DSP extension), with amp's openamp module driving core 1:
#
#   make -C ports/qemu BOARD=MPS2_AN521 BOARD_DIR=<amp>/ports/an521/micropython \
#        USER_C_MODULES=<amp>/micropython
#
# Board-only: MicroPython is not changed. Its uart.c knows the MPS2 UART
# at AN385's address only, so no QEMU_SOC_* is defined (uart.c compiles
# to nothing) and board_uart.c here drives the AN521's UART0.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an521

CFLAGS += -mthumb -mcpu=cortex-m33+nodsp -mfloat-abi=soft
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M33"'
CFLAGS += -DCPU_FREQ_HZ=20000000
# the openamp module schedules its polls from the MHU interrupts: static
# nodes (spelt "(1)" as amp's micropython.mk spells it: both are on the
# command line), and atomic sections that mask interrupts (the port has none)
CFLAGS += -D'MICROPY_SCHEDULER_STATIC_NODES=(1)'
CFLAGS += -include $(BOARD_DIR)/board_atomic.h

LDSCRIPT = $(BOARD_DIR)/an521.ld
SRC_C += $(BOARD_DIR)/board_uart.c $(BOARD_DIR)/board_sleep.c
# time.sleep runs scheduled work (openamp's callbacks) while it waits
LDFLAGS += --wrap=mp_hal_delay_ms
# the Thumb-2 assembly helper is built for cortex-m3 and clashes with v8-M objects
SRC_BOARD_O = shared/runtime/gchelper_generic.o

MPY_CROSS_FLAGS += -march=armv7m

# amp's module: core 1 of this board (micropython/openamp/micropython.mk)
AMP_PLATFORM = an521
# semihosting loads core 1's firmware by path
QEMU_ARGS += -semihosting-config enable=on,target=native
# nothing frozen: the port's default manifest wants micropython-lib (unittest)
FROZEN_MANIFEST ?=
# 2 MiB of SSRAM1's 4 for the heap: the tests move 64 KiB messages
MICROPY_HEAP_SIZE ?= 2097152

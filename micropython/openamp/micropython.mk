# amp's `openamp` module as a MicroPython user C module (make ports):
#
#     make -C ports/unix USER_C_MODULES=/path/to/amp/micropython
#     make -C ports/stm32 BOARD=ARDUINO_GIGA USER_C_MODULES=/path/to/amp/micropython
#
# AMP_PLATFORM picks the remote core: linux (the virtual core; the unix
# port's default), stm32h7 (the Cortex-M4 of an STM32H747/H755; other
# ports' default) or an521 (core 1 of QEMU's mps2-an521).
# MicroPython's own openamp module (MICROPY_PY_OPENAMP,
# extmod/modopenamp.c) must be off.
OPENAMP_MOD_DIR := $(USERMOD_DIR)
AMP_TOP := $(abspath $(OPENAMP_MOD_DIR)/../..)
AMP_PLATFORM ?= $(if $(filter unix,$(notdir $(CURDIR))),linux,stm32h7)

SRC_USERMOD_C += $(OPENAMP_MOD_DIR)/modopenamp.c
SRC_USERMOD_LIB_C += $(addprefix $(AMP_TOP)/, \
	src/amp_vring.c src/amp_rpmsg.c src/amp_rsc.c src/amp_elf.c src/amp_rproc.c bind/ampy.c)
CFLAGS_USERMOD += -I$(AMP_TOP)/include -I$(AMP_TOP)/bind -DMICROPY_PY_OPENAMP_AMP=1
# Wake-ups go through a static scheduler node, which cannot be refused
# (the flag applies to the whole build; "(1)" as ports that set it spell it).
CFLAGS_USERMOD += -D'MICROPY_SCHEDULER_STATIC_NODES=(1)'

# The STM32H7 build's settings (tools/footprint.sh measures with them
# too; keep them on one line). A small target's library: the M7 is the
# host (no device half), errno codes without reason sentences, one
# context (no lock), SRAM4 uncached by the MPU (no cache maintenance),
# rings from the resource table only, the layout's features only (NS, no
# event-idx), no waiting for a send buffer (the module waits). The
# binding: the platform sizes the event nodes from the layout's ring and
# keeps them, with the rest of the device, on the GC heap while it is
# open; one context (no lock, no descriptors), no links of its own, no
# reason sentences (OSError(errno) alone). The module: no _stats(), no
# fileno() (no descriptors), none of the extras upstream lacks and the
# spec does not name (read/readinto/write and the stream protocol, repr,
# trace(), src/dest/name/state). The port: no reason sentences, no
# cooperative stop (the platform gives it no park block).
AMP_STM32H7_CFLAGS := -DAMP_CFG_REMOTE=0 -DAMP_CFG_REASONS=0 -DAMPY_REASONS=0 -DAMP_STM32H7_REASONS=0 -DAMP_CFG_LOCK=0 -DAMP_CFG_CACHE=0 -DAMP_CFG_VRING_PARTS=0 -DAMP_CFG_VRING_EVENT_IDX=0 -DAMP_CFG_RPMSG_WAIT=0 -DAMPY_EVENTS=0 -DAMPY_LINKS=0 -DAMPY_ONE_CONTEXT=1 -DAMPY_OPEN_WHY_LEN=1 -DMICROPY_PY_OPENAMP_AMP_STATS=0 -DMICROPY_PY_OPENAMP_AMP_FILENO=0 -DMICROPY_PY_OPENAMP_AMP_REPR=0 -DMICROPY_PY_OPENAMP_AMP_TRACE=0 -DMICROPY_PY_OPENAMP_AMP_STREAM=0 -DMICROPY_PY_OPENAMP_AMP_ATTRS=0 -DAMP_STM32H7_PARK_STOP=0

ifeq ($(AMP_PLATFORM),an521)
# QEMU's mps2-an521: the board in ports/an521/micropython sets AMP_PLATFORM
SRC_USERMOD_C += $(OPENAMP_MOD_DIR)/platform_an521.c
SRC_USERMOD_LIB_C += $(AMP_TOP)/ports/an521/amp_an521.c $(AMP_TOP)/ports/an521/an521_semi.c
CFLAGS_USERMOD += -I$(AMP_TOP)/ports/an521 -DAMPY_EVENTS=96 -DAMPY_LINKS=0 -DAMPY_OPEN_WHY_LEN=1
else ifeq ($(AMP_PLATFORM),stm32h7)
SRC_USERMOD_C += $(OPENAMP_MOD_DIR)/platform_stm32h7.c
SRC_USERMOD_LIB_C += $(AMP_TOP)/ports/stm32h7/amp_stm32h7.c
CFLAGS_USERMOD += -I$(AMP_TOP)/ports/stm32h7 $(AMP_STM32H7_CFLAGS)
else
SRC_USERMOD_LIB_C += $(addprefix $(AMP_TOP)/, bind/ampy_linux.c \
	ports/linux/amp_linux.c ports/linux/amp_vcore.c ports/linux/amp_host.c)
SRC_USERMOD_LIB_ASM += $(OPENAMP_MOD_DIR)/runner_blob.S

AMP_RUNNER := $(abspath $(BUILD))/amp-vcore-run
CFLAGS_USERMOD += -I$(AMP_TOP)/ports/linux -DAMP_VCORE_RUNNER_FILE='"$(AMP_RUNNER)"'
LIBS_USERMOD += -lpthread

# The runner is a static executable of its own, carried in the module.
$(BUILD)/openamp/runner_blob.o: $(AMP_RUNNER)
$(AMP_RUNNER): $(AMP_TOP)/ports/linux/amp_vcore_run.c $(OPENAMP_MOD_DIR)/micropython.mk
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -O2 -static -s -Wl,-Ttext-segment=0x40000000 -o $@ $<
endif

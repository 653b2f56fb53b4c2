# amp - the two commands, and a few more.
#
#   make demo    build everything and run the spec's example on the virtual core
#   make test    build everything and run the whole test suite
#
# Both install missing Debian packages first (make deps).
#
# PYTHON is Debian's interpreter on purpose: it is the one that sees Debian's
# python3-pytest and python3-dev headers (a python3 earlier on PATH, such as
# a pyenv build, may not).

PYTHON ?= /usr/bin/python3
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

DEB_PACKAGES = cmake make gcc libc6-dev clang libclang-rt-14-dev gcc-arm-none-eabi \
	libnewlib-arm-none-eabi python3 python3-dev python3-pytest python3-setuptools \
	python3-pip python3-venv qemu-system-arm \
	linux-source-6.12 bc flex bison libssl-dev libelf-dev patch xz-utils

.PHONY: all deps build python demo test test-micropython test-qemu test-micropython-qemu test-linux \
	bench fuzz footprint clean

all: build python

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# The CPython extension, built in place (python/openamp/_openamp*.so).
python: deps
	$(PYTHON) setup.py -q build_ext --inplace -b $(BUILD)/python -t $(BUILD)/python/tmp

demo: build python
	cd $(BUILD)/firmware && PYTHONPATH=$(CURDIR)/python $(PYTHON) $(CURDIR)/examples/demo.py

test: build python
	PYTHON=$(PYTHON) BUILD=$(BUILD) JOBS=$(JOBS) sh tools/run-tests.sh

# The shared Python tests on a MicroPython binary of your own:
#   MICROPYTHON=/path/to/micropython make test-micropython
test-micropython: build
	PYTHON=$(PYTHON) BUILD=$(BUILD) sh tools/run-micropython-tests.sh

# amp on QEMU's mps2-an521 (two Cortex-M33): host on core 0, firmware on
# core 1, both TCG modes; also a stage of make test.
test-qemu: deps
	sh tools/test-qemu.sh $(BUILD)/an521

# The shared Python tests on MicroPython in QEMU's mps2-an521, a qemu-port
# binary of your own (see the README, "The emulated board"):
#   MICROPYTHON_QEMU=/path/to/firmware.elf make test-micropython-qemu
test-micropython-qemu: deps
	PYTHON=$(PYTHON) BUILD=$(BUILD) sh tools/run-micropython-qemu.sh

bench: build python
	$(BUILD)/bench/amp-bench
	cd $(BUILD)/firmware && PYTHONPATH=$(CURDIR)/python $(PYTHON) $(CURDIR)/bench/py_bench.py
	BUILD=$(BUILD) sh tests/uml/test-linux.sh --bench

# Linux 6.12's own rpmsg against amp serve --vhost-user, in User-Mode Linux
# (the kernel is built once, 5-20 min on 2 cores, and cached outside the clone).
test-linux: build
	BUILD=$(BUILD) sh tests/uml/test-linux.sh

# Fuzz every target for FUZZ_SECONDS each (default 600).
fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} BUILD=$(BUILD) sh fuzz/run.sh

footprint: deps
	sh tools/footprint.sh $(BUILD)/m4

clean:
	rm -rf $(BUILD) python/openamp/_openamp*.so

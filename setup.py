"""Build the `openamp` CPython module: the C library, the Linux virtual core
(its runner built in) and the binding, in one extension; and the example
firmware virtual_uart.elf, shipped in the package (openamp/firmware/), so
that `python -m openamp.demo` runs the spec's example from any directory.

    pip install --no-build-isolation .        # offline, with Debian's setuptools
    python3 setup.py build_ext --inplace      # what `make` does for the tests
"""
import os
import platform
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def rel(*parts):
    return os.path.join(*parts)


LIB = [rel("src", f) for f in ("amp_vring.c", "amp_rpmsg.c", "amp_rsc.c", "amp_elf.c", "amp_rproc.c")]
LINUX = [rel("ports", "linux", f) for f in ("amp_linux.c", "amp_vcore.c", "amp_host.c", "amp_vcore_blob.S")]
BIND = [rel("bind", f) for f in ("ampy.c", "ampy_linux.c", "ampy_kernel.c", "ampy_kernel_rproc.c")]
BIND += [rel("bind", "cpython", "modopenamp.c")]


# The example firmware, built as firmware/CMakeLists.txt builds it (the
# flags of vc_flags, the remote-only library, the SDK, its linker script).
FW_SOURCES = [rel("firmware", "sdk", "crt0.S"), rel("firmware", "examples", "virtual_uart.c"),
              rel("firmware", "sdk", "rsc_table.c"), rel("firmware", "sdk", "vcore.c"),
              rel("firmware", "sdk", "vc_common.c"), rel("firmware", "sdk", "host_table.c"),
              rel("firmware", "sdk", "libc.c"),
              rel("src", "amp_vring.c"), rel("src", "amp_rpmsg.c"), rel("src", "amp_rsc.c")]
FW_CFLAGS = ["-std=c11", "-ffreestanding", "-fno-pie", "-fno-pic", "-fno-stack-protector",
             "-fcf-protection=none", "-fno-asynchronous-unwind-tables", "-fno-builtin",
             "-U_FORTIFY_SOURCE", "-ffunction-sections", "-fdata-sections", "-O2",
             "-fno-tree-loop-distribute-patterns", "-DAMP_CFG_HOST=0", "-Iinclude",
             "-I" + rel("firmware", "sdk"), "-I" + rel("ports", "linux")]
FW_LDFLAGS = ["-nostdlib", "-static", "-no-pie", "-Wl,--build-id=none", "-Wl,--gc-sections",
              "-T", rel("firmware", "sdk", "link.ld")]


def build_firmware(cc, tmp):
    """virtual_uart.elf in tmp, or None where the virtual core cannot run."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64", "amd64"):
        return None
    objs = []
    for src in FW_SOURCES:
        obj = os.path.join(tmp, "fw_" + os.path.basename(src) + ".o")
        subprocess.check_call([cc] + FW_CFLAGS + ["-c", src, "-o", obj])
        objs.append(obj)
    elf = os.path.join(tmp, "virtual_uart.elf")
    subprocess.check_call([cc] + FW_LDFLAGS + objs + ["-o", elf])
    return elf


class BuildExt(build_ext):
    """Build the virtual core's runner first: the extension carries it;
    then the example firmware, which the package carries."""

    def run(self):
        super().run()
        tmp = os.path.abspath(self.build_temp)
        os.makedirs(tmp, exist_ok=True)
        elf = build_firmware(self.compiler.compiler_so[0] if self.compiler else "cc", tmp)
        if elf:
            dest = rel("python", "openamp", "firmware") if self.inplace else \
                os.path.join(self.build_lib, "openamp", "firmware")
            os.makedirs(dest, exist_ok=True)
            shutil.copy(elf, dest)

    def build_extensions(self):
        cc = self.compiler
        cc.src_extensions.append(".S")
        tmp = os.path.abspath(self.build_temp)
        os.makedirs(tmp, exist_ok=True)
        objs = cc.compile([rel("ports", "linux", "amp_vcore_run.c")], output_dir=tmp,
                          extra_postargs=["-std=c11", "-O2"])
        # linked high, so that its heap never lands on the core's memory (runner.cmake)
        cc.link_executable(objs, "amp-vcore-run", output_dir=tmp,
                           extra_postargs=["-static", "-s", "-Wl,-Ttext-segment=0x40000000"])
        runner = os.path.join(tmp, "amp-vcore-run")
        for ext in self.extensions:
            ext.define_macros.append(("AMP_VCORE_RUNNER_FILE", '"%s"' % runner))
            ext.depends.append(runner)
        super().build_extensions()


setup(
    name="openamp",
    version="0.1.0",
    description="Asymmetric multiprocessing: RPMsg endpoints and remoteproc, over the amp library",
    package_dir={"": "python"},
    packages=["openamp"],
    ext_modules=[
        Extension(
            "openamp._openamp",
            sources=LIB + LINUX + BIND,
            include_dirs=["include", "src", rel("ports", "linux"), "bind"],
            extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers",
                                "-Wno-cast-function-type"],
            libraries=["pthread"],
        )
    ],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.9",
)

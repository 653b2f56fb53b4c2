"""Build the `openamp` CPython module: the C library, the Linux virtual core
(its runner built in) and the binding, in one extension.

    pip install --no-build-isolation .        # offline, with Debian's setuptools
    python3 setup.py build_ext --inplace      # what `make` does for the tests
"""
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def rel(*parts):
    return os.path.join(*parts)


LIB = [rel("src", f) for f in ("amp_vring.c", "amp_rpmsg.c", "amp_rsc.c", "amp_elf.c", "amp_rproc.c")]
LINUX = [rel("ports", "linux", f) for f in ("amp_linux.c", "amp_vcore.c", "amp_host.c", "amp_vcore_blob.S")]
BIND = [rel("bind", f) for f in ("ampy.c", "ampy_linux.c", "ampy_kernel.c", "ampy_kernel_rproc.c")]
BIND += [rel("bind", "cpython", "modopenamp.c")]


class BuildExt(build_ext):
    """Build the virtual core's runner first: the extension carries it."""

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

"""Builds the one compiled module, imdesk.diag._fastmine (the log miner's hot steps, in Cython).

Everything else is in pyproject.toml. The module is optional: where it cannot be built (no C
compiler, no Python headers) the install goes on without it, with a warning, and the miner runs the
same rules in pure Python (slower)."""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def build_extension(self, ext):  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - any build failure leaves the pure-Python miner
            self.warn(f"imdesk: {ext.name} not built ({exc}); the log miner runs in pure Python")

    # only what was built: an editable install copies these
    def get_outputs(self):  # type: ignore[no-untyped-def]
        return [p for p in super().get_outputs() if os.path.exists(p)]

    def get_output_mapping(self):  # type: ignore[no-untyped-def]
        return {dst: src for dst, src in super().get_output_mapping().items() if os.path.exists(src)}


try:
    from Cython.Build import cythonize
except ImportError:  # no Cython in the build environment: pure Python
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("imdesk.diag._fastmine", ["src/imdesk/diag/_fastmine.pyx"])],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )
    for _ext in ext_modules:  # cythonize does not carry it over
        _ext.optional = True

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})

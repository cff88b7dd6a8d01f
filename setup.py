"""Builds the one compiled module, imdesk.diag._fastmine (the miner's clustering step, in Cython).

Everything else is in pyproject.toml. The module is optional: without a C compiler the build goes on
without it and the miner uses its Python methods (the same rules, slower)."""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # no Cython in the build environment: pure Python
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("imdesk.diag._fastmine", ["src/imdesk/diag/_fastmine.pyx"], optional=True)],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )

setup(ext_modules=ext_modules)

"""How kernels/raster.cu gets onto the GPU: pycuda (the Jetson) or CuPy.

Both compile the same source with the same options and launch the same
kernels; the renderer only sees this small interface. Importing this module
needs neither; `find_launcher` raises BackendUnavailable with both reasons when
no launcher works.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from dmask.backends import BackendUnavailable

Kernel = Callable[[tuple, tuple, tuple], None]  # (grid, block, arguments)


class Launcher(Protocol):
    name: str

    def compile(self, source: str, options: tuple[str, ...], names: tuple[str, ...]) -> dict[str, Kernel]: ...

    def to_device(self, array: np.ndarray): ...

    def empty(self, shape: tuple[int, ...], dtype: type): ...

    def get(self, array, out: np.ndarray | None) -> np.ndarray: ...


class CupyLauncher:
    name = "cupy"

    def __init__(self) -> None:
        try:
            import cupy
        except ImportError as error:
            raise BackendUnavailable(f"CuPy is not installed ({error})") from error
        try:
            if cupy.cuda.runtime.getDeviceCount() < 1:
                raise BackendUnavailable("no CUDA device found")
        except cupy.cuda.runtime.CUDARuntimeError as error:
            raise BackendUnavailable(f"CUDA runtime: {error}") from error
        self.cp = cupy

    def compile(self, source: str, options: tuple[str, ...], names: tuple[str, ...]) -> dict[str, Kernel]:
        module = self.cp.RawModule(code=source, options=options)
        return {name: module.get_function(name) for name in names}

    def to_device(self, array: np.ndarray):
        return self.cp.asarray(array)

    def empty(self, shape: tuple[int, ...], dtype: type):
        return self.cp.empty(shape, dtype)

    def get(self, array, out: np.ndarray | None) -> np.ndarray:
        return array.get(out=out) if out is not None else array.get()


class PycudaLauncher:
    name = "pycuda"

    def __init__(self) -> None:
        try:
            import pycuda.autoinit  # noqa: F401 - creates the context on device 0
            import pycuda.gpuarray as gpuarray
            from pycuda.compiler import SourceModule
        except ImportError as error:
            raise BackendUnavailable(f"pycuda is not installed ({error})") from error
        except Exception as error:  # noqa: BLE001 - pycuda raises its own types when there is no device
            raise BackendUnavailable(f"pycuda found no usable device ({error})") from error
        self.gpuarray, self.source_module = gpuarray, SourceModule

    def compile(self, source: str, options: tuple[str, ...], names: tuple[str, ...]) -> dict[str, Kernel]:
        module = self.source_module(source, options=list(options), no_extern_c=True)
        functions = {name: module.get_function(name) for name in names}
        return {name: self._launching(function) for name, function in functions.items()}

    @staticmethod
    def _launching(function) -> Kernel:
        def launch(grid: tuple, block: tuple, arguments: tuple) -> None:
            raw = [a.gpudata if hasattr(a, "gpudata") else a for a in arguments]
            function(*raw, grid=tuple(grid) + (1,) * (2 - len(grid)), block=tuple(block) + (1,) * (3 - len(block)))

        return launch

    def to_device(self, array: np.ndarray):
        return self.gpuarray.to_gpu(np.ascontiguousarray(array))

    def empty(self, shape: tuple[int, ...], dtype: type):
        return self.gpuarray.empty(shape, dtype)

    def get(self, array, out: np.ndarray | None) -> np.ndarray:
        return array.get(ary=out) if out is not None else array.get()


def find_launcher() -> Launcher:
    """pycuda where it works (the Jetson's launcher), else CuPy."""
    reasons = []
    for launcher in (PycudaLauncher, CupyLauncher):
        try:
            return launcher()
        except BackendUnavailable as reason:
            reasons.append(str(reason))
    raise BackendUnavailable("; ".join(reasons))

"""CUDA plumbing shared by every generated kernel (flash, the classical baselines' kernels):
compile once with CuPy ``RawModule`` (NVRTC, CuPy's on-disk cache), launch on torch's current
stream with torch-allocated tensors, and a ptxas report for CI (registers, spills)."""

from __future__ import annotations

import ctypes
import functools
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

CUDA_OPTIONS = ("--std=c++17", "-default-device")


def cupy_available() -> bool:
    """True when CuPy imports and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def load_module(source: str, name_expressions: tuple[str, ...], options: tuple[str, ...] = CUDA_OPTIONS):
    """Compile ``source`` once per process (CuPy also caches the binary on disk)."""
    import cupy

    module = cupy.RawModule(code=source, options=options, name_expressions=name_expressions)
    module.compile()
    return module


class ArgumentSlots:
    """A reused argument block for ``cuLaunchKernel``: ``n`` 8-byte values (a device pointer or an integer;
    a 4-byte int parameter reads its slot's low half) and the array of pointers to them that the driver
    reads, so a launch packs its values with one ``struct.pack_into``."""

    def __init__(self, n: int):
        self.values = (ctypes.c_int64 * n)()
        base = ctypes.addressof(self.values)
        self._pointers = (ctypes.c_void_p * n)(*(base + 8 * k for k in range(n)))
        self.address = ctypes.addressof(self._pointers)
        self._packer = struct.Struct(f"{n}q")

    def pack(self, values: Sequence[int]) -> None:
        self._packer.pack_into(self.values, 0, *values)


class Kernel:
    """One kernel of a compiled module on one device, launched by ``cuLaunchKernel`` (CuPy's driver
    binding) from reused argument slots: one driver call instead of RawKernel's ~30 us of argument
    handling."""

    def __init__(self, module, name: str, device: int):
        import cupy
        from cupy.cuda import driver

        with cupy.cuda.Device(device):
            self.function = module.get_function(name).kernel  # keeps the loaded module alive
        self._launch_kernel = driver.launchKernel
        self._slots: dict[int, ArgumentSlots] = {}
        self._lock = threading.Lock()

    def __call__(
        self, grid: Sequence[int], block: Sequence[int], args: Sequence[Any], shared_mem: int, stream: int
    ) -> None:
        values = [a.data_ptr() if isinstance(a, torch.Tensor) else _integer(a) for a in args]
        gx, gy, gz = (*grid, 1, 1)[:3]
        bx, by, bz = (*block, 1, 1)[:3]
        with self._lock:  # the slots are shared by threads; the driver copies them at launch
            slots = self._slots.get(len(values))
            if slots is None:
                slots = self._slots[len(values)] = ArgumentSlots(len(values))
            slots.pack(values)
            self._launch_kernel(self.function.ptr, gx, gy, gz, bx, by, bz, shared_mem, stream, slots.address, 0)


def _integer(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"kernel arguments must be tensors or integers, got {type(value).__name__}")


@functools.lru_cache(maxsize=None)
def _kernel(module, name: str, device: int) -> Kernel:
    return Kernel(module, name, device)


def launch(
    module, name: str, grid: Sequence[int], block: Sequence[int], args: Sequence[Any], shared_mem: int = 0
) -> None:
    """Launch kernel ``name`` (a name expression of ``module``) on torch's current stream of the device
    of the first argument (a tensor)."""
    device = args[0].get_device()
    if device != torch.cuda.current_device():
        with torch.cuda.device(device):
            return launch(module, name, grid, block, args, shared_mem)
    stream = torch._C._cuda_getCurrentRawStream(device)  # the int handle, without building a Stream object
    _kernel(module, name, device)(grid, block, args, shared_mem, stream)


def nvcc_available() -> bool:
    return shutil.which("nvcc") is not None


def ptxas_report(source: str, arch: str = "sm_90", extra: Sequence[str] = ()) -> dict[str, dict[str, int]]:
    """Compile ``source`` to a cubin with ``nvcc -Xptxas -v`` and return, per kernel, its
    registers and spill stores/loads (bytes). Raises ``RuntimeError`` with nvcc's output on failure."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "kernel.cu"
        src.write_text(source)
        cmd = [
            "nvcc",
            f"-arch={arch}",
            "-cubin",
            "-std=c++17",
            "-Xptxas",
            "-v",
            *extra,
            "-o",
            str(Path(tmp) / "kernel.cubin"),
            str(src),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nvcc failed ({' '.join(cmd)}):\n{proc.stderr}")
    report: dict[str, dict[str, int]] = {}
    current = None
    for line in proc.stderr.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            current = m.group(1)
            report[current] = {"registers": 0, "spill_stores": 0, "spill_loads": 0}
            continue
        if current is None:
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            report[current]["spill_stores"] = int(m.group(1))
            report[current]["spill_loads"] = int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            report[current]["registers"] = int(m.group(1))
    return report

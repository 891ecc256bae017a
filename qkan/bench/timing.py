"""Clocks for ``qkan bench``: the median of timed repeats (CUDA events on GPU), and a call's host
time (launching it) next to its GPU time (running it)."""

from __future__ import annotations

import functools
import statistics
import time
from typing import Any, Callable, Optional, Sequence

import torch

HOST_CALLS = 50  # calls per host/GPU measurement on CUDA (few enough that the launch queue does not fill)
SLEEP_MARGIN = 1.5  # the stream is held this many times the measured host time, plus SLEEP_EXTRA_US
SLEEP_EXTRA_US = 1000.0
CALIBRATION_CYCLES = 1_000_000


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn`` in ms: warm-up first, CUDA events on GPU, perf_counter on CPU."""
    return time_interleaved_ms([fn], device, repeats, warmup)[0]


def time_interleaved_ms(
    fns: Sequence[Callable[[], Any]], device: torch.device, repeats: int, warmup: int = 3
) -> list[float]:
    """Median wall time in ms of each of ``fns``, timed in turn within every repeat, so that a slow spell of a
    shared machine falls on all of them alike (their ratios are what a comparison quotes)."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    sync(device)
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, samples):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
    return [statistics.median(times) for times in samples]


@functools.lru_cache(maxsize=None)
def _sleep_cycles_per_us(device_index: int) -> float:
    """How many ``torch.cuda._sleep`` cycles make a microsecond on this GPU (measured once)."""
    with torch.cuda.device(device_index):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(CALIBRATION_CYCLES)  # the first launch loads the kernel
        start.record()
        torch.cuda._sleep(CALIBRATION_CYCLES)
        end.record()
        end.synchronize()
        return CALIBRATION_CYCLES / (start.elapsed_time(end) * 1e3)


def host_and_gpu_us(
    fn: Callable[[], Any], device: torch.device, calls: int = HOST_CALLS
) -> tuple[float, Optional[float]]:
    """(host µs, GPU µs) per call of ``fn``. Host: wall clock over ``calls`` calls without a sync (the time to
    launch them; on CPU, to run them). GPU (CUDA only, else None): CUDA events around the same calls queued
    behind a sleep kernel that holds the stream until the host has launched them all, so the device runs them
    back to back and the events time its work without launch gaps. Host above GPU: the call is launch-bound."""
    fn()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    host_us = (time.perf_counter() - t0) * 1e6 / calls
    if device.type != "cuda":
        return host_us, None
    sync(device)
    hold = int(
        (host_us * calls * SLEEP_MARGIN + SLEEP_EXTRA_US)
        * _sleep_cycles_per_us(torch.cuda.current_device() if device.index is None else device.index)
    )
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(hold)
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    end.synchronize()
    return host_us, start.elapsed_time(end) * 1e3 / calls

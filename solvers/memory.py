"""How much memory a device has free: what auto weighs its estimates against and cutn's fractional
``memory_limit`` is taken of."""

from __future__ import annotations

import os

import torch


def free_memory(device: torch.device) -> int:
    """Free bytes on ``device``: the CUDA allocator's view on GPU, available RAM on CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

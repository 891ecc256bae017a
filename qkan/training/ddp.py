"""DistributedDataParallel plumbing: under ``torchrun`` (WORLD_SIZE > 1) the trainer joins a process
group (NCCL on GPUs, gloo on CPU), wraps the model, and sums metrics across ranks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, its device, and whether this context started the
    process group (and so must end it)."""

    rank: int
    world: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def resolve_device(device: Optional[str]) -> torch.device:
    """ "auto"/None: CUDA when available, else CPU; otherwise the named device."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    return resolved


def init_distributed(device: Optional[str] = None) -> DistContext:
    """Join the process group torchrun describes in the environment, or run alone when WORLD_SIZE <= 1.
    Under DDP each rank uses cuda:LOCAL_RANK when the device is CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    base = resolve_device(device)
    if world <= 1:
        return DistContext(0, 1, base)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if base.type == "cuda":
        base = torch.device("cuda", local_rank)
        torch.cuda.set_device(base)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if base.type == "cuda" else "gloo", rank=rank, world_size=world)
    return DistContext(rank, world, base, owns_group)


def wrap_model(model: nn.Module, ctx: DistContext) -> nn.Module:
    """The model itself when alone, else a DistributedDataParallel wrapper (gradients averaged)."""
    if not ctx.distributed:
        return model
    return DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The element-wise sum of ``values`` over ranks (unchanged when alone)."""
    if ctx.distributed:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def shutdown(ctx: DistContext) -> None:
    """End the process group if this context started it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()

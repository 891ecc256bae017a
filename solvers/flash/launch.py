"""Grids, buffers and launches of one compiled set of flash kernels (docs/design.md, "Flash kernels").
The launch geometry of each call signature (batch, dtype, the gradients asked for) is computed once;
every argument tuple comes from the kernel's declared ABI (abi.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, Sequence, Union, overload

import torch
from torch import Tensor

from ..cuda_runtime import launch, load_module
from . import abi, kernels, tuning
from .fourier import Codegen

GradTuple = tuple[Optional[Tensor], ...]  # grad x, theta, preacts w, c, postact w, b, base weight
ALL_GRADS = (True,) * 7
C_TYPE = {torch.float32: "float", torch.float64: "double", torch.bfloat16: "qbf16", torch.float16: "qhalf"}
PRECISION = {torch.float32: "full", torch.float64: "full", torch.bfloat16: "reduced", torch.float16: "reduced"}
LAUNCH_CACHE = 64  # call signatures whose launch geometry a kernel set keeps


def _blocks(n: int, per: int) -> int:
    return -(-n // per)


@overload
def group_sum(t: Tensor, groups: Optional[int]) -> Tensor: ...
@overload
def group_sum(t: None, groups: Optional[int]) -> None: ...
def group_sum(t: Optional[Tensor], groups: Optional[int]) -> Optional[Tensor]:
    """Per-edge gradients (O, I, ...) -> per-group (g, ...): edge (o, i) belongs to group i mod g.
    A padded reshape and one torch.sum, so the order of additions is fixed."""
    if groups is None or t is None:
        return t
    out_dim, in_dim = t.shape[:2]
    per_group = _blocks(in_dim, groups)
    if per_group * groups != in_dim:
        t = torch.cat([t, t.new_zeros(out_dim, per_group * groups - in_dim, *t.shape[2:])], dim=1)
    return t.view(out_dim, per_group, groups, *t.shape[2:]).sum(dim=(0, 1))


def backward_tiling(batch: int, out_dim: int, in_dim: int, flat: bool) -> tuple[tuple[int, int], int, int, int]:
    """((edge blocks, output chunks), warps per block, batch tiles, tile length) of the backward grid: a block per
    input and chunk of outputs, or with ``flat`` blocks over consecutive edges; an empty batch has one empty tile."""
    warps = min(tuning.BACKWARD_WARPS, _blocks(out_dim, 32))
    threads = 32 * warps
    blocks = (_blocks(out_dim * in_dim, threads), 1) if flat else (in_dim, _blocks(out_dim, threads))
    if batch == 0:
        return blocks, warps, 1, 0
    per_tile_threads = blocks[0] * blocks[1] * threads
    tiles = max(_blocks(tuning.TARGET_BACKWARD_THREADS, per_tile_threads), _blocks(batch, tuning.MAX_TILE))
    tiles = max(1, min(tiles, _blocks(batch, tuning.MIN_TILE), tuning.MAX_TILES))
    tile = _blocks(batch, tiles)
    return blocks, warps, _blocks(batch, tile), tile


def _pointer(t: Optional[Tensor]) -> Union[Tensor, int]:
    """A kernel argument for an optional output: the tensor, or a null pointer."""
    return 0 if t is None else t


@dataclass(frozen=True)
class ForwardLaunch:
    """The forward's buffers and grids for one call signature."""

    table_shape: tuple[int, int, int]
    out_shape: tuple[int, ...]
    edge_kernel: str
    edge_grid: tuple[int]
    batch_module: Any  # the module of the I/O dtype's precision family
    forward_kernel: str
    forward_grid: tuple[int, int]


@dataclass(frozen=True)
class BackwardLaunch:
    """The backward's buffers, grids and variants for one call signature."""

    part_shape: tuple[int, int, int, int]
    gxp_shape: Optional[tuple[int, int, int]]
    batch_module: Any
    backward_kernel: str
    backward_grid: tuple[int, int, int]
    threads: int
    shared_mem: int
    tiles: int
    tile: int
    param_kernel: str
    param_grid: tuple[int]
    chunks: int


class FlashKernels:
    """The compiled kernels of one (circuit, geometry) and their launches. Parameters, the per-edge table and
    the per-tile sums are in the compute dtype (float32 or float64); x, the output, its cotangent and grad_x in
    the I/O dtype: the compute dtype, or bf16/fp16 over float32 (the "reduced" kernels, compiled when first
    asked for)."""

    def __init__(self, codegen: Codegen):
        self.codegen = codegen
        self.geometry = codegen.plan.geometry
        self.table_size = codegen.layout.table_size
        self.module = load_module(codegen.source, abi.name_expressions("full"))
        self._forward_launch = lru_cache(maxsize=LAUNCH_CACHE)(self._plan_forward)
        self._backward_launch = lru_cache(maxsize=LAUNCH_CACHE)(self._plan_backward)

    def _batch_module(self, io_dtype: torch.dtype) -> Any:
        precision = PRECISION[io_dtype]
        if precision == "full":
            return self.module
        return load_module(kernels.source(self.codegen, precision), abi.name_expressions(precision))

    def _plan_forward(
        self, edge: bool, batch: int, out_dim: int, in_dim: int, dtype: torch.dtype, io_dtype: torch.dtype
    ) -> ForwardLaunch:
        real, io = C_TYPE[dtype], C_TYPE[io_dtype]
        return ForwardLaunch(
            (self.table_size, in_dim, out_dim),
            (batch, out_dim, in_dim) if edge else (batch, out_dim),
            abi.EDGE_TABLE.instance(real, real),
            (_blocks(out_dim * in_dim, tuning.EDGE_THREADS),),
            self._batch_module(io_dtype),
            abi.FORWARD.instance(real, io, EDGE=edge),
            (_blocks(batch, tuning.NB), _blocks(out_dim, 32)),
        )

    def forward(
        self,
        edge: bool,
        x: Tensor,
        theta: Tensor,
        pre_w: Tensor,
        pre_c: Tensor,
        pw: Tensor,
        pb: Tensor,
        bw: Tensor,
        mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """(y (B, O) or, with ``edge``, f (B, O, I), in x's dtype; the per-edge table (P, I, O))."""
        batch, (out_dim, in_dim) = x.shape[0], mask.shape
        plan = self._forward_launch(edge, batch, out_dim, in_dim, theta.dtype, x.dtype)
        table = theta.new_empty(plan.table_shape)
        out = x.new_empty(plan.out_shape)
        launch(
            self.module,
            plan.edge_kernel,
            plan.edge_grid,
            (tuning.EDGE_THREADS,),
            abi.EDGE_TABLE.pack(
                theta=theta,
                pre_w=pre_w,
                pre_c=pre_c,
                pw=pw,
                pb=pb,
                bw=bw,
                mask=mask,
                tab=table,
                O=out_dim,
                I=in_dim,
                G=self.geometry.groups or 0,
            ),
        )
        if batch:
            launch(
                plan.batch_module,
                plan.forward_kernel,
                plan.forward_grid,
                (32 * tuning.INPUT_SPLIT,),
                abi.FORWARD.pack(x=x, tab=table, out=out, B=batch, O=out_dim, I=in_dim),
            )
        return out, table

    def backward_shared_bytes(self, warps: int, span: int, element_size: int) -> int:
        """Dynamic shared memory of a backward block: a chunk's x-only values (of ``span`` inputs), cotangents
        and warp sums."""
        return tuning.BACKWARD_CHUNK[element_size] * (span * self.codegen.x_width + 33 * warps) * element_size

    def _plan_backward(
        self,
        edge: bool,
        batch: int,
        out_dim: int,
        in_dim: int,
        dtype: torch.dtype,
        io_dtype: torch.dtype,
        needed: tuple[bool, ...],
    ) -> BackwardLaunch:
        need_x, _, _, _, need_pw, need_pb, need_bw = map(bool, needed)
        real, io, layout = C_TYPE[dtype], C_TYPE[io_dtype], self.codegen.layout
        flat = not need_x and out_dim > 32 and out_dim % 32 != 0  # else no lane idles over one input's outputs
        sums = not edge and (need_pw or need_pb or need_bw)  # the layer sums, only for a trainable one of these
        (blocks, chunks), warps, tiles, tile = backward_tiling(batch, out_dim, in_dim, flat)
        span = min(in_dim, (32 * warps - 1) // out_dim + 2) if flat else 1  # inputs a block's edges belong to
        n_acc = layout.acc_size if sums else layout.circuit_acc_count
        return BackwardLaunch(
            (tiles, n_acc, in_dim, out_dim),
            (chunks, batch, in_dim) if need_x else None,
            self._batch_module(io_dtype),
            abi.BACKWARD.instance(real, io, EDGE=edge, SUMS=sums, GX=need_x, FLAT=flat),
            (blocks, tiles, chunks),
            32 * warps,
            self.backward_shared_bytes(warps, span, dtype.itemsize),
            tiles,
            tile,
            abi.PARAM_GRADS.instance(real, real, SUMS=sums),
            (_blocks(out_dim * in_dim, 32),),
            chunks,
        )

    def backward(
        self,
        edge: bool,
        gout: Tensor,
        x: Tensor,
        table: Tensor,
        theta: Tensor,
        pw: Tensor,
        pb: Tensor,
        mask: Tensor,
        needed: Sequence[bool] = ALL_GRADS,
    ) -> GradTuple:
        """Gradients in GradTuple order; those ``needed`` marks False are None, never allocated or written
        (for ``edge`` the post-activation and base gradients are zeros)."""
        batch, (out_dim, in_dim) = x.shape[0], mask.shape
        plan = self._backward_launch(edge, batch, out_dim, in_dim, theta.dtype, x.dtype, tuple(needed))
        _, _, need_prew, need_prec, need_pw, need_pb, need_bw = needed
        part = theta.new_empty(plan.part_shape)
        gxp = None if plan.gxp_shape is None else x.new_empty(plan.gxp_shape)
        if batch:
            launch(
                plan.batch_module,
                plan.backward_kernel,
                plan.backward_grid,
                (plan.threads,),
                abi.BACKWARD.pack(
                    x=x, tab=table, gout=gout, part=part, gxp=_pointer(gxp), B=batch, O=out_dim, I=in_dim, TB=plan.tile
                ),
                shared_mem=plan.shared_mem,
            )
        else:
            part.zero_()
            if gxp is not None:
                gxp.zero_()
        edge_shape, cg, groups = (out_dim, in_dim), self.codegen, self.geometry.groups
        g_theta = theta.new_empty(*edge_shape, cg.plan.theta_numel)
        g_prew = theta.new_empty(*edge_shape, cg.plan.reps) if need_prew else None
        g_prec = theta.new_empty(*edge_shape, cg.plan.reps) if need_prec else None
        g_pw, g_pb, g_bw = (theta.new_empty(edge_shape) if need else None for need in (need_pw, need_pb, need_bw))
        launch(
            self.module,
            plan.param_kernel,
            plan.param_grid,
            (32 * tuning.PARAM_WARPS,),
            abi.PARAM_GRADS.pack(
                part=part,
                theta=theta,
                pw=pw,
                pb=pb,
                mask=mask,
                g_theta=g_theta,
                g_prew=_pointer(g_prew),
                g_prec=_pointer(g_prec),
                g_pw=_pointer(g_pw),
                g_pb=_pointer(g_pb),
                g_bw=_pointer(g_bw),
                O=out_dim,
                I=in_dim,
                G=groups or 0,
                tiles=plan.tiles,
            ),
        )
        gx = None if gxp is None else gxp[0] if plan.chunks == 1 else gxp.sum(0)
        g_theta = group_sum(g_theta, groups).view(theta.shape)
        return gx, g_theta, group_sum(g_prew, groups), group_sum(g_prec, groups), g_pw, g_pb, g_bw

"""The flash solver: fused CUDA kernels generated from a single-qubit circuit (solvers/flash_codegen.py),
compiled with CuPy, launched on torch's stream with torch-allocated tensors, wrapped as custom ops
(solvers/flash_ops.py).

Notes (thread mapping and measurements; DESIGN.md §4, issue 3).

Two kernel families share the launch code below: the gate walk (solvers/flash_codegen.py: the Bloch
vector turned by every block and data gate) for any single-qubit circuit, and the Fourier series
(solvers/flash_fourier.py: per-edge coefficients of the Bloch vector in x, one dot product per sample)
where every data gate turns by an integer multiple of x/d (pz, real and mix without pre-activations;
``solver_kwargs={"fourier": False}`` forces the walk).

Forward: one thread per (output o, NB=8 samples), looping over inputs i. Lanes run over o, so the
per-edge table (P, I, O) is read coalesced, the x-only values of a chunk of inputs (sincos or the
Fourier basis, sigma) are staged once per block in shared memory, the sum over i stays in registers
(no reduction, no (B, O, I) tensor) and y[b, o] is written coalesced. The table comes from a small
per-edge kernel (two launches per forward).

Backward: one thread per edge (o, i) looping over a batch tile (grid: inputs x tiles x output chunks,
lanes over o). The tile is processed in chunks of 32 samples (16 in double) whose x-only values and
cotangents the block first loads into shared memory together. Per-edge gradient sums stay in registers
over the tile and are written once per tile; a parameter kernel (32 edges x 8 warps a block: the warps
share the tile sums and, for the Fourier kernels, the circuit walks at the 2K+1 nodes) adds the tiles
in a fixed order and maps the sums to parameter gradients. grad_x is summed over o by warp shuffles,
then over the block's warps in shared memory in a fixed order, then over output chunks by torch.sum: no
atomics anywhere, so gradients are bitwise reproducible. Memory: tiles x P x O x I + chunks x B x I
reals, never B x O x I.

Measured, gate walk (H100, fp32, QKAN([100,100], reps=3, pz), batch 1000; torch.profiler): complex
2-vector state: forward 73 us, backward 193 us; phase gates and rsqrt readout: 61 / 164; Bloch vector:
56 / 113; NB=16: 47 forward; states kept in registers: 96 backward; parameter sums 22 us.
Measured, Fourier kernels (H200, same layer; kernel times per step inside graph replays, torch.profiler;
the gate walk in an eager profile on that machine: forward 48 us, backward 88 us, parameter sums 19 us):
with 16-byte staging loads and the parameter kernel at 8 warps per 32 edges, forward 35 us, backward
63 us, parameter kernel 12.5 us (one thread per edge it took 29 us in an eager profile); amp from r_z
alone away from the poles: backward 53 us; NB=8 and the chunked backward: forward 28 us, backward 44 us.
ncu (clocks 1.96 GHz) on the second version: forward 38 us at 39% of the SM's issue rate with 22% achieved
occupancy, backward 72 us at 37% with 31%: latency-bound, not arithmetic-bound. Graphed train step
(``qkan.make_graphed_train_step``): 0.260 ms (gate walk, Adam's default foreach implementation) ->
0.142-0.147 ms with Adam(fused=False or True) in docs/probes/flash_graph_tune.py, 0.190-0.191 ms with the
default foreach Adam (a loop otherwise alike, and ``qkan bench --graphed``) on the same machine instance.
QKAN([256,256]) b4096 graphed 2.59 -> 1.40 ms (fused=True).
This H200 session (2026-12-02; docs/probes/flash_graph_timeline.py, kernel times inside one replay of the
graphed step, Adam): the backward without grad_x (the input needs none: a model's first layer) computes none
of it, 44.3 -> 38.4 us. With the graphed step's gradients set to None and Adam's per-tensor kernels
(qkan/graphs.py) the graphed step takes 0.134 ms (the earlier code: 0.143 ms with Adam(foreach=False), 0.190
with the default foreach): these kernels 82.7 us (table 4.0, forward 27.5, backward 38.5, parameter kernel
12.7), mse_loss and its backward 16.4 us (the mean's reduction 11.6), Adam's 21 kernels 26.5 us, the two
input copies 2.2 us, the gaps between the 32 nodes 6 us. QKAN([256,256]) b4096: 1.27 ms, QKAN([1,1]) 0.062 ms.
Tried and left out (same probe): 16 forward warps a block (31.6 us against 27.7), 4 samples a thread (33.6),
the pole coefficients read lazily (forward -0.8 to -2 us, backward +3.4 us, table +1.2 us), a chunk's
cotangent loads unrolled (backward 57.9 us at 96 registers against 38.4), a warp's accumulators summed in one
pass in the parameter kernel (14.1-14.6 us against 12.5-13.3; 21.0 against 12.7 for QKAN([1,1])), forward blocks
over (batch group, output) pairs so that no lane idles at O = 100 (27.5 us either way).
Session of 2026-12-02 (third; same probe and machine type, medians of 5 x 400 replays): backward blocks over
consecutive edges where no grad_x is needed and 32 does not divide O (FLAT): backward 38.5 -> 34.2 us, the
parameter kernel 12.7 -> 10.4 us (fewer, fuller tiles), graphed wide step 0.134 -> 0.1275 ms. The forward's
per-sample `b < B` checks removed (samples past B compute on staged zeros, only their writes are skipped):
forward 27.65 -> 25.1 us (56 -> 64 registers, still 4 blocks an SM), graphed wide 0.1276 -> 0.1252 ms, huge
1.267 -> 1.225 ms. rsqrt without the subnormal scaling where the argument is >= 0.059 (qrsqrt_normal): 3 of
~53 SASS instructions per sample fewer, no measurable change (forward 25.1 vs 25.25 us). ncu on the forward (before these): 0.62 warps issued
per scheduler and cycle, L2 throughput 27% (hit rate 99.97%), 0.9 waves: issue- and latency-bound, not
bandwidth-bound. Tried and left out: blocks ordered output chunk first, so that one SM's blocks share table
values in L1 (L1 hit rate 11% -> 57%, forward 28.9 -> 29.9 us); NB = 16 again (forward 35.8 us); an edge-table
thread per (edge, node) (wide table 4.0 -> 6.4 us, huge 7.5 -> 21 us: every node thread redoes the theta
rotations; 1x1 3.3 -> 2.7); the pole coefficients read lazily from the slot-major layout (72 registers, 3 blocks
an SM: not run). Kept, session of 2026-12-02 (fourth; flash_tree_ab, one instance): the pole coefficients
(r_x, r_y) as an edge-major block of Q4s at the table's start, read by the forward only near the poles
(forward 56 registers, FLAT backward 80): graphed wide 0.1247 -> 0.1223 ms (forward 24.9 -> 21.6 us, backward
34.1 -> 35.4, table 3.9 -> 4.3, parameter kernel 10.7 -> 10.1), huge 1.2226 -> 1.1674 ms (forward 415 -> 346
us, backward 685 -> 695). Left out then: the Fourier forward loading the next input's slot-major values one
input ahead (64 registers): wide 0.1229, huge 1.1756 against 0.1225 and 1.1669 without; on that tree, a backward
thread target of 80k against 160k: wide 0.1223 against 0.1229 (parameter kernel 9.3 us, 8 tiles), but huge 1.1756
-> 1.2682 ms (2 tiles of 256 blocks: 1.3 waves). ncu (eager step) on the pole-block kernels: the FLAT backward
(128-thread blocks, 1.6 waves) issued 67% of cycles, 76 instructions per edge and sample, some of them the
sample's shared-memory indices recomputed per sample; stepping pointers instead: graphed wide 0.1225 -> 0.1194
ms (backward 34.8 -> 32.5 us), huge 1.1681 -> 1.1193 ms (backward 695 -> 648). Four samples in flight instead
of two (still 80 registers): wide 0.1198, huge 1.1113 ms: left out. The forward issued 64% of cycles at 41
instructions per edge and sample. Kept, session of 2026-12-02 (fifth; flash_tree_ab, one instance): the layer sums
(SG, SGF, SGS) only where a post-activation or base weight is trainable (SUMS; QKAN's defaults train theta alone):
graphed wide 0.1198 -> 0.1185 ms (backward 32.5 -> 30.5 us), huge 1.1230 -> 1.0803 ms (backward 649 -> 604 us),
fit1d 0.0587 -> 0.0571 ms (the parameter kernel's single-profile times moved by -2.3 to +2.7 us); every thread count
in the backward read from nthreads, none from blockDim.x: wide 0.1189, huge 1.0808 ms (no change). Left out: the
tile count from the resident blocks (driver occupancy x SMs), the count whose blocks finish soonest in rounds of
them (rounds x tile length, first 4 rounds compared): wide 10 tiles in one round instead of 16, graphed 0.1177 ->
0.1165 ms (backward 30.4 -> 28.4 us), but huge 1.0771 -> 1.0992 ms (backward 603 -> 626 us): dropped by the rule
set before the run (wide at least 1 us better, huge within 1%). An issue-bound SM runs co-resident blocks slower,
so rounds are no measure of time.
Eager small layers are bound by host time, close to PyTorch's own floor on those hosts: on the H200
machine an eager Adam step of nn.Linear(1, 1) took 0.77-1.05 ms and its forward 28-35 us of host time,
against 0.9-1.3 ms and 52-64 us for QKAN([1,1]) / QKAN([100,100]) with flash. Timed as the bench times them
(docs/probes/eager_floor.py, 2026-12-02): nn.Linear(100, 100) at batch 1000 forward 0.054 ms, Adam step 0.957 ms;
QKAN([100,100]) flash 0.106 and 1.11 ms. Its forward's two launches cost 15 and 12.5 us of host time there,
one torch.add 10.7 us.
"""
from __future__ import annotations

import hashlib
import math
from typing import Optional, Sequence

import torch
from torch import Tensor

from qkan.circuits import Circuit

from .base import LayerGeometry, LayerParams, Program, Solver
from .cuda_runtime import cupy_available, launch, load_module
from .flash_codegen import BACKWARD_CHUNK, INPUT_SPLIT, NB, PARAM_WARPS, FlashCodegen
from .flash_fourier import make_codegen
from .flash_ops import ALL_GRADS, GradTuple, flash_apply, register_kernels
from .activations import base_activation_fn
from .layer_math import check_arccos_domain, edge_contributions

COMPUTE_DTYPE = {torch.float32: torch.float32, torch.float64: torch.float64, torch.bfloat16: torch.float32,
                 torch.float16: torch.float32}
C_TYPE = {torch.float32: "float", torch.float64: "double"}
EDGE_THREADS = 64  # the per-edge table kernel: small blocks spread few edges over all SMs
BACKWARD_WARPS = 8  # warps per backward block, all over outputs of one input
TARGET_BACKWARD_THREADS = 160_000  # enough resident work for an H100 (132 SMs)
MAX_TILE = 2048  # samples per backward tile (the tile is staged in chunks, so shared memory does not bound it)
MIN_TILE = 16
MAX_TILES = 65535  # the grid's y extent


def _blocks(n: int, per: int) -> int:
    return -(-n // per)


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


class FlashKernels:
    """The compiled kernels of one (circuit, geometry) and their launch geometry."""

    def __init__(self, codegen: FlashCodegen):
        self.codegen = codegen
        self.geometry = codegen.geometry
        self.table_size = codegen.table_size
        self.module = load_module(codegen.source, FlashCodegen.name_expressions())

    def forward(self, edge: bool, x: Tensor, theta: Tensor, pre_w: Tensor, pre_c: Tensor, pw: Tensor, pb: Tensor,
                bw: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        batch, (out_dim, in_dim) = x.shape[0], mask.shape
        real = C_TYPE[x.dtype]
        table = torch.empty(self.table_size, in_dim, out_dim, dtype=x.dtype, device=x.device)
        out = x.new_empty((batch, out_dim, in_dim) if edge else (batch, out_dim))
        groups = self.geometry.groups or 0
        sizes = (batch, out_dim, in_dim)
        launch(self.module, f"qkan_edge_table<{real}>", (_blocks(out_dim * in_dim, EDGE_THREADS),), (EDGE_THREADS,),
               (theta, pre_w, pre_c, pw, pb, bw, mask, table, sizes[1], sizes[2], groups))
        if batch:
            launch(self.module, f"qkan_forward<{real}, {str(edge).lower()}>",
                   (_blocks(batch, NB), _blocks(out_dim, 32)), (32 * INPUT_SPLIT,), (x, table, out, *sizes))
        return out, table

    def backward_shared_bytes(self, warps: int, span: int, element_size: int) -> int:
        """Dynamic shared memory of a backward block: a chunk's x-only values (of ``span`` inputs), cotangents
        and warp sums."""
        return BACKWARD_CHUNK[element_size] * (span * self.codegen.x_width + 33 * warps) * element_size

    def backward(self, edge: bool, gout: Tensor, x: Tensor, table: Tensor, theta: Tensor, pw: Tensor, pb: Tensor,
                 mask: Tensor, needed: Sequence[bool] = ALL_GRADS) -> GradTuple:
        """Gradients in GradTuple order; those ``needed`` marks False are None, never allocated or written
        (for ``edge`` the post-activation and base gradients are zeros)."""
        cg = self.codegen
        batch, (out_dim, in_dim) = x.shape[0], mask.shape
        real = C_TYPE[x.dtype]
        need_x, _, need_prew, need_prec, need_pw, need_pb, need_bw = needed
        flat = not need_x and out_dim > 32 and out_dim % 32 != 0  # else no lane idles over one input's outputs
        sums = not edge and (need_pw or need_pb or need_bw)  # the layer sums, only for a trainable one of these
        (blocks, chunks), warps, tiles, tile = backward_tiling(batch, out_dim, in_dim, flat)
        span = min(in_dim, (32 * warps - 1) // out_dim + 2) if flat else 1  # inputs a block's edges belong to
        n_acc = cg.acc_size if sums else cg.circuit_acc_count
        part = torch.empty(tiles, n_acc, in_dim, out_dim, dtype=x.dtype, device=x.device)
        gxp = torch.empty(chunks, batch, in_dim, dtype=x.dtype, device=x.device) if need_x else None
        if batch:
            variant = ", ".join(str(v).lower() for v in (edge, sums, need_x, flat))
            launch(self.module, f"qkan_backward<{real}, {variant}>",
                   (blocks, tiles, chunks), (32 * warps,),
                   (x, table, gout, part, _pointer(gxp), batch, out_dim, in_dim, tile),
                   shared_mem=self.backward_shared_bytes(warps, span, x.element_size()))
        else:
            part.zero_()
            if gxp is not None:
                gxp.zero_()
        edge_shape = (out_dim, in_dim)
        g_theta = x.new_empty(*edge_shape, cg.theta_numel)
        g_prew = x.new_empty(*edge_shape, cg.reps) if need_prew else None
        g_prec = x.new_empty(*edge_shape, cg.reps) if need_prec else None
        g_pw, g_pb, g_bw = (x.new_empty(edge_shape) if need else None for need in (need_pw, need_pb, need_bw))
        launch(self.module, f"qkan_param_grads<{real}, {str(sums).lower()}>",
               (_blocks(out_dim * in_dim, 32),), (32 * PARAM_WARPS,),
               (part, theta, pw, pb, mask, g_theta, *map(_pointer, (g_prew, g_prec, g_pw, g_pb, g_bw)), out_dim,
                in_dim, self.geometry.groups or 0, tiles))
        gx = None if gxp is None else gxp[0] if chunks == 1 else gxp.sum(0)
        groups = self.geometry.groups
        g_theta = group_sum(g_theta, groups).view(theta.shape)
        return gx, g_theta, group_sum(g_prew, groups), group_sum(g_prec, groups), g_pw, g_pb, g_bw


def backward_tiling(batch: int, out_dim: int, in_dim: int, flat: bool) -> tuple[tuple[int, int], int, int, int]:
    """((edge blocks, output chunks), warps per block, batch tiles, tile length) of the backward grid: a block per
    input and chunk of outputs, or with ``flat`` blocks over consecutive edges; an empty batch has one empty tile."""
    warps = min(BACKWARD_WARPS, _blocks(out_dim, 32))
    threads = 32 * warps
    blocks = (_blocks(out_dim * in_dim, threads), 1) if flat else (in_dim, _blocks(out_dim, threads))
    if batch == 0:
        return blocks, warps, 1, 0
    per_tile_threads = blocks[0] * blocks[1] * threads
    tiles = max(_blocks(TARGET_BACKWARD_THREADS, per_tile_threads), _blocks(batch, MAX_TILE))
    tiles = max(1, min(tiles, _blocks(batch, MIN_TILE), MAX_TILES))
    tile = _blocks(batch, tiles)
    return blocks, warps, _blocks(batch, tile), tile


def _pointer(t: Optional[Tensor]):
    """A kernel argument for an optional output: the tensor, or a null pointer."""
    return 0 if t is None else t


class FlashProgram(Program):
    """Runs the generated kernels (solvers.flash_ops.flash_apply: custom ops when compiled, an autograd
    Function in eager mode); bf16/fp16 in and out, computed in float32."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device,
                 fourier: Optional[bool] = None):
        super().__init__(circuit, geometry, dtype, device)
        self.compute_dtype = COMPUTE_DTYPE[dtype]
        self.kernels = FlashKernels(make_codegen(circuit, geometry, fourier))
        digest = hashlib.sha1(self.kernels.codegen.source.encode()).hexdigest()[:16]
        self.key = register_kernels(f"{digest}-{geometry.in_dim}x{geometry.out_dim}", self.kernels)
        self.arccos_reps = sorted({t.rep for g in self.kernels.codegen.gates for t in g.terms
                                   if t.encoding == "arccos"})
        self.callable_base = self.kernels.codegen.base is None

    def _run(self, edge: bool, x: Tensor, params: LayerParams) -> Tensor:
        if self.arccos_reps and not torch.compiler.is_compiling() and not torch.cuda.is_current_stream_capturing():
            check_arccos_domain(x, params, self.geometry, self.arccos_reps)
        y = flash_apply(self.key, edge, *(self._compute_form(t) for t in (x, *params)))
        return y if y.dtype == x.dtype else y.to(x.dtype)

    def _compute_form(self, t: Tensor) -> Tensor:
        """``t`` contiguous in the compute dtype (returned as is when it already is: the common case costs
        no dispatcher call)."""
        if t.dtype == self.compute_dtype and t.is_contiguous():
            return t
        return t.to(self.compute_dtype).contiguous()

    def layer_output(self, x: Tensor, params: LayerParams) -> Tensor:
        y = self._run(False, x, params)
        if self.callable_base:
            sigma = base_activation_fn(self.geometry.base_activation)(x)
            y = y + sigma @ (params.mask * params.base_weight).T
        return y

    def circuit_values(self, x: Tensor, params: LayerParams) -> Tensor:
        return self._run(True, x, params)

    def edge_values(self, x: Tensor, params: LayerParams) -> Tensor:
        return edge_contributions(self.circuit_values(x, params), x, params, self.geometry)


class FlashSolver(Solver):
    """Fused CUDA kernels for any single-qubit circuit (CUDA + CuPy; float32/64, bf16/fp16 via fp32)."""

    name = "flash"
    options = {"fourier": None}
    auto_rank = {"cuda": 0}

    def unsupported_reason(self, circuit, geometry, dtype, device) -> Optional[str]:
        if circuit.n_qubits != 1:
            return (f"flash generates kernels for single-qubit circuits and this one has {circuit.n_qubits} "
                    "qubits; use solver='exact' (statevector) or solver='cutn' (tensor network)")
        if torch.device(device).type != "cuda":
            return (f"flash runs on CUDA GPUs, got device {torch.device(device)}; "
                    "use solver='exact' or solver='cutn' there")
        if not cupy_available():
            return ("flash needs CuPy and a CUDA device (pip install cupy-cuda12x or cupy-cuda13x); "
                    "use solver='exact' or solver='cutn' meanwhile")
        if dtype not in COMPUTE_DTYPE:
            return f"flash computes float32/float64 (bf16 and fp16 through float32), got {dtype}"
        return None

    def build(self, circuit, geometry, dtype, device, fourier: Optional[bool]) -> FlashProgram:
        """``fourier``: None (default) uses the Fourier-series kernels wherever the circuit allows
        (solvers/flash_fourier.py), False always the gate-walk kernels, True insists on Fourier."""
        if fourier not in (None, True, False):
            raise TypeError(f"fourier must be None, True or False, got {fourier!r}")
        return FlashProgram(circuit, geometry, dtype, torch.device(device), fourier)

    def estimate_bytes(self, circuit, geometry, dtype, batch) -> int:
        """Outputs, the input gradient and per-tile parameter partials: O(B (O + I)), never B x O x I."""
        real = torch.finfo(dtype).bits // 8
        per_edge = 8 + max(1, math.prod(circuit.parameter_shape))
        return real * (batch * (geometry.out_dim + geometry.in_dim) + 64 * geometry.out_dim * geometry.in_dim * per_edge)

"""CUDA C source for the flash solver, generated from a single-qubit Circuit (DESIGN.md §4).

The circuit's op list is split by ``fuse_parameter_gates`` into parameter-only blocks and data
gates. The per-sample kernels carry the qubit as its Bloch vector r (3 reals; a pure state's
readouts are functions of it: z = r_z, amp = |a| - |b| = r_z / sqrt(1 + sqrt(r_x^2 + r_y^2)),
which stays exact near the poles). A block becomes its 3x3 rotation of the Bloch sphere, built once
per edge by the ``edge_table`` kernel from the block's 2x2 unitary (constant blocks are folded here,
at generation time, into literals); a data gate turns r by its angle about its axis, with sine and
cosine computed per sample by ``sincospi`` (identical angle expressions share one call). (Circuits
whose data enter as integer multiples of x take the Fourier-series kernels of flash_fourier.py, which
extend this class.) Four kernels, each templated on the compute type (float, double) and explicitly instantiated:

- ``qkan_edge_table``: per edge, block rotations, theta offsets of data gates, pre-activation
  weights and the folded post-activation factors -> table (P, I, O).
- ``qkan_forward<real, EDGE>``: one thread per (output, NB samples) looping over inputs; writes
  y (B, O) (EDGE=false: readout, post-activation, mask and base branch summed over inputs) or
  the raw readout f (B, O, I) (EDGE=true).
- ``qkan_backward<real, EDGE, SUMS, GX, FLAT>``: one thread per edge looping over a batch tile, the adjoint
  method: re-run to the end, then undo each gate with its inverse (the transpose) while carrying
  the cotangent q = dL/dr back; a rotation's angle gets axis . (r x q). Per-edge sums over the tile
  go to a partial buffer; grad_x (GX=true, when the input needs it) is reduced over outputs by warp
  shuffles and a fixed-order pass over the block's warps. FLAT (no grad_x, O >= 32 not a multiple of 32)
  lays blocks over consecutive edges rather than over one input's outputs, so no lane idles. SUMS (y mode,
  some post-activation or base weight trainable) adds the layer sums SG, SGF, SGS; without it they are
  neither computed nor stored (QKAN's defaults train theta alone).
- ``qkan_param_grads<real, SUMS>``: per edge (32 edges x 8 warps a block), sums the tiles in order
  and maps the sums to parameter gradients (a block's sums are T = r x q at its input; each rotation in a block gets
  sum_P c_P T_P with c = Pauli coefficients of B^dag Q B, B the gates before it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from qkan.circuits import Circuit, FusedBlock, Op, Theta, fuse_parameter_gates
from qkan.circuits.gates import PAULI

from .activations import ACTIVATIONS
from .base import LayerGeometry

NB = 8  # samples per thread in the forward kernel: they share each per-edge table load (H100, QKAN([256,256])
# b4096, gate walk: NB=4 987 us, 8 885 us, 16 759 us; H200, QKAN([100,100]) b1000 graphed step, Fourier: 16 0.164 ms,
# 8 0.155 ms: twice the blocks fill the SMs)
MAX_KEPT_STATES = 3  # circuits with at most this many data gates keep the Bloch vector after each (3 registers
# apiece) for the backward walk instead of undoing the gates on it: 13 of ~36 operations per gate and block
BACKWARD_CHUNK = {4: 32, 8: 16}  # samples a backward block stages at once, by element size (shared memory:
# chunk x (threads + x-only values + warps) reals, at most 35 KB)
PARAM_WARPS = 8  # warps of a parameter-gradient block (32 edges): they share the tile sums (and, for the Fourier
# kernels, the node walks), so a layer of 10^4 edges runs 8x as many threads as one thread per edge
INPUT_SPLIT = 8  # warps of a forward block, each over every 8th input (partial sums added in a fixed order; H200,
# QKAN([100,100]) b1000: 16 warps took 31.6 us against 27.7; with NB = 4, 41.0 and 33.6)
MAX_INPUT_CHUNK = 64  # inputs whose x-only values (sincos of raw angles, sigma) a forward block stages at once
STAGING_BYTES = 32768  # shared memory for that staging (double precision)
AXES = ("x", "y", "z")
def lit(value: float) -> str:
    """A C literal of the compute type, exact to double precision."""
    return f"real({float(value)!r})"


@dataclass(frozen=True)
class DataTerm:
    """coef * slot value, the encoding resolved against the layer (auto -> raw or affine)."""

    rep: int
    encoding: str
    coef: float


@dataclass(frozen=True)
class DataGate:
    """A per-sample rotation: angle = const + offset (theta terms, per edge) + data terms."""

    axis: str
    const: float
    thetas: tuple[tuple[int, float], ...]  # (flat theta index, coef)
    terms: tuple[DataTerm, ...]
    offset_slot: Optional[int]  # table slot of the per-edge theta offset (constant included), None if none
    offset_acc: Optional[int]   # accumulator slot of dL/d(angle) for the theta offset


@dataclass(frozen=True)
class Block:
    """A parameter-only block: constant (a literal matrix) or per-edge (its Bloch rotation, 9 table slots
    from ``slot``, row-major)."""

    ops: tuple[Op, ...]
    slot: Optional[int]
    constant: Optional[np.ndarray]
    acc: Optional[int]  # first of 3 accumulator slots (T_x, T_y, T_z)


class FlashCodegen:
    """Plans the table and accumulator layouts of one (circuit, layer) and writes the CUDA source."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry):
        if circuit.n_qubits != 1:
            raise ValueError(f"flash generates kernels for single-qubit circuits, got {circuit.n_qubits} qubits")
        circuit.validate()
        self.circuit, self.geometry = circuit, geometry
        self.reps = circuit.data_reps
        self.theta_shape = circuit.parameter_shape
        self.theta_numel = int(np.prod(self.theta_shape))
        self.readout = circuit.readout.kind
        activation = geometry.base_activation if geometry.base_activation is not None else "identity"
        self.base = activation if isinstance(activation, str) else None  # None: callable, added in torch
        self.table_names: list[str] = []
        self.acc_names: list[str] = []
        self.items: list[Union[Block, DataGate]] = []
        for item in fuse_parameter_gates(circuit):
            self.items.append(self._plan_block(item) if isinstance(item, FusedBlock) else self._plan_gate(item))
        self.affine_reps = sorted({t.rep for g in self.gates for t in g.terms if t.encoding != "raw"})
        self.pre_slots = {}
        for rep in self.affine_reps:
            self.pre_slots[rep] = (self._table(f"W{rep}"), self._table(f"C{rep}"))
        self.pre_acc = {rep: (self._acc(f"DW{rep}"), self._acc(f"DC{rep}")) for rep in self.affine_reps}
        self.post_slots = tuple(self._table(n) for n in ("QW", "QB", "BW"))
        self.layer_accs = tuple(self._acc(n) for n in ("SG", "SGF", "SGS"))
        self.trig_exprs, self.trig_of = self._plan_trig()
        self.x_trig = [j for j in self.trig_exprs
                       if all(t.encoding == "raw" for t in self.gates[j].terms) and self.gates[j].offset_slot is None]

    # ----- planning -----------------------------------------------------------------
    def _table(self, name: str, width: int = 1) -> int:
        start = len(self.table_names)
        self.table_names += [name] if width == 1 else [f"{name}_{k}" for k in range(width)]
        return start

    def _acc(self, name: str) -> int:
        self.acc_names.append(name)
        return len(self.acc_names) - 1

    @property
    def gates(self) -> list[DataGate]:
        return [item for item in self.items if isinstance(item, DataGate)]

    @property
    def blocks(self) -> list[Block]:
        return [item for item in self.items if isinstance(item, Block)]

    def _flat(self, slot: Theta) -> int:
        return int(np.ravel_multi_index(slot.index, self.theta_shape))

    def _plan_block(self, block: FusedBlock) -> Block:
        if any(op.angle is not None and op.angle.thetas for op in block.ops):
            return self._new_block(block.ops)
        matrix = np.eye(2, dtype=np.complex128)
        for op in block.ops:
            matrix = op.constant_matrix() @ matrix
        return Block(block.ops, None, matrix, None)

    def _new_block(self, ops: tuple[Op, ...]) -> Block:
        k = sum(1 for b in self.items if isinstance(b, Block) and b.slot is not None)
        slot = self._table(f"R{k}", 9)
        acc = self._acc(f"T{k}x")
        self._acc(f"T{k}y"), self._acc(f"T{k}z")
        return Block(ops, slot, None, acc)

    def _plan_gate(self, op: Op) -> DataGate:
        if op.spec.n_qubits != 1 or not op.spec.parametric:
            raise ValueError(f"flash cannot run op {op}")
        thetas, terms = [], []
        for slot, coef in op.angle.terms:
            if isinstance(slot, Theta):
                thetas.append((self._flat(slot), coef))
            else:
                encoding = slot.encoding
                if encoding == "auto":
                    encoding = "affine" if self.geometry.preacts else "raw"
                terms.append(DataTerm(slot.rep, encoding, coef))
        j = len(self.gates)
        offset_slot = self._table(f"OFF{j}") if thetas else None
        offset_acc = self._acc(f"DOFF{j}") if thetas else None
        return DataGate(op.spec.generator, op.angle.const, tuple(thetas), tuple(terms), offset_slot, offset_acc)

    @property
    def table_size(self) -> int:
        return len(self.table_names)

    @property
    def acc_size(self) -> int:
        return len(self.acc_names)

    @property
    def circuit_acc_count(self) -> int:
        """Accumulators of the circuit's own parameters: all but the layer sums, which are planned last."""
        return self.layer_accs[0]

    # ----- code pieces --------------------------------------------------------------
    def _load_table(self, indent: str, lazy: bool = False) -> list[str]:
        """The edge's table values as locals t{slot}; ``lazy`` (the forward) leaves out those that only a
        rarely taken branch reads (none in the gate walk's table)."""
        return [f"{indent}const real t{p} = tab[{p}LL * IO + e];" for p in range(self.table_size)]

    def _block_entries(self, block: Block) -> list[str]:
        """The block's Bloch rotation, row-major: table values, or literals for a constant block."""
        if block.constant is not None:
            return [lit(v) for v in bloch_rotation(block.constant).ravel()]
        return [f"t{block.slot + k}" for k in range(9)]

    def _sample_setup(self, indent: str) -> list[str]:
        """Data slot values and each data gate's angle sincos for sample ``xv``."""
        lines = []
        for rep in self.affine_reps:
            w, c = self.pre_slots[rep]
            lines.append(f"{indent}const real u{rep} = t{w} * xv + t{c};")
            if any(t.rep == rep and t.encoding == "arccos" for g in self.gates for t in g.terms):
                lines.append(f"{indent}const real v{rep} = acos(u{rep});")
        for j, expr in self.trig_exprs.items():
            if j not in self.x_trig:
                lines.append(f"{indent}real s{j}, c{j}; qsincos({expr}, &s{j}, &c{j});")
        return lines

    @property
    def x_width(self) -> int:
        """Values per sample precomputed into shared memory: x, (sin, cos) of x-only angles, sigma, sigma'."""
        return 1 + 2 * len(self.x_trig) + 2

    def _x_values(self, indent: str, dst: str) -> list[str]:
        """Store the sample's x-only values (they do not depend on the edge) at ``dst``."""
        lines = [f"{indent}{dst}[0] = xv;"]
        for n, j in enumerate(self.x_trig):
            lines.append(f"{indent}{{ real s, c; qsincos({self.trig_exprs[j]}, &s, &c); "
                         f"{dst}[{1 + 2 * n}] = s; {dst}[{2 + 2 * n}] = c; }}")
        k = 1 + 2 * len(self.x_trig)
        if self.base:
            lines.append(f"{indent}{dst}[{k}] = sigma(xv); {dst}[{k + 1}] = dsigma(xv);")
        else:
            lines.append(f"{indent}{dst}[{k}] = real(0); {dst}[{k + 1}] = real(0);")
        return lines

    def _x_load(self, indent: str, src: str) -> list[str]:
        lines = [f"{indent}const real xv = {src}[0];"]
        for n, j in enumerate(self.x_trig):
            lines.append(f"{indent}const real s{j} = {src}[{1 + 2 * n}], c{j} = {src}[{2 + 2 * n}];")
        k = 1 + 2 * len(self.x_trig)
        lines.append(f"{indent}const real sgx = {src}[{k}], dsgx = {src}[{k + 1}]; (void)sgx; (void)dsgx;")
        return lines

    def _plan_trig(self) -> tuple[dict[int, str], list[int]]:
        """Angle expression of each data gate (the Bloch vector turns by the full angle); gates with
        identical expressions share one sincos."""
        exprs: dict[int, str] = {}
        seen: dict[str, int] = {}
        trig_of = []
        for j, gate in enumerate(self.gates):
            parts = []
            for t in gate.terms:
                value = {"raw": "xv", "affine": f"u{t.rep}", "arccos": f"v{t.rep}"}[t.encoding]
                parts.append(f"{lit(t.coef)} * {value}")
            if gate.offset_slot is not None:  # constant included
                parts.append(f"t{gate.offset_slot}")
            elif gate.const != 0.0:
                parts.append(lit(gate.const))
            expr = " + ".join(parts) if parts else lit(0.0)
            if expr not in seen:
                seen[expr] = j
                exprs[j] = expr
            trig_of.append(seen[expr])
        return exprs, trig_of

    @property
    def keeps_states(self) -> bool:
        """Whether the backward keeps the state after each data gate (registers) rather than undoing gates."""
        return len(self.gates) <= MAX_KEPT_STATES

    def _forward_gates(self, indent: str, keep: bool = False) -> list[str]:
        """Turn the Bloch vector (rx, ry, rz), from |0> = e_z, through every block and data gate; with
        ``keep``, name its value after each data gate (kx{pos}, ...) for the backward walk."""
        lines = [f"{indent}real rx = real(0), ry = real(0), rz = real(1);"]
        gate_index = 0
        for pos, item in enumerate(self.items):
            if isinstance(item, Block):
                r = self._block_entries(item)
                if pos == 0:  # R e_z: the third column
                    lines.append(f"{indent}rx = {r[2]}; ry = {r[5]}; rz = {r[8]};")
                else:
                    lines.append(f"{indent}{_rotate(r, 'rx, ry, rz', transpose=False)}")
            else:
                k = self.trig_of[gate_index]
                lines.append(f"{indent}rot_{item.axis}(c{k}, s{k}, rx, ry, rz);")
                if keep:
                    lines.append(f"{indent}const real kx{pos} = rx, ky{pos} = ry, kz{pos} = rz;")
                gate_index += 1
        return lines

    def _readout(self, indent: str, lazy: bool = False) -> list[str]:
        """f from the final r; ``lazy``: the table values _load_table(lazy=True) left out are read here."""
        if self.readout == "amp":  # |a| - |b| = z / sqrt(1 + rho), rho = sqrt(x^2 + y^2): exact near the poles
            return [f"{indent}const real nt = rx * rx + ry * ry, it = qrsqrt(nt);",
                    f"{indent}const real rho = nt > real(0) ? nt * it : real(0), h = qrsqrt_normal(real(1) + rho);",
                    f"{indent}const real f = rz * h;"]
        return [f"{indent}const real f = rz;"]

    def _readout_cotangent(self, indent: str) -> list[str]:
        """q = dL/dr from gf = dL/df (its radial part is irrelevant: rotations keep |r|); the amp readout's
        kink at the poles (rho = 0) gets the zero subgradient there."""
        if self.readout == "amp":
            return [f"{indent}const real gt = nt > real(0) ? real(-0.5) * gf * rz * h * h * h * it : real(0);",
                    f"{indent}real qx = gt * rx, qy = gt * ry, qz = gf * h;"]
        return [f"{indent}real qx = real(0), qy = real(0), qz = gf;"]

    def _backward_walk(self, indent: str) -> list[str]:
        """Walk the gates last to first, undoing each on the cotangent q (and on the state r, unless the
        forward kept r after every data gate); accumulate dL/d(angle) sums."""
        keep = self.keeps_states
        lines = []
        for rep in self.affine_reps:
            lines.append(f"{indent}real du{rep} = real(0);")
        gate_index = len(self.gates)
        for pos in range(len(self.items) - 1, -1, -1):
            item = self.items[pos]
            if isinstance(item, DataGate):
                gate_index -= 1
                j = gate_index
                k = self.trig_of[j]
                if keep:  # r after this gate
                    lines.append(f"{indent}rx = kx{pos}; ry = ky{pos}; rz = kz{pos};")
                lines.append(f"{indent}{{ const real d = cross_{item.axis}(rx, ry, rz, qx, qy, qz);")
                if item.offset_acc is not None:
                    lines.append(f"{indent}  acc{item.offset_acc} += d;")
                for t in item.terms:
                    if t.encoding == "raw":
                        lines.append(f"{indent}  gxl += {lit(t.coef)} * d;")
                    elif t.encoding == "affine":
                        lines.append(f"{indent}  du{t.rep} += {lit(t.coef)} * d;")
                    else:
                        lines.append(f"{indent}  du{t.rep} -= {lit(t.coef)} * d / sqrt(real(1) - u{t.rep} * u{t.rep});")
                lines.append(f"{indent}}}")
                if pos > 0 and not keep:
                    lines.append(f"{indent}rot_{item.axis}(c{k}, -s{k}, rx, ry, rz);")
                lines.append(f"{indent}rot_{item.axis}(c{k}, -s{k}, qx, qy, qz);")
                continue
            r = self._block_entries(item)
            if pos > 0 and keep:  # the block's input is the output of the data gate before it
                lines.append(f"{indent}rx = kx{pos - 1}; ry = ky{pos - 1}; rz = kz{pos - 1};")
            elif pos > 0:
                lines.append(f"{indent}{_rotate(r, 'rx, ry, rz', transpose=True)}")
            lines.append(f"{indent}{_rotate(r, 'qx, qy, qz', transpose=True)}")
            if item.acc is not None:  # T_P = (r x q)_P at the block's input (r = e_z first: T_z = 0)
                a = item.acc
                if pos == 0:
                    lines.append(f"{indent}acc{a} -= qy; acc{a + 1} += qx;")
                else:
                    lines += [f"{indent}acc{a + n} += cross_{axis}(rx, ry, rz, qx, qy, qz);"
                              for n, axis in enumerate(AXES)]
        for rep in self.affine_reps:
            w, _ = self.pre_slots[rep]
            dw, dc = self.pre_acc[rep]
            lines.append(f"{indent}acc{dw} += du{rep} * xv; acc{dc} += du{rep}; gxl += du{rep} * t{w};")
        return lines

    # ----- kernels -------------------------------------------------------------------
    def _theta_values(self, store: Callable[[int, str], str]) -> list[str]:
        """C lines computing the per-edge values that depend on theta alone (block rotations, data-gate
        offsets) from ``th``; ``store(slot, expr)`` is the statement that keeps one (a table write, a local)."""
        body = []
        for block in self.blocks:
            if block.slot is None:
                continue
            body.append("  {")
            body += _block_product(block.ops, self._flat, "    ")
            body.append("    const M2<real> Mt = m2_adj(M);  // column j of R: Pauli coefficients of M P_j M^dag")
            for j, axis in enumerate(AXES):
                body.append(f"    {{ real cx, cy, cz; pauli_coeffs_{axis}(Mt, cx, cy, cz); "
                            f"{store(block.slot + j, 'cx')} {store(block.slot + 3 + j, 'cy')} "
                            f"{store(block.slot + 6 + j, 'cz')} }}")
            body.append("  }")
        for gate in self.gates:
            if gate.offset_slot is not None:
                expr = " + ".join([lit(gate.const)] + [f"{lit(c)} * th[{i}]" for i, c in gate.thetas])
                body.append(f"  {store(gate.offset_slot, expr)}")
        return body

    def _edge_table_kernel(self) -> str:
        body = self._theta_values(lambda slot, expr: f"tab[{slot}LL * IO + e] = {expr};")
        for rep in self.affine_reps:
            w, c = self.pre_slots[rep]
            body.append(f"  tab[{w}LL * IO + e] = pre_w[pe + {rep}]; tab[{c}LL * IO + e] = pre_c[pe + {rep}];")
        body += self._post_values()
        return EDGE_TABLE.format(body="\n".join(body), numel=self.theta_numel, reps=self.reps)

    def _post_values(self) -> list[str]:
        """Table writes of the folded post-activation factors: mask * pw, mask * pw * pb, mask * bw."""
        qw, qb, bw = self.post_slots
        return [f"  tab[{qw}LL * IO + e] = mask[oi] * pw[oi];",
                f"  tab[{qb}LL * IO + e] = mask[oi] * pw[oi] * pb[oi];",
                f"  tab[{bw}LL * IO + e] = mask[oi] * bw[oi];"]

    def _layer_gradients(self) -> list[str]:
        """Post-activation and base-weight gradients from the layer sums a[SG], a[SGF], a[SGS]."""
        sg, sgf, sgs = self.layer_accs
        return [f"  if (g_pw) g_pw[oi] = SUMS ? mask[oi] * (a[{sgf}] + pb[oi] * a[{sg}]) : real(0);",
                f"  if (g_pb) g_pb[oi] = SUMS ? mask[oi] * pw[oi] * a[{sg}] : real(0);",
                f"  if (g_bw) g_bw[oi] = SUMS ? mask[oi] * a[{sgs}] : real(0);" if self.base
                else "  if (g_bw) g_bw[oi] = real(0);"]

    def _forward_kernel(self) -> str:
        qw, qb, bw = self.post_slots
        ind = "          "
        sample = self._x_load(ind, "xq") + self._sample_setup(ind)
        sample += self._forward_gates(ind) + self._readout(ind, lazy=True)
        base = f" + t{bw} * sgx" if self.base else ""
        sample += [f"{ind}if (EDGE) {{ if (b < B) out[(b * O + o) * I + i] = f; }}",
                   f"{ind}else {{ acc@K@ += t{qw} * f + t{qb}{base}; }}"]
        body = "\n".join(sample)
        # unrolled here (a large loop body may stay rolled, sending acc[] to local memory); samples past B
        # compute on the zeros staged for them, unchecked, and only their writes are skipped
        samples = "\n".join(
            f"        {{ const long long b = b0 + {k}; (void)b;\n"
            f"          const real* xq = xs + ({k} * @IC@ + ii) * {self.x_width};\n"
            + body.replace("@K@", str(k)) + "\n        }" for k in range(NB))
        chunk = max(1, min(MAX_INPUT_CHUNK, STAGING_BYTES // (NB * self.x_width * 8)))
        return FORWARD.format(nb=NB, ic=chunk, isplit=INPUT_SPLIT, K=self.x_width,
                              xvalues="\n".join(self._x_values("      ", "dst")),
                              load="\n".join(self._load_table("      ", lazy=True)),
                              samples=samples.replace("@IC@", str(chunk)),
                              accs=" ".join(f"real acc{k} = real(0);" for k in range(NB)),
                              acc_list=", ".join(f"acc{k}" for k in range(NB)))

    def _backward_kernel(self) -> str:
        qw, _, bw = self.post_slots
        sg, sgf, sgs = self.layer_accs
        ind = "      "
        sample = self._x_load(ind, "xq") + self._sample_setup(ind)
        sample += self._forward_gates(ind, keep=self.keeps_states) + self._readout(ind)
        sample += [f"{ind}real gf;",
                   f"{ind}if (EDGE) {{ gf = gin; }}",
                   f"{ind}else {{",
                   f"{ind}  const real gy = gin;",
                   f"{ind}  gf = gy * t{qw};",
                   f"{ind}  if (SUMS) {{ acc{sg} += gy; acc{sgf} += gy * f; }}"]
        if self.base:
            sample += [f"{ind}  if (SUMS) acc{sgs} += gy * sgx;", f"{ind}  gxl += gy * t{bw} * dsgx;"]
        sample += [f"{ind}}}"]
        sample += self._readout_cotangent(ind) + self._backward_walk(ind)
        accs = "\n".join(f"  real acc{p} = real(0);" for p in range(self.acc_size))
        stores = "\n".join(("    if (SUMS) " if p in self.layer_accs else "    ")
                           + f"part[((bt * P + {p}) * I + i) * O + o] = acc{p};" for p in range(self.acc_size))
        return BACKWARD.format(load="\n".join(self._load_table("  ")), accs=accs, sample="\n".join(sample),
                               K=self.x_width, xvalues="\n".join(self._x_values("      ", "dst")),
                               gs_float=BACKWARD_CHUNK[4], gs_double=BACKWARD_CHUNK[8],
                               stores=stores, P=self.acc_size, P_circuit=self.circuit_acc_count)

    def _param_grads_kernel(self) -> str:
        body = self._theta_gradients(lambda p: f"a[{p}]")
        for rep in range(self.reps):
            dw, dc = (f"a[{k}]" for k in self.pre_acc[rep]) if rep in self.pre_acc else ("real(0)", "real(0)")
            body.append(f"  if (g_prew) g_prew[oi * {self.reps} + {rep}] = {dw};")
            body.append(f"  if (g_prec) g_prec[oi * {self.reps} + {rep}] = {dc};")
        body += self._layer_gradients()
        return PARAM_GRADS.format(body="\n".join(body), numel=self.theta_numel, P=self.acc_size,
                                  P_circuit=self.circuit_acc_count, W=PARAM_WARPS, shared="", middle="",
                                  middle_note="nothing else")

    def _theta_gradients(self, acc: Callable[[int], str]) -> list[str]:
        """C lines adding dL/dtheta into ``g`` from the walk's per-edge sums (``acc(slot)`` names one)."""
        body = []
        for block in self.blocks:
            if block.slot is None:
                continue
            body.append("  {")
            body += _block_gradient(block, self._flat, "    ", acc)
            body.append("  }")
        for gate in self.gates:
            for index, coef in gate.thetas:
                body.append(f"  g[{index}] += {lit(coef)} * {acc(gate.offset_acc)};")
        return body

    @property
    def source(self) -> str:
        """The full CUDA source: helpers, the four kernels and their float/double instantiations."""
        if self.base:
            sigma, dsigma = ACTIVATIONS[self.base].cuda
        else:
            sigma, dsigma = "real(0)", "real(0)"
        helpers = HELPERS.replace("@SIGMA@", sigma).replace("@DSIGMA@", dsigma)
        header = f"// qkan flash kernels for circuit {self.circuit.name!r} ({len(self.circuit.ops)} ops, " \
                 f"readout {self.readout}, preacts {self.geometry.preacts}, base {self.base})\n"
        parts = [header, helpers, self._edge_table_kernel(), self._forward_kernel(), self._backward_kernel(),
                 self._param_grads_kernel(), instantiations(self.name_expressions())]
        return "\n".join(parts)

    @staticmethod
    def name_expressions() -> tuple[str, ...]:
        """Every kernel variant the host launches (compiled by name, and explicitly instantiated in the source)."""
        names = []
        for real in ("float", "double"):
            names.append(f"qkan_edge_table<{real}>")
            for kernel in ("qkan_forward", "qkan_param_grads"):
                names += [f"{kernel}<{real}, false>", f"{kernel}<{real}, true>"]
            names += [f"qkan_backward<{real}, {modes}, {gx}>"
                      for modes in ("false, true", "false, false", "true, false")  # EDGE, SUMS
                      for gx in ("false, false", "false, true", "true, false")]  # GX, FLAT
        return tuple(names)


def _rotate(r: list[str], vector: str, transpose: bool) -> str:
    """C applying the 3x3 rotation ``r`` (row-major entries), or its transpose (inverse), to ``vector``."""
    x, y, z = (v.strip() for v in vector.split(","))
    rows = [[r[3 * j + i] if transpose else r[3 * i + j] for j in range(3)] for i in range(3)]
    new = [" + ".join(f"{m} * {v}" for m, v in zip(row, (x, y, z))) for row in rows]
    return (f"{{ const real n0 = {new[0]}, n1 = {new[1]}, n2 = {new[2]}; "
            f"{x} = n0; {y} = n1; {z} = n2; }}")


def bloch_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation R of the Bloch sphere made by the 2x2 unitary m: R_ij = Tr(P_i m P_j m^dag) / 2."""
    return np.array([[0.5 * np.trace(PAULI[a] @ m @ PAULI[b] @ m.conj().T).real for b in AXES] for a in AXES])


# ----- constant matrices and per-edge block products ------------------------------------
def _m2_literal(m: np.ndarray) -> str:
    values = [m[0, 0].real, m[0, 0].imag, m[0, 1].real, m[0, 1].imag, m[1, 0].real, m[1, 0].imag,
              m[1, 1].real, m[1, 1].imag]
    return "M2<real>{" + ", ".join(lit(v) for v in values) + "}"


def _half_angle(op: Op, flat) -> str:
    parts = [lit(0.5 * op.angle.const)] if op.angle.const != 0.0 else []
    parts += [f"{lit(0.5 * c)} * th[{flat(s)}]" for s, c in op.angle.terms]
    return " + ".join(parts)


def _block_product(ops: tuple[Op, ...], flat, indent: str) -> list[str]:
    """C lines leaving the block's matrix in ``M`` (theta of the edge in ``th``); runs of
    constant gates are multiplied here, at generation time."""
    lines = [f"{indent}M2<real> M = m2_identity<real>();"]
    pending = np.eye(2, dtype=np.complex128)
    for n, op in enumerate(ops):
        if op.angle is None or not op.angle.thetas:
            pending = op.constant_matrix() @ pending
            continue
        if not np.allclose(pending, np.eye(2)):
            lines.append(f"{indent}M = m2_mul({_m2_literal(pending)}, M);")
            pending = np.eye(2, dtype=np.complex128)
        lines.append(f"{indent}{{ real s, c; qsincos({_half_angle(op, flat)}, &s, &c); "
                     f"M = m2_mul(m2_r{op.spec.generator}(c, s), M); }}")
    if not np.allclose(pending, np.eye(2)):
        lines.append(f"{indent}M = m2_mul({_m2_literal(pending)}, M);")
    return lines


def _block_gradient(block: Block, flat, indent: str, acc: Callable[[int], str]) -> list[str]:
    """C lines adding each theta-dependent rotation's gradient: dangle = sum_P c_P T_P with c the
    Pauli coefficients of B^dag Q B (B: the block's gates before the rotation), i.e. the rotation's axis
    carried back to the block's input, and T = r x q there."""
    a = block.acc
    lines = [f"{indent}M2<real> M = m2_identity<real>();"]
    for op in block.ops:
        if op.angle is not None and op.angle.thetas:
            axis = op.spec.generator
            lines.append(f"{indent}{{ real cx, cy, cz; pauli_coeffs_{axis}(M, cx, cy, cz);")
            lines.append(f"{indent}  const real d = cx * {acc(a)} + cy * {acc(a + 1)} + cz * {acc(a + 2)};")
            for slot, coef in op.angle.terms:
                lines.append(f"{indent}  g[{flat(slot)}] += {lit(coef)} * d;")
            lines.append(f"{indent}  real s, c; qsincos({_half_angle(op, flat)}, &s, &c); "
                         f"M = m2_mul(m2_r{axis}(c, s), M); }}")
        else:
            lines.append(f"{indent}M = m2_mul({_m2_literal(op.constant_matrix())}, M);")
    return lines


# ----- fixed source text ---------------------------------------------------------------
HELPERS = r"""
// sin and cos of a through sincospi: its argument reduction is exact, so no slow path with a local
// array (sincos's Payne-Hanek path costs a stack frame and register spills); one extra rounding of a/pi.
__device__ __forceinline__ void qsincos(float a, float* s, float* c) { sincospif(a * 0.318309886183790672f, s, c); }
__device__ __forceinline__ void qsincos(double a, double* s, double* c) { sincospi(a * 0.318309886183790672, s, c); }
__device__ __forceinline__ float qrsqrt(float a) { return rsqrtf(a); }  // 2 ulp, one MUFU op: no sqrt + divide
__device__ __forceinline__ double qrsqrt(double a) { return rsqrt(a); }
// the same for an argument known to be a normal number (>= 2^-126): the MUFU op alone, without rsqrtf's
// scaling of subnormal arguments (a compare and two multiplies around it)
__device__ __forceinline__ float qrsqrt_normal(float a) {
  float r;
  asm("rsqrt.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(a));
  return r;
}
__device__ __forceinline__ double qrsqrt_normal(double a) { return rsqrt(a); }

template <typename real> struct M2 { real ar, ai, br, bi, cr, ci, dr, di; };  // [[a, b], [c, d]]
// four reals read together from 16-byte aligned shared memory (one LDS.128 for float, two for double)
template <typename real> struct __align__(16) Q4 { real a, b, c, d; };

template <typename real> __device__ __forceinline__ M2<real> m2_identity() {
  return M2<real>{real(1), real(0), real(0), real(0), real(0), real(0), real(1), real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_mul(const M2<real>& x, const M2<real>& y) {
  M2<real> r;
  r.ar = x.ar * y.ar - x.ai * y.ai + x.br * y.cr - x.bi * y.ci;
  r.ai = x.ar * y.ai + x.ai * y.ar + x.br * y.ci + x.bi * y.cr;
  r.br = x.ar * y.br - x.ai * y.bi + x.br * y.dr - x.bi * y.di;
  r.bi = x.ar * y.bi + x.ai * y.br + x.br * y.di + x.bi * y.dr;
  r.cr = x.cr * y.ar - x.ci * y.ai + x.dr * y.cr - x.di * y.ci;
  r.ci = x.cr * y.ai + x.ci * y.ar + x.dr * y.ci + x.di * y.cr;
  r.dr = x.cr * y.br - x.ci * y.bi + x.dr * y.dr - x.di * y.di;
  r.di = x.cr * y.bi + x.ci * y.br + x.dr * y.di + x.di * y.dr;
  return r;
}
// rotations exp(-i t/2 P) from c = cos(t/2), s = sin(t/2)
template <typename real> __device__ __forceinline__ M2<real> m2_rx(real c, real s) {
  return M2<real>{c, real(0), real(0), -s, real(0), -s, c, real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_ry(real c, real s) {
  return M2<real>{c, real(0), -s, real(0), s, real(0), c, real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_rz(real c, real s) {
  return M2<real>{c, -s, real(0), real(0), real(0), real(0), c, s};
}
// Bloch-vector rotations by angle t about an axis from c = cos t, s = sin t (the gate exp(-i t P / 2));
// (c, -s) undoes one. Single-qubit states and cotangents are real 3-vectors: 9 multiply-adds per block
// instead of 16 for a complex 2x2 matrix, 4 per data gate instead of 8.
template <typename real> __device__ __forceinline__ void rot_x(real c, real s, real& x, real& y, real& z) {
  const real ny = c * y - s * z, nz = s * y + c * z;
  y = ny; z = nz;
}
template <typename real> __device__ __forceinline__ void rot_y(real c, real s, real& x, real& y, real& z) {
  const real nz = c * z - s * x, nx = s * z + c * x;
  z = nz; x = nx;
}
template <typename real> __device__ __forceinline__ void rot_z(real c, real s, real& x, real& y, real& z) {
  const real nx = c * x - s * y, ny = s * x + c * y;
  x = nx; y = ny;
}
// components of r x q: the derivative of f(r) along a rotation of r about that axis (q = df/dr)
template <typename real> __device__ __forceinline__ real cross_x(real rx, real ry, real rz, real qx, real qy, real qz) {
  return ry * qz - rz * qy;
}
template <typename real> __device__ __forceinline__ real cross_y(real rx, real ry, real rz, real qx, real qy, real qz) {
  return rz * qx - rx * qz;
}
template <typename real> __device__ __forceinline__ real cross_z(real rx, real ry, real rz, real qx, real qy, real qz) {
  return rx * qy - ry * qx;
}
// Pauli coefficients (c_X, c_Y, c_Z) of K = B^dag Q B (traceless Hermitian for unitary B)
template <typename real>
__device__ __forceinline__ void pauli_coeffs_from(const M2<real>& k, real& cx, real& cy, real& cz) {
  cx = k.br; cy = -k.bi; cz = real(0.5) * (k.ar - k.dr);
}
template <typename real> __device__ __forceinline__ M2<real> m2_adj(const M2<real>& m) {
  return M2<real>{m.ar, -m.ai, m.cr, -m.ci, m.br, -m.bi, m.dr, -m.di};
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_x(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(0), real(0), real(1), real(0), real(1), real(0), real(0), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_y(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(0), real(0), real(0), real(-1), real(0), real(1), real(0), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_z(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(1), real(0), real(0), real(0), real(0), real(0), real(-1), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
// the backward's edge of this thread: a block per input and chunk of outputs, or (FLAT) consecutive edges
struct EdgeMap { long long i, o, i_first; int span; bool active; };
template <bool FLAT> __device__ __forceinline__ EdgeMap edge_map(long long O, long long IO) {
  if (!FLAT) {
    const long long o_raw = (long long)blockIdx.z * blockDim.x + threadIdx.x;
    return EdgeMap{(long long)blockIdx.x, o_raw < O ? o_raw : O - 1, (long long)blockIdx.x, 1, o_raw < O};
  }
  const long long e0 = (long long)blockIdx.x * blockDim.x, e_raw = e0 + threadIdx.x;
  const long long e_end = e0 + blockDim.x < IO ? e0 + blockDim.x : IO, e = e_raw < IO ? e_raw : e0;
  const long long i = e / O, i_first = e0 / O;
  return EdgeMap{i, e - i * O, i_first, (int)((e_end - 1) / O - i_first + 1), e_raw < IO};
}
template <typename real> __device__ __forceinline__ real sigma(real x) { return @SIGMA@; }
template <typename real> __device__ __forceinline__ real dsigma(real x) { return @DSIGMA@; }
"""

EDGE_TABLE = r"""
// one thread per edge (o fastest): block matrices, theta offsets, pre/post-activation factors
template <typename real>
__global__ void qkan_edge_table(const real* __restrict__ theta, const real* __restrict__ pre_w,
                                const real* __restrict__ pre_c, const real* __restrict__ pw,
                                const real* __restrict__ pb, const real* __restrict__ bw,
                                const real* __restrict__ mask, real* __restrict__ tab,
                                long long O, long long I, long long G) {{
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long IO = I * O;
  if (t >= IO) return;
  const long long o = t % O, i = t / O, e = t, oi = o * I + i;
  const long long edge = G > 0 ? i % G : oi;
  const real* th = theta + edge * {numel}LL;
  const long long pe = edge * {reps}LL;
  (void)th; (void)pe; (void)pre_w; (void)pre_c;
{body}
}}
"""

FORWARD = r"""
// block: 32 lanes over outputs x {isplit} warps over inputs (warp w takes inputs w, w+{isplit}, ...), {nb}
// samples per thread; grid (batch groups, output chunks). x-only values of a chunk of {ic} inputs are
// staged in shared memory; the warps' partial sums are added in a fixed order (deterministic).
template <typename real, bool EDGE>
__global__ void qkan_forward(const real* __restrict__ x, const real* __restrict__ tab, real* __restrict__ out,
                             long long B, long long O, long long I) {{
  // one buffer: staged x-only values while looping over inputs, then the warps' partial sums
  __shared__ __align__(16) real smem[({nb} * {ic} * {K} > {isplit} * 32 * {nb}) ? {nb} * {ic} * {K} : {isplit} * 32 * {nb}];
  real* xs = smem;
  real* red = smem;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const long long o_raw = (long long)blockIdx.y * 32 + lane;
  const bool active = o_raw < O;
  const long long o = active ? o_raw : O - 1;
  const long long b0 = (long long)blockIdx.x * {nb};
  const long long IO = I * O;
  {accs}
  for (long long i0 = 0; i0 < I; i0 += {ic}) {{
    const int n_i = (int)((I - i0 < {ic}) ? I - i0 : {ic});
    for (int q = threadIdx.x; q < {nb} * n_i; q += blockDim.x) {{
      const int k = q / n_i, ii = q % n_i;
      const long long b = b0 + k;
      const real xv = b < B ? x[b * I + i0 + ii] : real(0);
      real* dst = xs + (k * {ic} + ii) * {K};
{xvalues}
    }}
    __syncthreads();
    if (active) {{
      for (int ii = w; ii < n_i; ii += {isplit}) {{
        const long long i = i0 + ii, e = i * O + o;
{load}
{samples}
      }}
    }}
    __syncthreads();
  }}
  if (!EDGE) {{
    const real acc[{nb}] = {{{acc_list}}};
#pragma unroll
    for (int k = 0; k < {nb}; ++k) red[(w * 32 + lane) * {nb} + k] = acc[k];
    __syncthreads();
    if (w == 0 && active) {{
      for (int k = 0; k < {nb}; ++k) {{
        real total = real(0);
        for (int v = 0; v < {isplit}; ++v) total += red[(v * 32 + lane) * {nb} + k];
        if (b0 + k < B) out[(b0 + k) * O + o] = total;
      }}
    }}
  }}
}}
"""

BACKWARD = r"""
// one thread per edge loops over its batch tile in chunks of GS samples. Grid (I, batch tiles, output chunks):
// a block's 32*warps threads over outputs of one input (grad_x, if GX, is reduced over them); FLAT (no grad_x,
// O >= 32): grid (edge blocks, batch tiles), a block over consecutive edges e = i O + o (of at most 3 inputs),
// so no lane idles when 32 does not divide O. Each chunk's x-only values (of the block's inputs) and cotangents are first
// loaded into shared memory by the whole block (many independent loads in flight, instead of one
// cotangent load per sample in the loop). Per-edge sums -> part (tiles, P, I, O); grad_x partial per
// chunk of outputs -> gxp (chunks, B, I), reduced over the block's outputs by shuffles and a fixed-order
// warp sum (GX = false: the input needs no gradient, so gxp is null and none of grad_x is computed).
template <typename real, bool EDGE, bool SUMS, bool GX, bool FLAT>
__global__ void qkan_backward(const real* __restrict__ x, const real* __restrict__ tab,
                              const real* __restrict__ gout, real* __restrict__ part, real* __restrict__ gxp,
                              long long B, long long O, long long I, long long TB) {{
  constexpr int GS = sizeof(real) == 4 ? {gs_float} : {gs_double};
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5, nthreads = blockDim.x;
  const long long IO = I * O, bt = blockIdx.y, oc = blockIdx.z;
  const EdgeMap map = edge_map<FLAT>(O, IO);
  const long long i = map.i, o = map.o, i_first = map.i_first, e = i * O + o;
  const bool active = map.active;
  const int span = map.span;  // inputs the block's edges belong to: i_first, ..., i_first + span - 1
  const int il = (int)(i - i_first);
  real* xs = reinterpret_cast<real*>(smem_raw);  // (GS, span, {K}) x-only values of the chunk's samples
  real* gs = xs + GS * span * {K};                 // (GS, threads) cotangents of the chunk
  real* sm = gs + GS * nthreads;                   // (warps, GS) per-warp grad_x sums
  const real* xl = xs + il * {K};                 // this thread's input's values of the chunk's first sample
  const int xstride = span * {K};
  static_assert(!(EDGE && SUMS), "the layer sums belong to y mode");
  const long long P = SUMS ? {P} : {P_circuit};
  (void)P;
{load}
{accs}
  const long long b_begin = bt * TB;
  const long long b_end = (b_begin + TB < B) ? b_begin + TB : B;
  for (long long c0 = b_begin; c0 < b_end; c0 += GS) {{
    const int n = (int)((b_end - c0 < GS) ? b_end - c0 : GS);
    for (int q = threadIdx.x; q < n * span; q += nthreads) {{
      const int j = q / span;
      const real xv = x[(c0 + j) * I + i_first + (q - j * span)];
      real* dst = xs + q * {K};
{xvalues}
    }}
    for (int j = 0; j < n; ++j)
      gs[j * nthreads + threadIdx.x] = EDGE ? gout[((c0 + j) * O + o) * I + i] : gout[(c0 + j) * O + o];
    __syncthreads();
    const real* xq = xl;  // sample j's x-only values and cotangent: pointers stepped, not indices recomputed
    const real* gq = gs + threadIdx.x;
#pragma unroll (sizeof(real) == 4 ? 2 : 1)
    for (int j = 0; j < n; ++j, xq += xstride, gq += nthreads) {{  // float: two samples in flight (double spills)
      real gxl = real(0);
      if (active) {{
        const real gin = *gq;
{sample}
      }}
      if (GX) {{
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) gxl += __shfl_xor_sync(0xffffffffu, gxl, off);
        if (lane == 0) sm[warp * GS + j] = gxl;
      }}
    }}
    __syncthreads();
    for (int j = threadIdx.x; GX && j < n; j += nthreads) {{
      real s = real(0);
      for (int w = 0; w < nwarps; ++w) s += sm[w * GS + j];
      gxp[(oc * B + c0 + j) * I + i] = s;
    }}
  }}
  if (active) {{
{stores}
  }}
}}
"""

PARAM_GRADS = r"""
// a block per 32 edges (lanes, o fastest) x {W} warps: the warps sum the batch tiles of the accumulators
// p = warp, warp + {W}, ... in tile order into shared memory; then (after {middle_note}) warp 0 maps the
// sums to gradients. A null output pointer (a gradient nobody needs) is skipped.
template <typename real, bool SUMS>
__global__ void qkan_param_grads(const real* __restrict__ part, const real* __restrict__ theta,
                                 const real* __restrict__ pw, const real* __restrict__ pb,
                                 const real* __restrict__ mask, real* __restrict__ g_theta,
                                 real* __restrict__ g_prew, real* __restrict__ g_prec, real* __restrict__ g_pw,
                                 real* __restrict__ g_pb, real* __restrict__ g_bw,
                                 long long O, long long I, long long G, long long tiles) {{
  __shared__ real sums[{P}][32];
{shared}
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long IO = I * O;
  const long long t_raw = (long long)blockIdx.x * 32 + lane;
  const bool valid = t_raw < IO;
  const long long t = valid ? t_raw : IO - 1;  // lanes past the end compute on the last edge, write nothing
  const long long o = t % O, i = t / O, oi = o * I + i;
  const long long P = SUMS ? {P} : {P_circuit};
  const long long edge = G > 0 ? i % G : oi;
  const real* th = theta + edge * {numel}LL;
  (void)th; (void)g_prew; (void)g_prec; (void)pw; (void)pb; (void)mask; (void)g_pw; (void)g_pb; (void)g_bw;
  for (int p = warp; p < P; p += {W}) {{
    real s = real(0);
#pragma unroll 8
    for (long long bt = 0; bt < tiles; ++bt) s += part[((bt * P + p) * I + i) * O + o];  // loads overlap
    sums[p][lane] = s;
  }}
  __syncthreads();
{middle}
  if (warp != 0 || !valid) return;
  real a[{P}];
#pragma unroll
  for (int p = 0; p < {P}; ++p) a[p] = p < P ? sums[p][lane] : real(0);
  real* g = g_theta + oi * {numel}LL;
#pragma unroll
  for (int k = 0; k < {numel}; ++k) g[k] = real(0);
{body}
}}
"""

KERNEL_PARAMETERS = {  # each kernel's parameter types (``real`` its compute type), for its explicit instantiations
    "qkan_edge_table": "const real*, " * 7 + "real*, long long, long long, long long",
    "qkan_forward": "const real*, const real*, real*, long long, long long, long long",
    "qkan_backward": "const real*, const real*, const real*, real*, real*, long long, long long, long long, long long",
    "qkan_param_grads": "const real*, " * 5 + "real*, " * 6 + "long long, long long, long long, long long",
}


def instantiations(names: tuple[str, ...]) -> str:
    """Explicit instantiations of the template kernels named ``names`` (``kernel<real, ...>``): NVRTC instantiates
    name expressions itself, but an nvcc compile of the source (the CI's check) needs them spelled out."""
    lines = []
    for name in names:
        kernel, arguments = name.split("<", 1)
        real = arguments.split(",")[0].rstrip(">").strip()
        lines.append(f"template __global__ void {name}({KERNEL_PARAMETERS[kernel].replace('real', real)});")
    return "\n".join(lines) + "\n"

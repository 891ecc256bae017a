"""The gate-walk kernels (docs/design.md, "Flash kernels"): per sample, the Bloch vector r is turned by every
block (its 3x3 rotation, per edge from the table or folded into literals) and data gate (sincos of its angle),
read out, and for gradients walked back with the cotangent q = dL/dr (the adjoint method)."""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from . import kernels
from .bloch import AXES, block_entries, lit, rotate, write_block_gradient, write_block_product
from .plan import Block, DataGate, WalkPlan
from .writer import CudaWriter


class WalkCodegen:
    """Writes the gate-walk kernels of one plan; its pieces (theta values, the walk and its adjoint) also
    serve the Fourier kernels, which evaluate the circuit at their nodes."""

    def __init__(self, plan: WalkPlan):
        self.plan = plan
        self.layout = plan.layout
        self.entries = {pos: block_entries(item) for pos, item in enumerate(plan.items) if isinstance(item, Block)}

    @cached_property
    def source(self) -> str:
        return kernels.source(self)

    # ----- per-sample pieces of the batch kernels ------------------------------------------
    @property
    def x_width(self) -> int:
        """x, (sin, cos) of the x-only angles, sigma, sigma'."""
        return 1 + 2 * len(self.plan.x_trig) + 2

    def angle(self, j: int) -> str:
        """Data gate j's angle for sample ``xv`` (the Bloch vector turns by the full angle)."""
        gate = self.plan.gates[j]
        parts = [f"{lit(t.coef)} * {_value(t.encoding, t.rep)}" for t in gate.terms]
        if gate.offset_slot is not None:  # constant included
            parts.append(f"t{gate.offset_slot}")
        elif gate.const != 0.0:
            parts.append(lit(gate.const))
        return " + ".join(parts) if parts else lit(0.0)

    def write_load_table(self, w: CudaWriter, lazy: bool) -> None:
        w.line(*(f"const real t{p} = tab[{p}LL * IO + e];" for p in range(self.layout.table_size)))

    def write_x_values(self, w: CudaWriter, dst: str) -> None:
        w.line(f"{dst}[0] = xv;")
        for n, j in enumerate(self.plan.x_trig):
            w.line(
                f"{{ real s, c; qsincos({self.angle(j)}, &s, &c); {dst}[{1 + 2 * n}] = s; {dst}[{2 + 2 * n}] = c; }}"
            )
        k = 1 + 2 * len(self.plan.x_trig)
        if self.plan.base:
            w.line(f"{dst}[{k}] = sigma(xv); {dst}[{k + 1}] = dsigma(xv);")
        else:
            w.line(f"{dst}[{k}] = real(0); {dst}[{k + 1}] = real(0);")

    def write_x_load(self, w: CudaWriter, src: str) -> None:
        w.line(f"const real xv = {src}[0];")
        for n, j in enumerate(self.plan.x_trig):
            w.line(f"const real s{j} = {src}[{1 + 2 * n}], c{j} = {src}[{2 + 2 * n}];")
        k = 1 + 2 * len(self.plan.x_trig)
        w.line(f"const real sgx = {src}[{k}], dsgx = {src}[{k + 1}]; (void)sgx; (void)dsgx;")

    def write_sample_setup(self, w: CudaWriter) -> None:
        """Pre-activations u = w x + c (and arccos u), and the sincos of angles that depend on the edge."""
        for rep in self.plan.affine_reps:
            wt, c = self.plan.pre_slots[rep]
            w.line(f"const real u{rep} = t{wt} * xv + t{c};")
            if rep in self.plan.arccos_reps:
                w.line(f"const real v{rep} = acos(u{rep});")
        self.write_trig(w, [j for j in self.plan.trig_gates if j not in self.plan.x_trig])

    def write_trig(self, w: CudaWriter, gates: list[int]) -> None:
        """s{j}, c{j}: the sine and cosine of data gate j's angle."""
        w.line(*(f"real s{j}, c{j}; qsincos({self.angle(j)}, &s{j}, &c{j});" for j in gates))

    def write_state(self, w: CudaWriter, keep: bool) -> None:
        """Turn r from |0> = e_z through every block and data gate; with ``keep``, name its value after each
        data gate (kx{pos}, ...) for the backward walk."""
        w.line("real rx = real(0), ry = real(0), rz = real(1);")
        gate_index = 0
        for pos, item in enumerate(self.plan.items):
            if isinstance(item, Block):
                r = self.entries[pos]
                w.line(
                    f"rx = {r[2]}; ry = {r[5]}; rz = {r[8]};"
                    if pos == 0  # R e_z: the third column
                    else rotate(r, "rx, ry, rz", transpose=False)
                )
                continue
            k = self.plan.trig_of[gate_index]
            w.line(f"rot_{item.axis}(c{k}, s{k}, rx, ry, rz);")
            if keep:
                w.line(f"const real kx{pos} = rx, ky{pos} = ry, kz{pos} = rz;")
            gate_index += 1

    def write_readout(self, w: CudaWriter, lazy: bool) -> None:
        if self.plan.readout == "amp":  # |a| - |b| = z / sqrt(1 + rho), rho = sqrt(x^2 + y^2): exact near the poles
            w.line(
                "const real nt = rx * rx + ry * ry, it = qrsqrt(nt);",
                "const real rho = nt > real(0) ? nt * it : real(0), h = qrsqrt_normal(real(1) + rho);",
                "const real f = rz * h;",
            )
        else:
            w.line("const real f = rz;")

    def write_readout_cotangent(self, w: CudaWriter) -> None:
        """Its radial part is irrelevant (rotations keep |r|); the amp readout's kink at the poles (rho = 0)
        gets the zero subgradient there."""
        if self.plan.readout == "amp":
            w.line(
                "const real gt = nt > real(0) ? real(-0.5) * gf * rz * h * h * h * it : real(0);",
                "real qx = gt * rx, qy = gt * ry, qz = gf * h;",
            )
        else:
            w.line("real qx = real(0), qy = real(0), qz = gf;")

    def write_backward_walk(self, w: CudaWriter) -> None:
        """Walk the gates last to first, undoing each on q (and on r, unless the forward kept r after every
        data gate); a rotation's angle gets axis . (r x q)."""
        plan, keep = self.plan, self.plan.keeps_states
        w.line(*(f"real du{rep} = real(0);" for rep in plan.affine_reps))
        gate_index = len(plan.gates)
        for pos in range(len(plan.items) - 1, -1, -1):
            item = plan.items[pos]
            if isinstance(item, DataGate):
                gate_index -= 1
                self._undo_gate(w, item, pos, plan.trig_of[gate_index], keep)
                continue
            r = self.entries[pos]
            if pos > 0 and keep:  # the block's input is the output of the data gate before it
                w.line(f"rx = kx{pos - 1}; ry = ky{pos - 1}; rz = kz{pos - 1};")
            elif pos > 0:
                w.line(rotate(r, "rx, ry, rz", transpose=True))
            w.line(rotate(r, "qx, qy, qz", transpose=True))
            if item.acc is not None:  # T_P = (r x q)_P at the block's input (r = e_z first: T_z = 0)
                a = item.acc
                if pos == 0:
                    w.line(f"acc{a} -= qy; acc{a + 1} += qx;")
                else:
                    w.line(*(f"acc{a + n} += cross_{axis}(rx, ry, rz, qx, qy, qz);" for n, axis in enumerate(AXES)))
        self.write_preact_gradients(w)

    def write_preact_gradients(self, w: CudaWriter) -> None:
        """The pre-activations' sums and their share of grad_x, from du{rep} = dL/du."""
        for rep in self.plan.affine_reps:
            wt, _ = self.plan.pre_slots[rep]
            dw, dc = self.plan.pre_acc[rep]
            w.line(f"acc{dw} += du{rep} * xv; acc{dc} += du{rep}; gxl += du{rep} * t{wt};")

    def write_angle_cotangent(self, w: CudaWriter, gate: DataGate) -> None:
        """Spread d = dL/d(data gate's angle) over its theta offset, grad_x and the pre-activations' du."""
        if gate.offset_acc is not None:
            w.line(f"acc{gate.offset_acc} += d;")
        for t in gate.terms:
            if t.encoding == "raw":
                w.line(f"gxl += {lit(t.coef)} * d;")
            elif t.encoding == "affine":
                w.line(f"du{t.rep} += {lit(t.coef)} * d;")
            else:
                w.line(f"du{t.rep} -= {lit(t.coef)} * d / sqrt(real(1) - u{t.rep} * u{t.rep});")

    def _undo_gate(self, w: CudaWriter, gate: DataGate, pos: int, k: int, keep: bool) -> None:
        if keep:  # r after this gate
            w.line(f"rx = kx{pos}; ry = ky{pos}; rz = kz{pos};")
        with w.block(f"{{ const real d = cross_{gate.axis}(rx, ry, rz, qx, qy, qz);"):
            self.write_angle_cotangent(w, gate)
        if pos > 0 and not keep:
            w.line(f"rot_{gate.axis}(c{k}, -s{k}, rx, ry, rz);")
        w.line(f"rot_{gate.axis}(c{k}, -s{k}, qx, qy, qz);")

    # ----- per-edge pieces ------------------------------------------------------------------
    def write_theta_values(self, w: CudaWriter, store: Callable[[int, str], str]) -> None:
        """The per-edge values that depend on theta alone (block rotations, data-gate offsets) from ``th``;
        ``store(slot, expr)`` is the statement that keeps one (a table write, a local)."""
        for block in self.plan.blocks:
            if block.slot is None:
                continue
            with w.block("{"):
                write_block_product(w, block.ops, self.plan.flat)
                w.line("const M2<real> Mt = m2_adj(M);  // column j of R: Pauli coefficients of M P_j M^dag")
                for j, axis in enumerate(AXES):
                    w.line(
                        f"{{ real cx, cy, cz; pauli_coeffs_{axis}(Mt, cx, cy, cz); {store(block.slot + j, 'cx')} "
                        f"{store(block.slot + 3 + j, 'cy')} {store(block.slot + 6 + j, 'cz')} }}"
                    )
        for gate in self.plan.gates:
            if gate.offset_slot is not None:
                expr = " + ".join([lit(gate.const)] + [f"{lit(c)} * th[{i}]" for i, c in gate.thetas])
                w.line(store(gate.offset_slot, expr))

    def write_theta_gradients(self, w: CudaWriter, acc: Callable[[int], str]) -> None:
        """Add dL/dtheta into ``g`` from the walk's per-edge sums (``acc(slot)`` names one)."""
        for block in self.plan.blocks:
            if block.slot is not None:
                with w.block("{"):
                    write_block_gradient(w, block, self.plan.flat, acc)
        for gate in self.plan.gates:
            if gate.thetas:  # a gate with theta terms has its offset's accumulator
                assert gate.offset_acc is not None
                w.line(*(f"g[{index}] += {lit(coef)} * {acc(gate.offset_acc)};" for index, coef in gate.thetas))

    def edge_table_kernel(self) -> str:
        body = CudaWriter(1)
        self.write_theta_values(body, lambda slot, expr: f"tab[{slot}LL * IO + e] = {expr};")
        for rep in self.plan.affine_reps:
            wt, c = self.plan.pre_slots[rep]
            body.line(f"tab[{wt}LL * IO + e] = pre_w[pe + {rep}]; tab[{c}LL * IO + e] = pre_c[pe + {rep}];")
        kernels.write_post_values(body, self.layout)
        return kernels.edge_table_kernel(self.plan, body)

    def param_grads_kernel(self) -> str:
        plan, body = self.plan, CudaWriter(1)
        self.write_theta_gradients(body, lambda p: f"a[{p}]")
        for rep in range(plan.reps):
            dw, dc = (f"a[{k}]" for k in plan.pre_acc[rep]) if rep in plan.pre_acc else ("real(0)", "real(0)")
            body.line(
                f"if (g_prew) g_prew[oi * {plan.reps} + {rep}] = {dw};",
                f"if (g_prec) g_prec[oi * {plan.reps} + {rep}] = {dc};",
            )
        kernels.write_layer_gradients(body, self.layout, bool(plan.base))
        return kernels.param_grads_kernel(plan, self.layout, body)


def _value(encoding: str, rep: int) -> str:
    """The per-sample value of a data slot: x, the pre-activation u, or its arccos v."""
    return {"raw": "xv", "affine": f"u{rep}", "arccos": f"v{rep}"}[encoding]

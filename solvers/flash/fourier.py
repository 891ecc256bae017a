"""The Fourier-series kernels (docs/math.md, "Fourier form"): where every data gate turns by an integer
multiple of x / d, an edge's Bloch vector is a trigonometric polynomial of degree K in u = x / d, so a sample
costs one dot product with (1, cos u, sin u, ..., cos Ku, sin Ku). The per-edge coefficients come from the
gate walk at the 2K+1 nodes and a discrete Fourier transform; gradients follow the transposed transform
and the walk's adjoint at the nodes. Derivation and measurements: docs/notes/flash.md."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Optional, Union

from qkan.circuits import Circuit

from ..base import LayerGeometry, UnsupportedCircuit
from . import kernels, tuning
from .bloch import AXES, lit
from .plan import MAX_DENOMINATOR, FourierPlan, WalkPlan, fourier_form
from .statevector import StatevectorCodegen
from .statevector_plan import StatevectorPlan
from .walk import WalkCodegen
from .writer import CudaWriter

POLE_Z = 0.97  # |r_z| from which the amp kernels evaluate r_x, r_y for rho (below: rho = sqrt(1 - r_z^2) >= 0.24)


class FourierCodegen:
    """Writes the Fourier kernels of a ``FourierPlan``; holds the gate-walk codegen of the same walk plan,
    whose pieces evaluate the circuit (and its adjoint) per edge at the nodes."""

    def __init__(self, plan: FourierPlan):
        self.fourier = plan
        self.plan = plan.walk
        self.layout = plan.layout
        self.walk = WalkCodegen(plan.walk)

    @cached_property
    def source(self) -> str:
        return kernels.source(self)

    # ----- per-sample pieces: the basis at u = x / d -----------------------------------------
    @property
    def x_width(self) -> int:
        """(cos ku, sin ku) for k = 1..K, then sigma, sigma', padded to whole Q4 loads (x itself is not
        needed: it enters only through the basis)."""
        return -(-(2 * self.fourier.degree + 2) // 4) * 4

    def _write_basis(self, w: CudaWriter, u: str) -> None:
        """ck{k}, sk{k} = cos(k u), sin(k u): one sincos, then the angle-addition recurrence."""
        if not self.fourier.degree:
            return
        w.line(f"real sk1, ck1; qsincos({u}, &sk1, &ck1);")
        w.line(
            *(
                f"const real ck{k} = ck{k - 1} * ck1 - sk{k - 1} * sk1, sk{k} = sk{k - 1} * ck1 + ck{k - 1} * sk1;"
                for k in range(2, self.fourier.degree + 1)
            )
        )

    def _sample_names(self) -> list[str]:
        """The per-sample values in their shared-memory order."""
        names = [name for k in range(1, self.fourier.degree + 1) for name in (f"ck{k}", f"sk{k}")]
        return names + ["sgx", "dsgx"]

    def write_x_values(self, w: CudaWriter, dst: str) -> None:
        d = self.fourier.denominator
        with w.block("{"):
            self._write_basis(w, "xv" if d == 1 else f"xv * {lit(1.0 / d)}")
            w.line(
                "const real sgx = sigma(xv), dsgx = dsigma(xv);"
                if self.plan.base
                else "const real sgx = real(0), dsgx = real(0);"
            )
            w.line(*(f"{dst}[{n}] = {name};" for n, name in enumerate(self._sample_names())))

    def write_x_load(self, w: CudaWriter, src: str) -> None:
        """The sample's values by 16-byte loads (the row stride is a multiple of four reals)."""
        names = self._sample_names()
        w.line(f"const Q4<real>* xq4 = reinterpret_cast<const Q4<real>*>({src});")
        w.line(*(f"const Q4<real> v{q // 4} = xq4[{q // 4}];" for q in range(0, len(names), 4)))
        w.line(*(f"const real {name} = v{n // 4}.{'abcd'[n % 4]}; (void){name};" for n, name in enumerate(names)))

    def write_sample_setup(self, w: CudaWriter) -> None:
        """Nothing: every per-sample value is staged."""

    def _series(self, c: str) -> str:
        """r_c(u) = sum_j F{c}{j} T_j(u) from the edge's table values."""
        coef = self.fourier.coef
        terms = [f"t{coef[c, 0]}"]
        for k, jc, js in self.fourier.basis_pairs():
            terms += [f"t{coef[c, jc]} * ck{k}", f"t{coef[c, js]} * sk{k}"]
        return " + ".join(terms)

    def _write_accumulate(self, w: CudaWriter, name: str, slots: dict, c: str, value: str) -> None:
        """{name}{slot} += value * T_j(u) for every basis function j of component c (sums over samples or nodes)."""
        w.line(f"{name}{slots[c, 0]} += {value};")
        w.line(
            *(
                f"{name}{slots[c, jc]} += {value} * ck{k}; {name}{slots[c, js]} += {value} * sk{k};"
                for k, jc, js in self.fourier.basis_pairs()
            )
        )

    def _derivative(self, c: str) -> str:
        """d r_c / dx = (1/d) sum_k k (F{c}{2k} cos ku - F{c}{2k-1} sin ku)."""
        coef, d = self.fourier.coef, self.fourier.denominator
        terms = [
            f"{lit(k / d)} * (t{coef[c, js]} * ck{k} - t{coef[c, jc]} * sk{k})"
            for k, jc, js in self.fourier.basis_pairs()
        ]
        return " + ".join(terms) if terms else "real(0)"

    def write_state(self, w: CudaWriter, keep: bool) -> None:
        """r_z(u); for amp also whether the state is near a pole, where r_x and r_y are evaluated too."""
        w.line(f"const real rz = {self._series('z')};")
        if self.plan.readout == "amp":
            w.line(f"const bool near = fabs(rz) >= {lit(POLE_Z)}; real rx = real(0), ry = real(0);")

    def write_load_table(self, w: CudaWriter, lazy: bool) -> None:
        """The slot-major values, and the pole block's unless ``lazy`` (the forward reads it near a pole)."""
        if not lazy:
            self._write_pole_loads(w)
        width = self.fourier.pole_width
        w.line(*(f"const real t{p} = tab[{p}LL * IO + e];" for p in range(width, self.layout.table_size)))

    def _write_pole_loads(self, w: CudaWriter) -> None:
        """t{slot} of the pole block from its Q4s at tab + e * pole_width (16-byte aligned: the width is a
        multiple of four reals and the block starts the table)."""
        width = self.fourier.pole_width
        if not width:
            return
        w.line(f"const Q4<real>* pole = reinterpret_cast<const Q4<real>*>(tab + e * {width}LL);")
        w.line(*(f"const Q4<real> pole{q} = pole[{q}];" for q in range(width // 4)))
        w.line(*(f"const real t{p} = pole{p // 4}.{'abcd'[p % 4]};" for p in self.fourier.coef.values() if p < width))

    def write_readout(self, w: CudaWriter, lazy: bool) -> None:
        """amp = r_z / sqrt(1 + rho): away from the poles rho = sqrt(1 - r_z^2) (a pure state), so only r_z is
        needed; near them, where that loses precision, rho = sqrt(r_x^2 + r_y^2) (with ``lazy``, their
        coefficients are read there)."""
        if self.plan.readout != "amp":
            w.line("const real f = rz;")
            return
        w.line("real it, rho;")
        with w.block("if (near) {", "} else {"):
            if lazy:
                self._write_pole_loads(w)
            w.line(
                f"rx = {self._series('x')}; ry = {self._series('y')};",
                "const real nt = rx * rx + ry * ry;",
                "it = nt > real(0) ? qrsqrt(nt) : real(0); rho = nt * it;",
            )
        with w.indent():
            w.line("const real w = real(1) - rz * rz;", "it = qrsqrt_normal(w); rho = w * it;")  # w >= 1 - POLE_Z^2
        w.line("}", "const real h = qrsqrt_normal(real(1) + rho), f = rz * h;")

    def write_readout_cotangent(self, w: CudaWriter) -> None:
        """q = dL/dr. For amp it is (gt r_x, gt r_y, gf h); away from the poles the radial part gt r is
        dropped (it moves no rotation, so no gradient), leaving q_z alone."""
        if self.plan.readout != "amp":
            w.line("const real qz = gf;")
        else:
            w.line(
                "const real gt = real(-0.5) * gf * rz * h * h * h * it;",
                "const real qz = near ? gf * h : gf * h - gt * rz;",
            )

    def write_backward_walk(self, w: CudaWriter) -> None:
        """Coefficient gradient sums q_c T_j(u) and grad_x += q . dr/dx (the x and y parts near the poles only)."""
        self._write_component_gradient(w, "z", "qz")
        if self.plan.readout == "amp":
            with w.block("if (near) {"):
                w.line("const real qx = gt * rx, qy = gt * ry;")
                self._write_component_gradient(w, "x", "qx")
                self._write_component_gradient(w, "y", "qy")

    def _write_component_gradient(self, w: CudaWriter, c: str, q: str) -> None:
        self._write_accumulate(w, "acc", self.fourier.dcoef, c, q)
        w.line(f"gxl += {q} * ({self._derivative(c)});")

    # ----- per-edge kernels: the circuit at the nodes ---------------------------------------
    def _write_walk_locals(self, w: CudaWriter) -> None:
        """The gate walk's per-edge values as locals t{slot} (its layout), computed from theta."""
        w.line(*(f"real t{p} = real(0); (void)t{p};" for p in range(self.plan.layout.table_size)))
        self.walk.write_theta_values(w, lambda slot, expr: f"t{slot} = {expr};")

    def _write_node_state(self, w: CudaWriter, keep: bool) -> None:
        """At node m: u, the data gates' sincos, the walk's r and the basis at u."""
        w.line(
            f"const real um = real(m) * {lit(2 * math.pi / self.fourier.nodes)};",
            f"const real xv = um * {lit(float(self.fourier.denominator))};",
        )
        self.walk.write_trig(w, self.plan.trig_gates)
        self.walk.write_state(w, keep)
        self._write_basis(w, "um")

    def edge_table_kernel(self) -> str:
        fourier, body = self.fourier, CudaWriter(1)
        self._write_walk_locals(body)
        body.line(*(f"real F{p} = real(0);" for p in fourier.coef.values()))
        body.directive("#pragma unroll 1")
        with body.block(
            f"for (int m = 0; m < {fourier.nodes}; ++m) {{  // the discrete Fourier transform of r over the nodes"
        ):
            self._write_node_state(body, keep=False)
            for c in fourier.components:
                self._write_accumulate(body, "F", fourier.coef, c, f"r{c}")
        value = {p: f"{lit((1.0 if j == 0 else 2.0) / fourier.nodes)} * F{p}" for (c, j), p in fourier.coef.items()}
        if fourier.pole_width:
            body.line(f"Q4<real>* pole = reinterpret_cast<Q4<real>*>(tab + e * {fourier.pole_width}LL);")
            body.line(
                *(
                    f"pole[{q}] = Q4<real>{{"
                    + ", ".join(value.get(p, "real(0)") for p in range(4 * q, 4 * q + 4))
                    + "};"
                    for q in range(fourier.pole_width // 4)
                )
            )
        body.line(*(f"tab[{p}LL * IO + e] = {v};" for p, v in value.items() if p >= fourier.pole_width))
        kernels.write_post_values(body, self.layout)
        return kernels.edge_table_kernel(self.plan, body)

    def param_grads_kernel(self) -> str:
        """Warps walk the circuit's adjoint at the nodes (warp w: nodes w, w + W, ...) from the node
        cotangents, keep their walk sums in shared memory; warp 0 adds them in warp order and maps them
        (and the layer sums) to gradients."""
        fourier, walk_layout = self.fourier, self.plan.layout
        kept = [p for p in range(walk_layout.acc_size) if p not in walk_layout.layer_accs]
        warps = max(1, min(tuning.PARAM_WARPS, fourier.nodes, tuning.NODE_SHARED_BYTES // (8 * 32 * max(1, len(kept)))))
        middle = CudaWriter(1)
        with middle.block(f"if (warp < {warps}) {{"):
            self._write_walk_locals(middle)
            middle.line(*(f"real acc{p} = real(0);" for p in range(walk_layout.acc_size)))
            middle.directive("#pragma unroll 1")
            with middle.block(f"for (int m = warp; m < {fourier.nodes}; m += {warps}) {{"):
                self._write_node_state(middle, keep=self.plan.keeps_states)
                for c in AXES:  # dL/dr(u_m) = (1/N) s_0 + (2/N) sum_k (s_cos k cos k u_m + s_sin k sin k u_m)
                    middle.line(f"real q{c} = {self._node_cotangent(c)};")
                middle.line("real gxl = real(0);")
                self.walk.write_backward_walk(middle)
                middle.line("(void)gxl;")
            middle.line(*(f"walk[warp][{n}][lane] = acc{p};" for n, p in enumerate(kept)))
        middle.line("__syncthreads();")
        body = CudaWriter(1)
        kernels.write_layer_gradients(body, self.layout, bool(self.plan.base))
        for rep in range(self.plan.reps):
            body.line(
                f"if (g_prew) g_prew[oi * {self.plan.reps} + {rep}] = real(0);",
                f"if (g_prec) g_prec[oi * {self.plan.reps} + {rep}] = real(0);",
            )
        body.line(
            *(
                f"const real acc{p} = " + " + ".join(f"walk[{w}][{n}][lane]" for w in range(warps)) + ";"
                for n, p in enumerate(kept)
            )
        )
        self.walk.write_theta_gradients(body, lambda p: f"acc{p}")
        shared = f"  __shared__ real walk[{warps}][{max(1, len(kept))}][32];  // per warp: its nodes' walk sums"
        return kernels.param_grads_kernel(self.plan, self.layout, body, shared, middle.text(), "the node walks")

    def _node_cotangent(self, c: str) -> str:
        """Component c of dL/dr at node m from the coefficient sums (the transposed transform)."""
        fourier = self.fourier
        if c not in fourier.components:
            return "real(0)"
        terms = [f"{lit(1.0 / fourier.nodes)} * sums[{fourier.dcoef[c, 0]}][lane]"]
        for k, jc, js in fourier.basis_pairs():
            terms.append(
                f"{lit(2.0 / fourier.nodes)} * (sums[{fourier.dcoef[c, jc]}][lane] * ck{k} + "
                f"sums[{fourier.dcoef[c, js]}][lane] * sk{k})"
            )
        return " + ".join(terms)


Codegen = Union[WalkCodegen, FourierCodegen, StatevectorCodegen]


def make_codegen(circuit: Circuit, geometry: LayerGeometry, fourier: Optional[bool]) -> Codegen:
    """The Fourier-series codegen where the circuit allows it (``fourier=None``) or is asked to (True:
    raises UnsupportedCircuit if it cannot), else the gate-walk codegen; one plan either way. A circuit of
    more than one qubit gets the statevector codegen (no Fourier form: ``fourier=True`` raises)."""
    if circuit.n_qubits > 1:
        if fourier is True:
            raise UnsupportedCircuit(
                f"flash cannot use fourier=True for circuit {circuit.name!r}: the Fourier kernels are for "
                "single-qubit circuits; pass fourier=None or False"
            )
        return StatevectorCodegen(StatevectorPlan(circuit, geometry))
    plan = WalkPlan(circuit, geometry)
    form = fourier_form(plan) if fourier is not False else None
    if form is None and fourier is True:
        raise UnsupportedCircuit(
            f"flash cannot use fourier=True for circuit {circuit.name!r}: its data gates "
            f"are not integer multiples of x / d (d <= {MAX_DENOMINATOR}) of the raw input, "
            f"or their degree exceeds {tuning.MAX_FOURIER_DEGREE}; pass fourier=None or False"
        )
    return WalkCodegen(plan) if form is None else FourierCodegen(FourierPlan(plan, form))

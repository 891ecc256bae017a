"""Fourier-series kernels for the flash solver: circuits whose data enter only as the raw input x.

When every data gate turns the qubit by an angle n_j x / d + (theta terms), with integers n_j and d, the
Bloch vector r(x) of an edge is a trigonometric polynomial of degree K = sum |n_j| in u = x / d
(each rotation's entries are linear in 1, cos and sin of its angle). So an edge is 2K+1 coefficients per
Bloch component, and a sample costs one dot product with (1, cos u, sin u, ..., cos Ku, sin Ku), shared
by every output o, instead of a walk through every gate: pz at reps 3 needs 7 multiply-adds for r_z
where the gate walk needs about 50. The coefficients come from the circuit itself, evaluated per edge at
the 2K+1 equispaced nodes u_m = 2 pi m / (2K+1) and transformed by the discrete Fourier transform,
which is exact for a polynomial of that degree. Gradients follow the same chain backwards: the batch
kernel sums dL/dcoefficient = q T(u) per edge over its tile (q = dL/dr), and the parameter kernel maps
those sums to node cotangents (the transposed transform) and walks the circuit's adjoint at each node.

The amp readout r_z / sqrt(1 + rho) is a function of r_z alone on the sphere (rho = sqrt(1 - r_z^2)),
which the kernels use away from the poles; near them (|r_z| >= POLE_Z), where 1 - r_z^2 cancels, they
evaluate r_x and r_y too and take rho = sqrt(r_x^2 + r_y^2), exact there as in the gate-walk kernels.
Away from the poles the cotangent's radial part gt r is dropped as well, so only r_z's coefficients get
gradient sums: a cotangent along r changes no rotation angle (axis . (r x r) = 0), and through the
transform its contributions sum to the derivative of |r|^2 = 1, which is zero.

``FourierCodegen`` plans the coefficient table and writes the same four kernels, with the same
signatures, as ``FlashCodegen``, which it extends (its gate walk evaluates the nodes).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from qkan.circuits import Circuit

from .base import LayerGeometry, UnsupportedCircuit
from .flash_codegen import AXES, EDGE_TABLE, PARAM_GRADS, PARAM_WARPS, FlashCodegen, lit

MAX_FOURIER_DEGREE = 5  # largest K whose kernels compile without spills in double (at K = 6 the parameter kernel of
# pz amp spills 152 bytes; CI checks every built-in up to this degree)
POLE_Z = 0.97  # |r_z| from which the amp kernels use r_x, r_y for rho (below: sqrt(1 - r_z^2), rho >= 0.24, whose
# rounding error stays under 1e-6 of amp in float32, and the dropped radial cotangent is at most 2 gf)
NODE_SHARED_BYTES = 32768  # shared memory for the node walks' per-warp sums (double precision)
MAX_DENOMINATOR = 4  # data coefficients n/d with d up to this use a basis in x/d


def fourier_form(codegen: FlashCodegen) -> Optional[tuple[int, tuple[int, ...]]]:
    """(d, (n_j per data gate)) when every data gate's angle is sum_j n_j x / d + theta terms with raw x
    and the degree sum |n_j| is at most MAX_FOURIER_DEGREE; None otherwise (pre-activations, arccos,
    irrational or large frequencies keep the gate-walk kernels)."""
    if any(t.encoding != "raw" for gate in codegen.gates for t in gate.terms):
        return None
    totals = [sum(t.coef for t in gate.terms) for gate in codegen.gates]
    coefs = [Fraction(total).limit_denominator(1000) for total in totals]
    if any(abs(float(c) - total) > 1e-12 for c, total in zip(coefs, totals)):
        return None
    denominator = math.lcm(*(c.denominator for c in coefs)) if coefs else 1
    if denominator > MAX_DENOMINATOR:
        return None
    numerators = tuple(int(c * denominator) for c in coefs)
    if sum(abs(n) for n in numerators) > MAX_FOURIER_DEGREE:
        return None
    return denominator, numerators


class FourierCodegen(FlashCodegen):
    """Kernels over per-edge Fourier coefficients of the Bloch vector (see the module docstring).

    Two layouts live side by side: the gate walk's (``walk_*``: block rotations, data-gate offsets and
    their gradient sums, used per edge at the nodes) and the kernels' (``table_names``: coefficients
    F{c}{j} of component c in x, y, z and basis function j = 0 (constant), 2k-1 (cos ku), 2k (sin ku),
    then QW, QB, BW; ``acc_names``: their gradient sums, then SG, SGF, SGS). For amp, r_x's and r_y's
    coefficients, padded to whole Q4s, are the table's first ``pole_width`` slots and lie edge-major (an edge's
    together, at tab + e * pole_width): only samples near a pole need them, and there the forward reads them
    by 16-byte loads; the other slots are slot-major, (P, I, O), as in the gate walk's table."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry):
        super().__init__(circuit, geometry)
        form = fourier_form(self)
        if form is None:
            raise UnsupportedCircuit(f"flash cannot use fourier=True for circuit {circuit.name!r}: its data gates "
                                     f"are not integer multiples of x / d (d <= {MAX_DENOMINATOR}) of the raw input, "
                                     f"or their degree exceeds {MAX_FOURIER_DEGREE}; pass fourier=None or False")
        self.denominator, numerators = form
        self.degree = sum(abs(n) for n in numerators)
        self.nodes = 2 * self.degree + 1
        self.components = AXES if self.readout == "amp" else ("z",)
        self.walk_table_size, self.walk_acc_size = self.table_size, self.acc_size
        self.walk_layer_accs = self.layer_accs
        self.table_names, self.acc_names = [], []
        poles = [c for c in self.components if c != "z"]
        self.coef = {(c, j): self._table(f"F{c}{j}") for c in poles for j in range(self.nodes)}
        while self.table_size % 4:
            self._table("PAD")
        self.pole_width = self.table_size
        self.coef.update({("z", j): self._table(f"Fz{j}") for j in range(self.nodes)})
        self.post_slots = tuple(self._table(n) for n in ("QW", "QB", "BW"))
        self.dcoef = {(c, j): self._acc(f"DF{c}{j}") for c in self.components for j in range(self.nodes)}
        self.layer_accs = tuple(self._acc(n) for n in ("SG", "SGF", "SGS"))

    # ----- per-sample values: the basis at u = x / d ----------------------------------
    @property
    def x_width(self) -> int:
        """Values per sample in shared memory, padded to whole Q4 loads: (cos ku, sin ku) for k = 1..K,
        then sigma, sigma' (x itself is not needed: it enters only through the basis)."""
        return -(-(2 * self.degree + 2) // 4) * 4

    def _basis(self, indent: str, u: str) -> list[str]:
        """ck{k}, sk{k} = cos(k u), sin(k u): one sincos, then the angle-addition recurrence."""
        if not self.degree:
            return []
        lines = [f"{indent}real sk1, ck1; qsincos({u}, &sk1, &ck1);"]
        for k in range(2, self.degree + 1):
            lines.append(f"{indent}const real ck{k} = ck{k - 1} * ck1 - sk{k - 1} * sk1, "
                         f"sk{k} = sk{k - 1} * ck1 + ck{k - 1} * sk1;")
        return lines

    def _u(self, x: str) -> str:
        return x if self.denominator == 1 else f"{x} * {lit(1.0 / self.denominator)}"

    def _sample_names(self) -> list[str]:
        """The per-sample values in their shared-memory order."""
        names = [name for k in range(1, self.degree + 1) for name in (f"ck{k}", f"sk{k}")]
        return names + ["sgx", "dsgx"]

    def _x_values(self, indent: str, dst: str) -> list[str]:
        lines = [f"{indent}{{"]
        lines += self._basis(indent + "  ", self._u("xv"))
        if self.base:
            lines.append(f"{indent}  const real sgx = sigma(xv), dsgx = dsigma(xv);")
        else:
            lines.append(f"{indent}  const real sgx = real(0), dsgx = real(0);")
        lines += [f"{indent}  {dst}[{n}] = {name};" for n, name in enumerate(self._sample_names())]
        return lines + [f"{indent}}}"]

    def _x_load(self, indent: str, src: str) -> list[str]:
        """The sample's values by 16-byte loads (the row stride is a multiple of four reals)."""
        names = self._sample_names()
        lines = [f"{indent}const Q4<real>* xq4 = reinterpret_cast<const Q4<real>*>({src});"]
        for q in range(0, len(names), 4):
            lines.append(f"{indent}const Q4<real> v{q // 4} = xq4[{q // 4}];")
        fields = "abcd"
        lines += [f"{indent}const real {name} = v{n // 4}.{fields[n % 4]}; (void){name};" for n, name in enumerate(names)]
        return lines

    def _sample_setup(self, indent: str) -> list[str]:
        return []

    def _basis_pairs(self) -> list[tuple[int, int, int]]:
        """(k, index of cos ku, index of sin ku) for k = 1..K: basis function j = 0 is the constant."""
        return [(k, 2 * k - 1, 2 * k) for k in range(1, self.degree + 1)]

    def _series(self, c: str) -> str:
        """r_c(u) = sum_j F{c}{j} T_j(u) from the edge's table values."""
        terms = [f"t{self.coef[c, 0]}"]
        for k, jc, js in self._basis_pairs():
            terms += [f"t{self.coef[c, jc]} * ck{k}", f"t{self.coef[c, js]} * sk{k}"]
        return " + ".join(terms)

    def _accumulate(self, indent: str, name: str, slots: dict[tuple[str, int], int], c: str, value: str) -> list[str]:
        """{name}{slot} += value * T_j(u) for every basis function j of component c (sums over samples or nodes)."""
        lines = [f"{indent}{name}{slots[c, 0]} += {value};"]
        return lines + [f"{indent}{name}{slots[c, jc]} += {value} * ck{k}; {name}{slots[c, js]} += {value} * sk{k};"
                        for k, jc, js in self._basis_pairs()]

    def _derivative(self, c: str) -> str:
        """d r_c / dx = (1/d) sum_k k (F{c}{2k} cos ku - F{c}{2k-1} sin ku)."""
        terms = [f"{lit(k / self.denominator)} * (t{self.coef[c, js]} * ck{k} - t{self.coef[c, jc]} * sk{k})"
                 for k, jc, js in self._basis_pairs()]
        return " + ".join(terms) if terms else "real(0)"

    def _forward_gates(self, indent: str, keep: bool = False) -> list[str]:
        """r_z(u); for amp also whether the state is near a pole, where r_x and r_y are evaluated too."""
        lines = [f"{indent}const real rz = {self._series('z')};"]
        if self.readout == "amp":
            lines.append(f"{indent}const bool near = fabs(rz) >= {lit(POLE_Z)}; real rx = real(0), ry = real(0);")
        return lines

    def _load_table(self, indent: str, lazy: bool = False) -> list[str]:
        """The slot-major values, and the pole block's unless ``lazy`` (the forward reads it near a pole)."""
        lines = [] if lazy else self._pole_loads(indent)
        return lines + [f"{indent}const real t{p} = tab[{p}LL * IO + e];" for p in range(self.pole_width, self.table_size)]

    def _pole_loads(self, indent: str) -> list[str]:
        """t{slot} of the pole block from its Q4s at tab + e * pole_width (16-byte aligned: the width is a
        multiple of four reals and the block starts the table)."""
        if not self.pole_width:
            return []
        lines = [f"{indent}const Q4<real>* pole = reinterpret_cast<const Q4<real>*>(tab + e * {self.pole_width}LL);"]
        lines += [f"{indent}const Q4<real> pole{q} = pole[{q}];" for q in range(self.pole_width // 4)]
        return lines + [f"{indent}const real t{p} = pole{p // 4}.{'abcd'[p % 4]};" for (c, j), p in self.coef.items()
                        if p < self.pole_width]

    def _readout(self, indent: str, lazy: bool = False) -> list[str]:
        """amp = r_z / sqrt(1 + rho), rho = sqrt(r_x^2 + r_y^2): away from the poles rho = sqrt(1 - r_z^2) (a
        pure state), so only r_z is needed; near them, where that loses precision, from r_x and r_y (with
        ``lazy``, their coefficients are read there)."""
        if self.readout != "amp":
            return [f"{indent}const real f = rz;"]
        return [f"{indent}real it, rho;",
                f"{indent}if (near) {{",
                *(self._pole_loads(indent + "  ") if lazy else []),
                f"{indent}  rx = {self._series('x')}; ry = {self._series('y')};",
                f"{indent}  const real nt = rx * rx + ry * ry;",
                f"{indent}  it = nt > real(0) ? qrsqrt(nt) : real(0); rho = nt * it;",
                f"{indent}}} else {{",
                f"{indent}  const real w = real(1) - rz * rz;",
                f"{indent}  it = qrsqrt_normal(w); rho = w * it;",  # w >= 1 - POLE_Z^2
                f"{indent}}}",
                f"{indent}const real h = qrsqrt_normal(real(1) + rho), f = rz * h;"]

    def _readout_cotangent(self, indent: str) -> list[str]:
        """q = dL/dr. For amp it is (gt r_x, gt r_y, gf h); away from the poles the radial part gt r is
        dropped (it moves no rotation, so no gradient: see the module docstring), leaving q_z alone."""
        if self.readout != "amp":
            return [f"{indent}const real qz = gf;"]
        return [f"{indent}const real gt = real(-0.5) * gf * rz * h * h * h * it;",
                f"{indent}const real qz = near ? gf * h : gf * h - gt * rz;"]

    def _backward_walk(self, indent: str) -> list[str]:
        """Coefficient gradient sums q_c T_j(u) and grad_x += q . dr/dx (the x and y parts near the poles only)."""
        lines = self._component_gradient(indent, "z", "qz")
        if self.readout == "amp":
            lines.append(f"{indent}if (near) {{")
            lines.append(f"{indent}  const real qx = gt * rx, qy = gt * ry;")
            lines += self._component_gradient(indent + "  ", "x", "qx") + self._component_gradient(indent + "  ", "y", "qy")
            lines.append(f"{indent}}}")
        return lines

    def _component_gradient(self, indent: str, c: str, q: str) -> list[str]:
        lines = self._accumulate(indent, "acc", self.dcoef, c, q)
        return lines + [f"{indent}gxl += {q} * ({self._derivative(c)});"]

    # ----- per-edge kernels: the circuit at the nodes -----------------------------------
    def _walk_locals(self) -> list[str]:
        """The gate walk's per-edge values as locals t{slot} (its layout), computed from theta."""
        lines = [f"  real t{p} = real(0); (void)t{p};" for p in range(self.walk_table_size)]
        return lines + self._theta_values(lambda slot, expr: f"t{slot} = {expr};")

    def _node_state(self, indent: str, keep: bool) -> list[str]:
        """At node m: u, the data gates' sincos, the walk's r (FlashCodegen's gate walk) and the basis at u."""
        lines = [f"{indent}const real um = real(m) * {lit(2 * math.pi / self.nodes)};",
                 f"{indent}const real xv = um * {lit(float(self.denominator))};"]
        for j, expr in self.trig_exprs.items():
            lines.append(f"{indent}real s{j}, c{j}; qsincos({expr}, &s{j}, &c{j});")
        lines += FlashCodegen._forward_gates(self, indent, keep=keep)
        return lines + self._basis(indent, "um")

    def _edge_table_kernel(self) -> str:
        body = self._walk_locals()
        body += [f"  real F{p} = real(0);" for p in self.coef.values()]
        body.append("#pragma unroll 1")
        body.append(f"  for (int m = 0; m < {self.nodes}; ++m) {{  // the discrete Fourier transform of r over the nodes")
        body += self._node_state("    ", keep=False)
        for c in self.components:
            body += self._accumulate("    ", "F", self.coef, c, f"r{c}")
        body.append("  }")
        value = {p: f"{lit((1.0 if j == 0 else 2.0) / self.nodes)} * F{p}" for (c, j), p in self.coef.items()}
        if self.pole_width:
            body.append(f"  Q4<real>* pole = reinterpret_cast<Q4<real>*>(tab + e * {self.pole_width}LL);")
            body += [f"  pole[{q}] = Q4<real>{{" + ", ".join(value.get(p, "real(0)") for p in range(4 * q, 4 * q + 4)) + "};"
                     for q in range(self.pole_width // 4)]
        body += [f"  tab[{p}LL * IO + e] = {v};" for p, v in value.items() if p >= self.pole_width]
        body += self._post_values()
        return EDGE_TABLE.format(body="\n".join(body), numel=self.theta_numel, reps=self.reps)

    def _param_grads_kernel(self) -> str:
        """Warps walk the circuit's adjoint at the nodes (warp w: nodes w, w + W, ...) from the node
        cotangents, keep their walk sums in shared memory; warp 0 adds them in warp order and maps them
        (and the layer sums) to gradients."""
        kept = [p for p in range(self.walk_acc_size) if p not in self.walk_layer_accs]
        warps = max(1, min(PARAM_WARPS, self.nodes, NODE_SHARED_BYTES // (8 * 32 * max(1, len(kept)))))
        middle = [f"  if (warp < {warps}) {{"]
        middle += ["  " + line for line in self._walk_locals()]
        middle += [f"    real acc{p} = real(0);" for p in range(self.walk_acc_size)]
        middle.append("#pragma unroll 1")
        middle.append(f"    for (int m = warp; m < {self.nodes}; m += {warps}) {{")
        middle += self._node_state("      ", keep=self.keeps_states)
        for c in AXES:  # dL/dr(u_m) = (1/N) s_0 + (2/N) sum_k (s_cos k cos k u_m + s_sin k sin k u_m)
            if c in self.components:
                terms = [f"{lit(1.0 / self.nodes)} * sums[{self.dcoef[c, 0]}][lane]"]
                for k, jc, js in self._basis_pairs():
                    terms.append(f"{lit(2.0 / self.nodes)} * (sums[{self.dcoef[c, jc]}][lane] * ck{k} + "
                                 f"sums[{self.dcoef[c, js]}][lane] * sk{k})")
                middle.append(f"      real q{c} = {' + '.join(terms)};")
            else:
                middle.append(f"      real q{c} = real(0);")
        middle.append("      real gxl = real(0);")
        middle += ["  " + line for line in FlashCodegen._backward_walk(self, "    ")]
        middle.append("      (void)gxl;")
        middle.append("    }")
        middle += [f"    walk[warp][{n}][lane] = acc{p};" for n, p in enumerate(kept)]
        middle += ["  }", "  __syncthreads();"]
        body = self._layer_gradients()
        body += [f"  if (g_prew) g_prew[oi * {self.reps} + {rep}] = real(0);\n"
                 f"  if (g_prec) g_prec[oi * {self.reps} + {rep}] = real(0);" for rep in range(self.reps)]
        body += [f"  const real acc{p} = " + " + ".join(f"walk[{w}][{n}][lane]" for w in range(warps)) + ";"
                 for n, p in enumerate(kept)]
        body += self._theta_gradients(lambda p: f"acc{p}")
        shared = f"  __shared__ real walk[{warps}][{max(1, len(kept))}][32];  // per warp: its nodes' walk sums"
        return PARAM_GRADS.format(body="\n".join(body), numel=self.theta_numel, P=self.acc_size,
                                  P_circuit=self.circuit_acc_count, W=PARAM_WARPS, shared=shared,
                                  middle="\n".join(middle), middle_note="the node walks")


def make_codegen(circuit: Circuit, geometry: LayerGeometry, fourier: Optional[bool] = None) -> FlashCodegen:
    """The Fourier-series codegen where the circuit allows it (``fourier=None``) or is asked to (True:
    raises UnsupportedCircuit if it cannot), else the gate-walk codegen."""
    walk = FlashCodegen(circuit, geometry)
    if fourier is False or (fourier is None and fourier_form(walk) is None):
        return walk
    return FourierCodegen(circuit, geometry)

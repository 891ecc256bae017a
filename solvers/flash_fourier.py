"""Fourier-series kernels for the flash solver: circuits whose data enter only as the raw input x.

When every data gate turns the qubit by an angle n_j x / d + (theta terms), with integers n_j and d, the
Bloch vector r(x) of an edge is a trigonometric polynomial of degree K = sum |n_j| in u = x / d
(each rotation's entries are linear in 1, cos and sin of its angle). So an edge is 2K+1 coefficients per
Bloch component, and a sample costs one dot product with (1, cos u, sin u, ..., cos Ku, sin Ku), shared
by every output o, instead of a walk through every gate: pz at reps 3 needs 21 multiply-adds (7 for the
z readout) where the gate walk needs about 50. The coefficients come from the circuit itself, evaluated
per edge at the 2K+1 equispaced nodes u_m = 2 pi m / (2K+1) and transformed by the discrete Fourier
transform, which is exact for a polynomial of that degree. Gradients follow the same chain backwards:
the batch kernel sums dL/dcoefficient = q T(u) per edge over its tile (q = dL/dr), and the parameter
kernel maps those sums to node cotangents (the transposed transform) and walks the circuit's adjoint at
each node. The amp readout keeps all three components, so rho = sqrt(r_x^2 + r_y^2) stays exact
near the poles as in the gate-walk kernels.

``FourierCodegen`` plans the coefficient table and writes the same four kernels, with the same
signatures, as ``FlashCodegen``, which it extends (its gate walk evaluates the nodes).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from qkan.circuits import Circuit

from .base import LayerGeometry
from .flash_codegen import AXES, EDGE_TABLE, PARAM_GRADS, FlashCodegen, lit

MAX_FOURIER_DEGREE = 4  # largest K whose kernels compile without spills in double (pz amp at K = 5 spills 12 bytes
# in the parameter kernel; CI checks every built-in up to this degree)
MAX_DENOMINATOR = 4  # data coefficients n/d with d up to this use a basis in x/d


def fourier_form(codegen: FlashCodegen) -> Optional[tuple[int, tuple[int, ...]]]:
    """(d, (n_j per data gate)) when every data gate's angle is sum_j n_j x / d + theta terms with raw x
    and the degree sum |n_j| is at most MAX_FOURIER_DEGREE; None otherwise (pre-activations, arccos,
    irrational or large frequencies keep the gate-walk kernels)."""
    coefs = []
    for gate in codegen.gates:
        if any(t.encoding != "raw" for t in gate.terms):
            return None
        coefs.append(Fraction(sum(t.coef for t in gate.terms)).limit_denominator(1000))
    if any(abs(float(c) - sum(t.coef for t in g.terms)) > 1e-12 for c, g in zip(coefs, codegen.gates)):
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
    then QW, QB, BW; ``acc_names``: their gradient sums, then SG, SGF, SGS)."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry):
        super().__init__(circuit, geometry)
        form = fourier_form(self)
        if form is None:
            raise ValueError(f"circuit {circuit.name!r} has data gates that are not integer multiples of x / d "
                             f"(d <= {MAX_DENOMINATOR}) with raw x, or degree above {MAX_FOURIER_DEGREE}")
        self.denominator, numerators = form
        self.degree = sum(abs(n) for n in numerators)
        self.nodes = 2 * self.degree + 1
        self.components = AXES if self.readout == "amp" else ("z",)
        self.walk_table_size, self.walk_acc_size = self.table_size, self.acc_size
        self.table_names, self.acc_names = [], []
        self.coef = {(c, j): self._table(f"F{c}{j}") for c in self.components for j in range(self.nodes)}
        self.post_slots = tuple(self._table(n) for n in ("QW", "QB", "BW"))
        self.dcoef = {(c, j): self._acc(f"DF{c}{j}") for c in self.components for j in range(self.nodes)}
        self.layer_accs = tuple(self._acc(n) for n in ("SG", "SGF", "SGS"))
        self.edge_acc_count = len(self.acc_names) - 3

    # ----- per-sample values: the basis at u = x / d ----------------------------------
    @property
    def x_width(self) -> int:
        """Values per sample in shared memory: x, (cos ku, sin ku) for k = 1..K, sigma, sigma'."""
        return 2 * self.degree + 3

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

    def _x_values(self, indent: str, dst: str) -> list[str]:
        lines = [f"{indent}{dst}[0] = xv;", f"{indent}{{"]
        lines += self._basis(indent + "  ", self._u("xv"))
        lines += [f"{indent}  {dst}[{2 * k - 1}] = ck{k}; {dst}[{2 * k}] = sk{k};" for k in range(1, self.degree + 1)]
        lines.append(f"{indent}}}")
        k = 2 * self.degree + 1
        if self.base:
            lines.append(f"{indent}{dst}[{k}] = sigma(xv); {dst}[{k + 1}] = dsigma(xv);")
        else:
            lines.append(f"{indent}{dst}[{k}] = real(0); {dst}[{k + 1}] = real(0);")
        return lines

    def _x_load(self, indent: str, src: str) -> list[str]:
        lines = [f"{indent}const real xv = {src}[0]; (void)xv;"]
        lines += [f"{indent}const real ck{k} = {src}[{2 * k - 1}], sk{k} = {src}[{2 * k}];"
                  for k in range(1, self.degree + 1)]
        k = 2 * self.degree + 1
        lines.append(f"{indent}const real sgx = {src}[{k}], dsgx = {src}[{k + 1}]; (void)sgx; (void)dsgx;")
        return lines

    def _sample_setup(self, indent: str) -> list[str]:
        return []

    def _series(self, c: str, values: dict[tuple[str, int], str]) -> str:
        """sum_j F{c}{j} T_j(u) with the coefficients named by ``values``."""
        terms = [values[c, 0]]
        for k in range(1, self.degree + 1):
            terms += [f"{values[c, 2 * k - 1]} * ck{k}", f"{values[c, 2 * k]} * sk{k}"]
        return " + ".join(terms)

    def _forward_gates(self, indent: str, keep: bool = False) -> list[str]:
        """r(u) from the edge's coefficients (components the readout ignores are zero)."""
        named = {key: f"t{slot}" for key, slot in self.coef.items()}
        return [f"{indent}const real r{c} = {self._series(c, named) if c in self.components else 'real(0)'};"
                for c in AXES]

    def _backward_walk(self, indent: str) -> list[str]:
        """Coefficient gradient sums q_c T_j(u) and grad_x += q . dr/du / d."""
        lines = []
        for c in self.components:
            lines.append(f"{indent}acc{self.dcoef[c, 0]} += q{c};")
            for k in range(1, self.degree + 1):
                lines.append(f"{indent}acc{self.dcoef[c, 2 * k - 1]} += q{c} * ck{k}; "
                             f"acc{self.dcoef[c, 2 * k]} += q{c} * sk{k};")
        if self.degree:  # d/du of cos ku = -k sin ku, of sin ku = k cos ku
            lines.append(f"{indent}{{")
            scale = 1.0 / self.denominator
            for k in range(1, self.degree + 1):
                lines.append(f"{indent}  const real dck{k} = {lit(k * scale)} * ck{k}, dsk{k} = {lit(k * scale)} * sk{k};")
            for c in self.components:
                terms = []
                for k in range(1, self.degree + 1):
                    terms.append(f"t{self.coef[c, 2 * k]} * dck{k} - t{self.coef[c, 2 * k - 1]} * dsk{k}")
                lines.append(f"{indent}  gxl += q{c} * ({' + '.join(terms)});")
            lines.append(f"{indent}}}")
        return lines

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
            body.append(f"    F{self.coef[c, 0]} += r{c};")
            for k in range(1, self.degree + 1):
                body.append(f"    F{self.coef[c, 2 * k - 1]} += r{c} * ck{k}; F{self.coef[c, 2 * k]} += r{c} * sk{k};")
        body.append("  }")
        for (c, j), p in self.coef.items():
            weight = (1.0 if j == 0 else 2.0) / self.nodes
            body.append(f"  tab[{p}LL * IO + e] = {lit(weight)} * F{p};")
        qw, qb, bw = self.post_slots
        body.append(f"  tab[{qw}LL * IO + e] = mask[oi] * pw[oi];")
        body.append(f"  tab[{qb}LL * IO + e] = mask[oi] * pw[oi] * pb[oi];")
        body.append(f"  tab[{bw}LL * IO + e] = mask[oi] * bw[oi];")
        return EDGE_TABLE.format(body="\n".join(body), numel=self.theta_numel, reps=self.reps)

    def _param_grads_kernel(self) -> str:
        sg, sgf, sgs = self.layer_accs
        body = [f"  if (g_pw) g_pw[oi] = EDGE ? real(0) : mask[oi] * (a[{sgf}] + pb[oi] * a[{sg}]);",
                f"  if (g_pb) g_pb[oi] = EDGE ? real(0) : mask[oi] * pw[oi] * a[{sg}];",
                f"  if (g_bw) g_bw[oi] = EDGE ? real(0) : mask[oi] * a[{sgs}];" if self.base
                else "  if (g_bw) g_bw[oi] = real(0);"]
        body += [f"  if (g_prew) g_prew[oi * {self.reps} + {rep}] = real(0);\n"
                 f"  if (g_prec) g_prec[oi * {self.reps} + {rep}] = real(0);" for rep in range(self.reps)]
        body += self._walk_locals()
        body += [f"  real acc{p} = real(0);" for p in range(self.walk_acc_size)]
        body.append("#pragma unroll 1")
        body.append(f"  for (int m = 0; m < {self.nodes}; ++m) {{  // node cotangents: the transposed transform")
        body += self._node_state("    ", keep=self.keeps_states)
        for c in AXES:  # dL/dr(u_m) = (1/N) s_0 + (2/N) sum_k (s_cos k cos k u_m + s_sin k sin k u_m)
            if c in self.components:
                terms = [f"{lit(1.0 / self.nodes)} * a[{self.dcoef[c, 0]}]"]
                for k in range(1, self.degree + 1):
                    terms.append(f"{lit(2.0 / self.nodes)} * (a[{self.dcoef[c, 2 * k - 1]}] * ck{k} + "
                                 f"a[{self.dcoef[c, 2 * k]}] * sk{k})")
                body.append(f"    real q{c} = {' + '.join(terms)};")
            else:
                body.append(f"    real q{c} = real(0);")
        body.append("    real gxl = real(0);")
        body += FlashCodegen._backward_walk(self, "    ")
        body.append("    (void)gxl;")
        body.append("  }")
        body += self._theta_gradients(lambda p: f"acc{p}")
        return PARAM_GRADS.format(body="\n".join(body), numel=self.theta_numel, reps=self.reps,
                                  P=self.acc_size, P_edge=self.edge_acc_count)


def make_codegen(circuit: Circuit, geometry: LayerGeometry, fourier: Optional[bool] = None) -> FlashCodegen:
    """The Fourier-series codegen where the circuit allows it (``fourier=None``) or is asked to (True:
    raises ValueError if it cannot), else the gate-walk codegen."""
    walk = FlashCodegen(circuit, geometry)
    if fourier is False or (fourier is None and fourier_form(walk) is None):
        return walk
    return FourierCodegen(circuit, geometry)

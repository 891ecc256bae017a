"""The four kernels' text around a family's per-sample code (the gate walk, walk.py, or the Fourier series,
fourier.py): the batch kernels' skeletons, the per-edge kernels' templates, and the whole source."""

from __future__ import annotations

from typing import Protocol

from ..activations import ACTIVATIONS
from . import abi, tuning
from .plan import Layout, WalkPlan
from .templates import BACKWARD, EDGE_TABLE, FORWARD, HELPERS, PARAM_GRADS
from .writer import CudaWriter


class KernelFamily(Protocol):
    """What a family of flash kernels writes: per-sample pieces of the batch kernels, and its per-edge kernels."""

    @property
    def plan(self) -> WalkPlan: ...

    @property
    def layout(self) -> Layout:
        """The kernels' table and accumulators."""

    @property
    def x_width(self) -> int:
        """Values per sample staged in shared memory (they do not depend on the edge)."""

    def write_load_table(self, w: CudaWriter, lazy: bool) -> None:
        """The edge's table values as locals t{slot}; ``lazy`` (the forward) leaves out those that only a
        rarely taken branch reads (its readout reads them there)."""

    def write_x_values(self, w: CudaWriter, dst: str) -> None:
        """Store sample ``xv``'s x-only values at ``dst``."""

    def write_x_load(self, w: CudaWriter, src: str) -> None:
        """Read a sample's x-only values from ``src``."""

    def write_sample_setup(self, w: CudaWriter) -> None:
        """Per-sample values that depend on the edge too."""

    def write_state(self, w: CudaWriter, keep: bool) -> None:
        """The Bloch vector (rx, ry, rz) at the circuit's end (``keep``: for the backward walk)."""

    def write_readout(self, w: CudaWriter, lazy: bool) -> None:
        """f from the final state."""

    def write_readout_cotangent(self, w: CudaWriter) -> None:
        """q = dL/dr from gf = dL/df."""

    def write_backward_walk(self, w: CudaWriter) -> None:
        """Accumulate the per-edge gradient sums and grad_x (``gxl``) from q."""

    def edge_table_kernel(self) -> str: ...

    def param_grads_kernel(self) -> str: ...


def forward_kernel(family: KernelFamily) -> str:
    """``qkan_forward``: NB samples a thread, their sample code unrolled (a large loop body may stay rolled,
    sending acc[] to local memory); samples past B compute on the zeros staged for them, only their writes
    are skipped."""
    qw, qb, bw = family.layout.post_slots
    nb, width = tuning.NB, family.x_width
    chunk = max(1, min(tuning.MAX_INPUT_CHUNK, tuning.STAGING_BYTES // (nb * width * 8)))
    base = f" + t{bw} * sgx" if family.plan.base else ""
    samples = CudaWriter(4)
    for k in range(nb):
        with samples.block(f"{{ const long long b = b0 + {k}; (void)b;"):
            samples.line(f"const real* xq = xs + ({k} * {chunk} + ii) * {width};")
            family.write_x_load(samples, "xq")
            family.write_sample_setup(samples)
            family.write_state(samples, keep=False)
            family.write_readout(samples, lazy=True)
            samples.line(
                "if (EDGE) { if (b < B) io_put(out + (b * O + o) * I + i, f); }",
                f"else {{ acc{k} += t{qw} * f + t{qb}{base}; }}",
            )
    xvalues, load = CudaWriter(3), CudaWriter(3)
    family.write_x_values(xvalues, "dst")
    family.write_load_table(load, lazy=True)
    return FORWARD.substitute(
        signature=abi.FORWARD.signature,
        nb=nb,
        ic=chunk,
        isplit=tuning.INPUT_SPLIT,
        K=width,
        xvalues=xvalues.text(),
        load=load.text(),
        samples=samples.text(),
        accs=" ".join(f"real acc{k} = real(0);" for k in range(nb)),
        acc_list=", ".join(f"acc{k}" for k in range(nb)),
    )


def backward_kernel(family: KernelFamily) -> str:
    """``qkan_backward``: per sample, the state, the readout's cotangent and the walk back; the layer sums
    (SG, SGF, SGS) only under SUMS."""
    layout, plan = family.layout, family.plan
    qw, _, bw = layout.post_slots
    sg, sgf, sgs = layout.layer_accs
    sample = CudaWriter(3)
    family.write_x_load(sample, "xq")
    family.write_sample_setup(sample)
    family.write_state(sample, keep=plan.keeps_states)
    family.write_readout(sample, lazy=False)
    sample.line("real gf;", "if (EDGE) { gf = gin; }")
    with sample.block("else {"):
        sample.line("const real gy = gin;", f"gf = gy * t{qw};", f"if (SUMS) {{ acc{sg} += gy; acc{sgf} += gy * f; }}")
        if plan.base:
            sample.line(f"if (SUMS) acc{sgs} += gy * sgx;", f"gxl += gy * t{bw} * dsgx;")
    family.write_readout_cotangent(sample)
    family.write_backward_walk(sample)
    load, xvalues = CudaWriter(1), CudaWriter(3)
    family.write_load_table(load, lazy=False)
    family.write_x_values(xvalues, "dst")
    accs = "\n".join(f"  real acc{p} = real(0);" for p in range(layout.acc_size))
    stores = "\n".join(
        ("    if (SUMS) " if p in layout.layer_accs else "    ") + f"part[((bt * P + {p}) * I + i) * O + o] = acc{p};"
        for p in range(layout.acc_size)
    )
    return BACKWARD.substitute(
        signature=abi.BACKWARD.signature,
        load=load.text(),
        accs=accs,
        sample=sample.text(),
        K=family.x_width,
        xvalues=xvalues.text(),
        gs_float=tuning.BACKWARD_CHUNK[4],
        gs_double=tuning.BACKWARD_CHUNK[8],
        stores=stores,
        P=layout.acc_size,
        P_circuit=layout.circuit_acc_count,
    )


def edge_table_kernel(plan: WalkPlan, body: CudaWriter) -> str:
    """``qkan_edge_table`` around ``body`` (one thread per edge, writing the table)."""
    return EDGE_TABLE.substitute(
        signature=abi.EDGE_TABLE.signature, body=body.text(), numel=plan.theta_numel, reps=plan.reps
    )


def param_grads_kernel(
    plan: WalkPlan,
    layout: Layout,
    body: CudaWriter,
    shared: str = "",
    middle: str = "",
    middle_note: str = "nothing else",
) -> str:
    """``qkan_param_grads``: the tiles' sums in shared memory, ``middle`` (before warp 0 alone goes on), then
    ``body`` mapping the sums a[p] to gradients."""
    return PARAM_GRADS.substitute(
        signature=abi.PARAM_GRADS.signature,
        body=body.text(),
        numel=plan.theta_numel,
        P=layout.acc_size,
        P_circuit=layout.circuit_acc_count,
        W=tuning.PARAM_WARPS,
        shared=shared,
        middle=middle,
        middle_note=middle_note,
    )


def write_post_values(w: CudaWriter, layout: Layout) -> None:
    """Table writes of the folded post-activation factors: mask * pw, mask * pw * pb, mask * bw."""
    qw, qb, bw = layout.post_slots
    w.line(
        f"tab[{qw}LL * IO + e] = mask[oi] * pw[oi];",
        f"tab[{qb}LL * IO + e] = mask[oi] * pw[oi] * pb[oi];",
        f"tab[{bw}LL * IO + e] = mask[oi] * bw[oi];",
    )


def write_layer_gradients(w: CudaWriter, layout: Layout, base: bool) -> None:
    """Post-activation and base-weight gradients from the layer sums a[SG], a[SGF], a[SGS]."""
    sg, sgf, sgs = layout.layer_accs
    w.line(
        f"if (g_pw) g_pw[oi] = SUMS ? mask[oi] * (a[{sgf}] + pb[oi] * a[{sg}]) : real(0);",
        f"if (g_pb) g_pb[oi] = SUMS ? mask[oi] * pw[oi] * a[{sg}] : real(0);",
        f"if (g_bw) g_bw[oi] = SUMS ? mask[oi] * a[{sgs}] : real(0);" if base else "if (g_bw) g_bw[oi] = real(0);",
    )


def source(family: KernelFamily, precision: str = "full") -> str:
    """The CUDA source of one precision family (abi.PRECISIONS): helpers, the four kernels and that family's
    instantiations."""
    plan = family.plan
    sigma, dsigma = ACTIVATIONS[plan.base].cuda if plan.base else ("real(0)", "real(0)")
    header = (
        f"// qkan flash kernels for circuit {plan.circuit.name!r} ({len(plan.circuit.ops)} ops, "
        f"readout {plan.readout}, preacts {plan.geometry.preacts}, base {plan.base})\n"
    )
    parts = [
        header,
        HELPERS.substitute(sigma=sigma, dsigma=dsigma),
        family.edge_table_kernel(),
        forward_kernel(family),
        backward_kernel(family),
        family.param_grads_kernel(),
        abi.instantiations(precision),
    ]
    return "\n".join(parts)

"""The flash kernels' ABI, declared once per kernel (docs/design.md, "Kernel ABI"): parameters and
template flags. From it come each kernel's C signature, the explicit instantiations, the name
expressions the host compiles, and the argument tuple of a launch (``spec.pack``)."""

from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# (compute type, I/O type) pairs per precision family, each compiled as its own module when first used: "full"
# computes and stores in one type; "reduced" reads and writes bf16/fp16 (qbf16, qhalf: 16-bit storage types of
# the helpers) and computes in float. Only the batch kernels have an I/O type; the per-edge ones take ``real``.
PRECISIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "full": (("float", "float"), ("double", "double")),
    "reduced": (("float", "qbf16"), ("float", "qhalf")),
}


@dataclass(frozen=True)
class Param:
    """A kernel parameter: its C type (``real`` is the compute type, ``io`` the batch tensors' storage type) and
    name."""

    ctype: str
    name: str

    @property
    def declaration(self) -> str:
        if self.ctype.endswith("*"):
            return f"{self.ctype} __restrict__ {self.name}"
        return f"{self.ctype} {self.name}"


@dataclass(frozen=True)
class Flag:
    """A bool template flag and its values, in the order of the explicit instantiations."""

    name: str
    values: tuple[bool, ...] = (False, True)


class KernelSpec:
    """One ``__global__`` kernel template: ``template <typename real, [typename io,] bool FLAG...>`` (``io`` where
    a parameter is of that type).

    ``params`` is C-like text, ``const real* x, long long B``; its line breaks are kept in the signature.
    ``exclusive`` names pairs of flags never both true (no such variant is compiled). ``pack(**values)``
    returns a launch's arguments in parameter order and raises TypeError on a missing or unknown one."""

    def __init__(
        self, name: str, params: str, flags: tuple[Flag, ...] = (), exclusive: tuple[tuple[str, str], ...] = ()
    ):
        self.name, self.flags, self.exclusive = name, flags, exclusive
        self.rows = [[_param(p) for p in row.split(",") if p.strip()] for row in params.strip().splitlines()]
        self.params = tuple(p for row in self.rows for p in row)
        self.has_io = any(re.search(r"\bio\b", p.ctype) for p in self.params)
        self.names = tuple(p.name for p in self.params)
        self.pack = _packer(name, self.names)
        self.flag_names = tuple(f.name for f in flags)
        self.variants = tuple(v for v in itertools.product(*(f.values for f in flags)) if self._allowed(v))

    def _allowed(self, values: tuple[bool, ...]) -> bool:
        on = {f for f, v in zip(self.flag_names, values) if v}
        return not any(a in on and b in on for a, b in self.exclusive)

    @property
    def signature(self) -> str:
        """The template head and the kernel's declarator (the source adds `` {`` and the body)."""
        types = ["typename real", "typename io"] if self.has_io else ["typename real"]
        head = ", ".join(types + [f"bool {f}" for f in self.flag_names])
        opening = f"__global__ void {self.name}("
        rows = [", ".join(p.declaration for p in row) for row in self.rows]
        return f"template <{head}>\n{opening}" + (",\n" + " " * len(opening)).join(rows) + ")"

    def instance(self, real: str, io: str, **flags: bool) -> str:
        """The name expression of one variant, ``qkan_backward<float, qbf16, false, true, ...>`` (``io`` is
        ignored by a kernel without I/O type); raises on a flag missing, unknown or in a variant that is not
        compiled."""
        _check(self.name, "flags", self.flag_names, flags)
        values = tuple(bool(flags[f]) for f in self.flag_names)
        if (real, io) not in _PAIRS or (not self.has_io and real != io) or values not in self.variants:
            raise ValueError(f"{self.name} has no compiled variant <{real}, {io}, {flags}>")
        return self._expression(real, io, values)

    def _expression(self, real: str, io: str, values: tuple[bool, ...]) -> str:
        types = [real, io] if self.has_io else [real]
        return f"{self.name}<{', '.join(types + [str(v).lower() for v in values])}>"

    def expressions(self, real: str, io: str) -> Iterator[str]:
        return (self._expression(real, io, v) for v in self.variants)

    def instantiation(self, expression: str, real: str, io: str) -> str:
        types = ", ".join(re.sub(r"\bio\b", io, re.sub(r"\breal\b", real, p.ctype)) for p in self.params)
        return f"template __global__ void {expression}({types});"


def _param(text: str) -> Param:
    ctype, name = text.strip().rsplit(" ", 1)
    return Param(ctype, name)


def _packer(kernel: str, names: tuple[str, ...]) -> Callable[..., tuple[Any, ...]]:
    """``pack(**values)``: the launch arguments in parameter order. A function of exactly these keyword-only
    parameters (built as namedtuple builds ``__new__``), so Python refuses a missing or unknown argument, at
    the cost of a plain call."""
    bad = [n for n in names if not n.isidentifier() or keyword.iskeyword(n)]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"{kernel}: parameter names must be distinct identifiers, got {list(names)}")
    args = ", ".join(names)
    namespace: dict[str, Any] = {}
    exec(f"def pack(*, {args}):\n    return ({args},)", namespace)
    pack = namespace["pack"]
    pack.__qualname__ = f"{kernel}.pack"
    return pack


def _check(kernel: str, what: str, declared: tuple[str, ...], given: dict) -> None:
    missing = [n for n in declared if n not in given]
    extra = [n for n in given if n not in declared]
    if missing or extra:
        raise TypeError(f"{kernel} {what}: missing {missing}, unknown {extra}; declared {list(declared)}")


EDGE_TABLE = KernelSpec(
    "qkan_edge_table",
    """
    const real* theta, const real* pre_w,
    const real* pre_c, const real* pw,
    const real* pb, const real* bw,
    const real* mask, real* tab,
    long long O, long long I, long long G""",
)
FORWARD = KernelSpec(
    "qkan_forward",
    """
    const io* x, const real* tab, io* out,
    long long B, long long O, long long I""",
    flags=(Flag("EDGE"),),
)
BACKWARD = KernelSpec(
    "qkan_backward",
    """
    const io* x, const real* tab,
    const io* gout, real* part, io* gxp,
    long long B, long long O, long long I, long long TB""",
    flags=(Flag("EDGE"), Flag("SUMS", (True, False)), Flag("GX"), Flag("FLAT")),
    exclusive=(("EDGE", "SUMS"), ("GX", "FLAT")),
)
PARAM_GRADS = KernelSpec(
    "qkan_param_grads",
    """
    const real* part, const real* theta,
    const real* pw, const real* pb,
    const real* mask, real* g_theta,
    real* g_prew, real* g_prec, real* g_pw,
    real* g_pb, real* g_bw,
    long long O, long long I, long long G, long long tiles""",
    flags=(Flag("SUMS"),),
)
KERNELS = (EDGE_TABLE, FORWARD, PARAM_GRADS, BACKWARD)  # in the order of the name expressions
_PAIRS = frozenset(pair for pairs in PRECISIONS.values() for pair in pairs)


def _specs(precision: str) -> Iterator[tuple[KernelSpec, str, str]]:
    """(kernel, real, io) of a precision family; a kernel without I/O type only where the family stores real."""
    for real, io in PRECISIONS[precision]:
        for spec in KERNELS:
            if spec.has_io or real == io:
                yield spec, real, io


def name_expressions(precision: str = "full") -> tuple[str, ...]:
    """Every kernel variant of a precision family the host launches (compiled by name, and explicitly
    instantiated in that family's source)."""
    return tuple(e for spec, real, io in _specs(precision) for e in spec.expressions(real, io))


def instantiations(precision: str = "full") -> str:
    """Explicit instantiations of a family's name expressions: NVRTC instantiates name expressions itself, but
    an nvcc compile of the source (the CI's check) needs them spelled out."""
    specs = _specs(precision)
    lines = [spec.instantiation(e, real, io) for spec, real, io in specs for e in spec.expressions(real, io)]
    return "\n".join(lines) + "\n"

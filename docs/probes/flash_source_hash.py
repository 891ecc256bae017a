"""sha1 over the generated flash sources of every built-in x readout x preacts x base x reps x kernel family, plus
one grouped layer: a restructure that must keep the kernels byte-identical prints the same line before and after
(2026-12-06, since the bf16/fp16 I/O kernels: ``481 16f8a252fc4c8d33ce1048dadf9d28bc1fec2c33``; the restructure
before them kept ``c37de2eb236b9f5271af3f3f6b9d4a919a7340c7``). Runs on the CPU."""

import hashlib
import itertools

from qkan.circuits import BUILTINS, builtin
from qkan.solvers.base import LayerGeometry
from qkan.solvers.flash import make_codegen

h = hashlib.sha1()
n = 0
for name, readout, preacts, base, reps, fourier in itertools.product(
    sorted(BUILTINS), ("amp", "z"), (False, True), ("silu", "gelu", None, "identity"), (1, 3, 5), (None, False)
):
    geom = LayerGeometry(4, 3, None, preacts, base)
    src = make_codegen(builtin(name, reps, readout), geom, fourier).source
    h.update(src.encode())
    n += 1
for groups in (2,):
    src = make_codegen(builtin("pz", 3, "amp"), LayerGeometry(4, 3, groups, False, "silu"), None).source
    h.update(src.encode())
    n += 1
print(n, h.hexdigest())

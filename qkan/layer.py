"""QKANLayer: one layer of DARUAN edges, a drop-in for the published ``qkan.QKANLayer``.

It owns the parameters (published names, shapes and init, spec §4), turns the ansatz into a
Circuit, and hands the math to a compiled solver Program (DESIGN.md §2).
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from qkan.circuits import Circuit, builtin
from qkan.solvers import LayerGeometry, LayerParams, Program, check_options, compile as compile_program, get_solver
from qkan.solvers.activations import activation_name, base_activation_fn

Ansatz = Union[str, Circuit]
Activation = Union[str, Callable[[torch.Tensor], torch.Tensor], None]


def resolve_circuit(ansatz: Ansatz, reps: Optional[int], fast_measure: Optional[bool]) -> Circuit:
    """The Circuit for a built-in name or a user Circuit, with the readout ``fast_measure`` asks
    for (True: amp, False: z, None: the built-in default amp or the circuit's own)."""
    if fast_measure is not None and not isinstance(fast_measure, bool):
        raise TypeError(f"fast_measure must be True, False or None, got {fast_measure!r}")
    readout = None if fast_measure is None else ("amp" if fast_measure else "z")
    if isinstance(ansatz, Circuit):
        if reps is not None and reps != ansatz.data_reps:
            raise ValueError(f"reps={reps} does not match the circuit, which has {ansatz.data_reps} re-uploads")
        circuit = ansatz.with_readout(readout) if readout else ansatz
        return circuit.validate()
    if not isinstance(ansatz, str):
        raise TypeError(f"ansatz must be a built-in name or a qkan.circuits.Circuit, got {type(ansatz).__name__}")
    return builtin(ansatz, 3 if reps is None else reps, readout or "amp")


class QKANLayer(nn.Module):
    """y[n, o] = sum_i mask * (pw * (f_oi(x[n, i]) + pb) + bw * sigma(x[n, i])), f a DARUAN circuit."""

    # NaN/inf input raises: None (default) checks CPU inputs only, since on CUDA the check costs a device
    # sync per call (longer than a small layer's kernels); True checks on every device; False never.
    check_finite: Optional[bool] = None

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        reps: Optional[int] = None,
        group: int = -1,
        solver: str = "exact",
        ansatz: Ansatz = "pz",
        preact_trainable: bool = False,
        postact_weight_trainable: bool = False,
        postact_bias_trainable: bool = False,
        base_activation: Activation = "silu",
        ba_trainable: bool = True,
        fast_measure: Optional[bool] = None,
        seed: Optional[int] = None,
        device: Union[str, torch.device, None] = None,
        dtype: Optional[torch.dtype] = None,
        solver_kwargs: Optional[dict[str, Any]] = None,
        preact_init: bool = False,
    ):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(group, int) or isinstance(group, bool) or (group != -1 and group < 1):
            raise ValueError(f"group must be -1 (one circuit per edge) or a positive integer, got {group!r}")
        dtype = dtype or torch.get_default_dtype()
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        self.in_dim, self.out_dim, self.group = in_dim, out_dim, group
        self.circuit = resolve_circuit(ansatz, reps, fast_measure)
        self.ansatz = ansatz
        self.reps = self.circuit.data_reps
        self.preact_trainable = preact_trainable
        self.postact_weight_trainable = postact_weight_trainable
        self.postact_bias_trainable = postact_bias_trainable
        self.ba_trainable = ba_trainable
        self.preact_init = preact_init
        self.base_activation = activation_name(base_activation)
        base_activation_fn(self.base_activation)  # an unknown name fails here, not at the first forward
        self.seed = seed
        self.solver_kwargs = dict(solver_kwargs or {})
        self.solver = solver
        check_options(solver, self.solver_kwargs)
        self._programs: dict[tuple, Program] = {}

        factory = {"device": device, "dtype": dtype}
        edges = (out_dim, in_dim) if group == -1 else (group,)
        affine_bias = preact_trainable or "affine" in self.circuit.data_encodings
        self.theta = nn.Parameter(torch.empty(*edges, *self.circuit.parameter_shape, **factory))
        self.preacts_weight = nn.Parameter(torch.empty(*edges, self.reps, **factory), requires_grad=preact_trainable)
        self.preacts_bias = nn.Parameter(torch.empty(*edges, self.reps, **factory), requires_grad=affine_bias)
        self.base_weight = nn.Parameter(torch.empty(out_dim, in_dim, **factory), requires_grad=ba_trainable)
        self.postact_weights = nn.Parameter(torch.empty(out_dim, in_dim, **factory),
                                            requires_grad=postact_weight_trainable)
        self.postact_bias = nn.Parameter(torch.empty(out_dim, in_dim, **factory), requires_grad=postact_bias_trainable)
        self.mask = nn.Parameter(torch.empty(out_dim, in_dim, **factory), requires_grad=False)
        self.reset_parameters()

    # ----- parameters -----------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Published init: xavier-normal theta (seeded by ``seed`` without touching the global RNG),
        pre-activations w=1 c=0, base weight 0.5 or 0, post-activations 1 and 0, mask 1."""
        gen = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        with torch.no_grad():
            for tensor in ([self.theta, self.preacts_weight, self.preacts_bias] if self.preact_init else [self.theta]):
                cpu = torch.empty(tensor.shape, dtype=tensor.dtype)
                if cpu.numel():
                    nn.init.xavier_normal_(cpu, generator=gen)
                tensor.copy_(cpu)
            if not self.preact_init:
                self.preacts_weight.fill_(1.0)
                self.preacts_bias.zero_()
            self.base_weight.fill_(0.5 if self.ba_trainable else 0.0)
            self.postact_weights.fill_(1.0)
            self.postact_bias.zero_()
            self.mask.fill_(1.0)

    def params(self) -> LayerParams:
        """The seven tensors, read from the parameter dict when all are registered there: each nn.Module
        attribute read costs a failed instance lookup and __getattr__ (7 of them: 4.7 us a forward, measured on
        a CPU). Where one is not there (moved by torch.nn.utils.parametrize, or a subclass's buffer), the
        attributes."""
        p = self._parameters
        try:
            return LayerParams(p["theta"], p["preacts_weight"], p["preacts_bias"], p["postact_weights"],
                               p["postact_bias"], p["base_weight"], p["mask"])
        except KeyError:
            pass
        return LayerParams(self.theta, self.preacts_weight, self.preacts_bias, self.postact_weights,
                           self.postact_bias, self.base_weight, self.mask)

    @property
    def geometry(self) -> LayerGeometry:
        return LayerGeometry(self.in_dim, self.out_dim, None if self.group == -1 else self.group,
                             self.preact_trainable, self.base_activation)

    @property
    def readout(self) -> str:
        return self.circuit.readout.kind

    @property
    def solver(self) -> str:
        return self._solver

    @solver.setter
    def solver(self, name: str) -> None:
        if name != "auto":
            get_solver(name)
        self._solver = name
        self._programs = {}

    def program(self, device: torch.device, dtype: torch.dtype) -> Program:
        """The compiled Program for this device and dtype (compiled once, then reused)."""
        key = (device, dtype)
        if key not in self._programs:
            self._programs[key] = compile_program(self.solver, self.circuit, self.geometry, dtype, device,
                                                  **self.solver_kwargs)
        return self._programs[key]

    # ----- forward ----------------------------------------------------------------------
    def _checked(self, x: torch.Tensor) -> LayerParams:
        """The layer's tensors, once ``x`` is known to fit them (clear errors otherwise)."""
        params = self.params()
        self._check_input(x, params.theta)
        return params

    def _check_input(self, x: torch.Tensor, theta: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self._name()}: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"{self._name()}: expected input of shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{self._name()}: expected a floating-point input, got {x.dtype}")
        if x.dtype != theta.dtype:
            raise TypeError(f"{self._name()}: input is {x.dtype} but the layer's parameters are {theta.dtype}; "
                            f"convert one of them (x.to({theta.dtype}) or layer.to({x.dtype}))")
        if x.device != theta.device:
            raise ValueError(f"{self._name()}: input is on {x.device} but the layer is on {theta.device}")
        if self.check_finite is False or (self.check_finite is None and x.is_cuda) or torch.compiler.is_compiling():
            return
        if not (x.is_cuda and torch.cuda.is_current_stream_capturing()) and not torch.isfinite(x).all():
            raise ValueError(f"{self._name()}: input contains NaN or inf")

    def _name(self) -> str:
        return f"QKANLayer({self.in_dim}->{self.out_dim})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = self._checked(x)
        return self.program(x.device, x.dtype).layer_output(x, params)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): every edge's contribution (sums over I to ``forward``), for plots and pruning."""
        params = self._checked(x)
        return self.program(x.device, x.dtype).edge_values(x, params)

    def circuit_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): the raw circuit readout f of every edge."""
        params = self._checked(x)
        return self.program(x.device, x.dtype).circuit_values(x, params)

    def plot(self, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200):
        """A grid of this layer's per-edge curves over the range of ``x`` (default [-1, 1])."""
        from .plotting import edge_grid

        ranges = (torch.stack((x.amin(0), x.amax(0)), dim=1).detach().cpu() if x is not None
                  else torch.tensor([[-1.0, 1.0]]).repeat(self.in_dim, 1))
        fig = edge_grid(self.edge_values, ranges, self.out_dim, self.in_dim,
                        f"{self.circuit.name}, reps={self.reps}", n_points, self.theta.dtype, self.theta.device)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    # ----- structure changes ------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Constructor arguments that rebuild a layer like this one (sizes excluded)."""
        return dict(reps=self.reps, group=self.group, solver=self.solver, ansatz=self.ansatz,
                    preact_trainable=self.preact_trainable, postact_weight_trainable=self.postact_weight_trainable,
                    postact_bias_trainable=self.postact_bias_trainable, base_activation=self.base_activation,
                    ba_trainable=self.ba_trainable, fast_measure=self.readout == "amp", seed=self.seed,
                    device=self.theta.device, dtype=self.theta.dtype, solver_kwargs=self.solver_kwargs,
                    preact_init=self.preact_init)

    def refine(self, new_reps: int) -> "QKANLayer":
        """A layer with ``new_reps`` re-uploads: the old final rotation becomes re-upload R's, new rows
        are zero. Only phases follow the old circuit, so pz and rpz keep their function exactly."""
        if not isinstance(self.ansatz, str):
            raise ValueError("refine needs a built-in ansatz; a user Circuit has a fixed number of re-uploads")
        if new_reps <= self.reps:
            raise ValueError(f"new_reps must exceed the current reps={self.reps}, got {new_reps}")
        new = QKANLayer(self.in_dim, self.out_dim, **{**self.settings(), "reps": new_reps})
        rows = self.theta.shape[-2] if self.theta.dim() > 1 else 0
        with torch.no_grad():
            new.theta.zero_()
            new.theta[..., :rows, :].copy_(self.theta)
            for name in ("preacts_weight", "preacts_bias"):
                getattr(new, name)[..., : self.reps].copy_(getattr(self, name))
            for name in ("base_weight", "postact_weights", "postact_bias", "mask"):
                getattr(new, name).copy_(getattr(self, name))
        return new

    def subset(self, in_ids: list[int], out_ids: list[int]) -> "QKANLayer":
        """A layer over the kept inputs/outputs with their parameters (for node pruning)."""
        new = QKANLayer(len(in_ids), len(out_ids), **self.settings())
        o, i = torch.tensor(out_ids), torch.tensor(in_ids)
        with torch.no_grad():
            if self.group == -1:
                new.theta.copy_(self.theta[o][:, i])
                new.preacts_weight.copy_(self.preacts_weight[o][:, i])
                new.preacts_bias.copy_(self.preacts_bias[o][:, i])
            else:
                self._copy_groups(new, in_ids)
            for name in ("base_weight", "postact_weights", "postact_bias", "mask"):
                getattr(new, name).copy_(getattr(self, name)[o][:, i])
        return new

    def _copy_groups(self, new: "QKANLayer", in_ids: list[int]) -> None:
        g = self.group
        for r in range(g):
            sources = {in_ids[j] % g for j in range(r, len(in_ids), g)}
            if len(sources) > 1:
                raise ValueError(f"pruning these inputs would mix parameter groups {sorted(sources)} in group {r}; "
                                 "node pruning of a grouped layer must keep inputs whose positions preserve i mod group")
            if sources:
                src = sources.pop()
                new.theta[r].copy_(self.theta[src])
                new.preacts_weight[r].copy_(self.preacts_weight[src])
                new.preacts_bias[r].copy_(self.preacts_bias[src])

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, out_dim={self.out_dim}, ansatz={self.circuit.name}, reps={self.reps}, "
                f"readout={self.readout}, group={self.group}, solver={self.solver}")

"""QKANLayer: one layer of DARUAN edges, a drop-in for the published ``qkan.QKANLayer``.

It owns the parameters (published names, shapes and init: docs/math.md, "A layer"), takes its settings from one checked
:class:`~qkan.settings.LayerSettings`, checks its input (qkan/validation.py), and hands the math to a
compiled solver Program (docs/design.md, "Data flow"). Under ``torch.autocast`` it follows nn.Linear: fp32 parameters,
output in the autocast dtype.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Mapping, Optional, TypeVar, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from qkan.solvers import LayerGeometry, LayerParams, Program, get_solver
from qkan.solvers import compile as compile_program
from qkan.solvers.opaque import register_opaque

from .program_call import autocast_dtype, call_program
from .published_options import PublishedLayerViews, install_layout_hooks, resolve_published
from .rollback import AllOrNothingLoad
from .settings import Activation, Ansatz, Device, LayerSettings, is_int
from .validation import check_values, layer_mode

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .symbolic import EdgeSpectrum

_DEFAULTS = LayerSettings()
_Layer = TypeVar("_Layer", bound="QKANLayer")


class _Setting:
    """A read-only layer attribute showing one field of the layer's LayerSettings (fixed at construction)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, layer: Optional["QKANLayer"], owner: Optional[type] = None) -> Any:
        return self if layer is None else getattr(layer._settings, self.name)

    def __set__(self, layer: "QKANLayer", value: Any) -> None:
        raise AttributeError(
            f"{self.name} is fixed when the layer is built; build another with "
            f"QKANLayer.from_settings(in_dim, out_dim, layer.settings().replace({self.name}=...))"
        )


class QKANLayer(PublishedLayerViews, AllOrNothingLoad):
    """y[n, o] = sum_i mask * (pw * (f_oi(x[n, i]) + pb) + bw * sigma(x[n, i])), f a DARUAN circuit."""

    # How this layer checks input values (NaN/inf, the arccos domain): None (default) follows
    # qkan.set_validation; True checks at the call ("full") on every device; False never checks ("off").
    check_finite: Optional[bool] = None

    group = _Setting()
    ansatz = _Setting()
    preact_trainable = _Setting()
    postact_weight_trainable = _Setting()
    postact_bias_trainable = _Setting()
    base_activation = _Setting()
    ba_trainable = _Setting()
    seed = _Setting()
    preact_init = _Setting()
    p_dim = _Setting()
    checkpoint_reps = _Setting()
    theta_init = _Setting()

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        reps: Optional[int] = _DEFAULTS.reps,
        group: int = _DEFAULTS.group,
        solver: str = _DEFAULTS.solver,
        ansatz: Ansatz = _DEFAULTS.ansatz,
        preact_trainable: bool = _DEFAULTS.preact_trainable,
        postact_weight_trainable: bool = _DEFAULTS.postact_weight_trainable,
        postact_bias_trainable: bool = _DEFAULTS.postact_bias_trainable,
        base_activation: Activation = _DEFAULTS.base_activation,
        ba_trainable: bool = _DEFAULTS.ba_trainable,
        fast_measure: Optional[bool] = _DEFAULTS.fast_measure,
        seed: Optional[int] = _DEFAULTS.seed,
        device: Device = _DEFAULTS.device,
        dtype: Optional[torch.dtype] = _DEFAULTS.dtype,
        solver_kwargs: Optional[Mapping[str, Any]] = _DEFAULTS.solver_kwargs,
        preact_init: bool = _DEFAULTS.preact_init,
        p_dim: int = _DEFAULTS.p_dim,
        checkpoint_reps: bool = _DEFAULTS.checkpoint_reps,
        theta_init: str = _DEFAULTS.theta_init,
        **published: Any,
    ):
        """``published``: the published-only keywords (c_dtype, p_dtype, ...: docs/migrating.md)."""
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        in_dim, out_dim = int(in_dim), int(out_dim)
        dtype = resolve_published("QKANLayer", published, dtype, lenient=False)
        settings = LayerSettings(
            reps,
            group,
            solver,
            ansatz,
            preact_trainable,
            postact_weight_trainable,
            postact_bias_trainable,
            base_activation,
            ba_trainable,
            fast_measure,
            seed,
            device,
            dtype,
            solver_kwargs,
            preact_init,
            p_dim,
            checkpoint_reps,
            theta_init,
        )
        self.in_dim, self.out_dim = in_dim, out_dim
        self.use_fused_epilogue = False
        self._settings = settings
        self.circuit = settings.circuit
        self.geometry = LayerGeometry(
            in_dim,
            out_dim,
            None if settings.group == -1 else settings.group,
            settings.preact_trainable,
            settings.base_activation,
        )
        self._arccos_reps = self.circuit.arccos_reps
        self._programs: dict[tuple, Program] = {}

        dtype = settings.dtype or torch.get_default_dtype()

        def empty(*shape: int) -> torch.Tensor:
            return torch.empty(shape, device=settings.device, dtype=dtype)

        edges = (out_dim, in_dim) if settings.group == -1 else (settings.group,)
        affine_bias = settings.preact_trainable or "affine" in self.circuit.data_encodings
        self.theta = nn.Parameter(empty(*edges, *self.circuit.parameter_shape))
        self.preacts_weight = nn.Parameter(empty(*edges, self.reps), requires_grad=settings.preact_trainable)
        self.preacts_bias = nn.Parameter(empty(*edges, self.reps), requires_grad=affine_bias)
        self.base_weight = nn.Parameter(empty(out_dim, in_dim), requires_grad=settings.ba_trainable)
        self.postact_weights = nn.Parameter(empty(out_dim, in_dim), requires_grad=settings.postact_weight_trainable)
        self.postact_bias = nn.Parameter(empty(out_dim, in_dim), requires_grad=settings.postact_bias_trainable)
        self.mask = nn.Parameter(empty(out_dim, in_dim), requires_grad=False)
        self.reset_parameters()
        self._prepare_programs()
        install_layout_hooks(self)

    @classmethod
    def from_settings(cls: type[_Layer], in_dim: int, out_dim: int, settings: LayerSettings) -> _Layer:
        """A new layer of this class with these sizes and settings (freshly initialised parameters)."""
        if not isinstance(settings, LayerSettings):
            raise TypeError(f"settings must be a qkan.LayerSettings, got {type(settings).__name__}")
        return cls(in_dim, out_dim, **settings.as_kwargs())

    # ----- parameters -----------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Published init: xavier-normal theta (``theta_init="small_gaussian"``: N(0, 1/reps)), seeded by ``seed``
        without touching the global RNG; pre-activations w=1 c=0, base weight 0.5 or 0, post-activations 1 and 0,
        mask 1."""
        gen = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        with torch.no_grad():
            for tensor in [self.theta, self.preacts_weight, self.preacts_bias] if self.preact_init else [self.theta]:
                cpu = torch.empty(tensor.shape, dtype=tensor.dtype)
                if cpu.numel() and tensor is self.theta and self.theta_init == "small_gaussian":
                    cpu.normal_(0.0, self.reps**-0.5, generator=gen)
                elif cpu.numel():
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
        p = cast(dict[str, torch.Tensor], self._parameters)  # the seven are registered as tensors, never None
        try:
            return LayerParams(
                p["theta"],
                p["preacts_weight"],
                p["preacts_bias"],
                p["postact_weights"],
                p["postact_bias"],
                p["base_weight"],
                p["mask"],
            )
        except KeyError:
            pass
        return LayerParams(
            self.theta,
            self.preacts_weight,
            self.preacts_bias,
            self.postact_weights,
            self.postact_bias,
            self.base_weight,
            self.mask,
        )

    @property
    def reps(self) -> int:
        """The number of re-uploads of the layer's circuit."""
        return self.circuit.data_reps

    @property
    def readout(self) -> str:
        return self.circuit.measured.kind

    @property
    def solver_kwargs(self) -> dict[str, Any]:
        """The solver options (a copy; a layer with others: ``from_settings`` with ``settings().replace``)."""
        return self._settings.options

    @property
    def solver(self) -> str:
        """The solver's name. Assigning one checks it at once (unknown name: ValueError; ``solver_kwargs``
        it does not take: TypeError), and a refused name leaves the layer as it was."""
        return self._settings.solver

    @solver.setter
    def solver(self, name: str) -> None:
        self._settings = self._settings.replace(solver=name)
        self._programs = {}
        self._prepare_programs()

    def settings(self) -> LayerSettings:
        """The settings that rebuild a layer like this one (sizes excluded), on its current device and dtype."""
        return self._settings.replace(device=self.theta.device, dtype=self.theta.dtype)

    def program(self, device: torch.device, dtype: torch.dtype) -> Program:
        """The compiled Program for this device and dtype (compiled once, then reused)."""
        key = (device, dtype)
        if key not in self._programs:
            program = compile_program(self.solver, self.circuit, self.geometry, dtype, device, **self._settings.options)
            if not program.traceable:
                register_opaque(program)
            self._programs[key] = program
        return self._programs[key]

    def _prepare_programs(self) -> None:
        """Compile, where the solver can run it, the Program a forward will ask for (the parameters' dtype, also
        under autocast). Done when the layer is built, moved or given another solver, so that torch.compile
        traces a lookup, never a compilation (docs/design.md, "Layers and models")."""
        device, dtype = self.theta.device, self.theta.dtype
        if get_solver(self.solver).unsupported_reason(self.circuit, self.geometry, dtype, device) is None:
            QKANLayer.program(self, device, dtype)  # this class's cache: a subclass may wrap what program returns
        # else the forward raises, naming the solvers that can

    def _apply(self, fn: Any, recurse: bool = True) -> "QKANLayer":
        super()._apply(fn, recurse)
        self._prepare_programs()
        return self

    # ----- forward ----------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, theta: torch.Tensor) -> Optional[torch.dtype]:
        """Raise on an input that does not fit the layer; return the autocast dtype when autocast is on
        for x's device type (None otherwise), where any floating dtype fits."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self._name()}: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"{self._name()}: expected input of shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{self._name()}: expected a floating-point input, got {x.dtype}")
        if x.device != theta.device:
            raise ValueError(f"{self._name()}: input is on {x.device} but the layer is on {theta.device}")
        amp = autocast_dtype(x.device)
        if amp is None and x.dtype != theta.dtype:
            raise TypeError(
                f"{self._name()}: input is {x.dtype} but the layer's parameters are {theta.dtype}; "
                f"convert one of them (x.to({theta.dtype}) or layer.to({x.dtype})), or run under "
                f"torch.autocast"
            )
        return amp

    def _name(self) -> str:
        return f"QKANLayer({self.in_dim}->{self.out_dim})"

    def _run(self, method: str, x: torch.Tensor) -> torch.Tensor:
        """The Program's ``method`` on checked input. Under autocast (nn.Linear's convention: the output in the
        autocast dtype, parameters in theirs): x goes in the autocast dtype to a Program that reads it natively
        (flash's bf16/fp16 kernels), else in the parameters' dtype, the output rounded at the end."""
        params = self.params()
        amp = self._check_input(x, params.theta)
        program = self.program(x.device, params.theta.dtype)
        if amp is not None:
            x = x.to(amp if program.accepts_input(amp) else params.theta.dtype)
        check_values(x, params, self.geometry, self._arccos_reps, layer_mode(self.check_finite, x.device), self._name())
        run = partial(call_program, program, method)
        if self.checkpoint_reps and torch.is_grad_enabled():
            run = partial(checkpoint, run, use_reentrant=False)
        if amp is None:
            return run(x, params)
        with torch.autocast(x.device.type, enabled=False):
            return run(x, params).to(amp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run("layer_output", x)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): every edge's contribution (sums over I to ``forward``), for plots and pruning."""
        return self._run("edge_values", x)

    def circuit_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): the raw circuit readout f of every edge."""
        return self._run("circuit_values", x)

    def edge_spectrum(self) -> EdgeSpectrum:
        """Every edge's exact Fourier spectrum (of its readout's <Z>) from the current parameters, in float64
        (:func:`qkan.symbolic.layer_spectrum`)."""
        from .symbolic import layer_spectrum

        return layer_spectrum(self)

    def plot(self, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200) -> Figure:
        """A grid of this layer's per-edge curves over the range of ``x`` (default [-1, 1]), saved to exactly
        ``path`` when given; returns the figure (:func:`qkan.plotting.plot_layer`)."""
        from .plotting import plot_layer

        return plot_layer(self, path, x, n_points)

    # ----- structure changes ------------------------------------------------------------
    def refine(self, new_reps: int) -> "QKANLayer":
        """A layer with ``new_reps`` re-uploads: the old final rotation becomes re-upload R's, new rows
        are zero. Only phases follow the old circuit, so pz and rpz keep their function exactly; real, px
        and mix are refused (ValueError naming the gate that would change it)."""
        from .refine import check_refinable

        if not isinstance(self.ansatz, str):
            raise ValueError("refine needs a built-in ansatz; a user Circuit has a fixed number of re-uploads")
        check_refinable(self.circuit.name)
        if not isinstance(new_reps, int) or isinstance(new_reps, bool) or new_reps <= self.reps:
            raise ValueError(f"new_reps must be an integer above the current reps={self.reps}, got {new_reps!r}")
        new = QKANLayer.from_settings(self.in_dim, self.out_dim, self.settings().replace(reps=new_reps))
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
        new = QKANLayer.from_settings(len(in_ids), len(out_ids), self.settings())
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
                raise ValueError(
                    f"pruning these inputs would mix parameter groups {sorted(sources)} in group {r}; "
                    "node pruning of a grouped layer must keep inputs whose positions preserve i mod group"
                )
            if sources:
                src = sources.pop()
                new.theta[r].copy_(self.theta[src])
                new.preacts_weight[r].copy_(self.preacts_weight[src])
                new.preacts_bias[r].copy_(self.preacts_bias[src])

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, ansatz={self.circuit.name}, reps={self.reps}, "
            f"readout={self.readout}, group={self.group}, solver={self.solver}"
        )

"""QKAN: a stack of QKANLayers with the published model API (forward, save_act, refine, pruning,
plotting and training entry points)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_threshold, chosen_nodes
from .layer import QKANLayer
from .published_options import resolve_published
from .rollback import AllOrNothingLoad
from .settings import QKAN_DEFAULTS as _DEFAULTS
from .settings import Activation, Ansatz, Device, LayerSettings, is_int
from .training.pykan_loop import train_ as pykan_train_

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class QKAN(AllOrNothingLoad):
    """Quantum-inspired KAN over ``width`` = [n_in, hidden..., n_out]; every edge a DARUAN circuit.
    Layer l gets the layer settings with ``seed + l``; defaults are QKANLayer's but ``ba_trainable=False``."""

    def __init__(
        self,
        width: Sequence[int],
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
        save_act: bool = False,
        norm_out: int = 0,
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
        """``published``: the published-only keywords (c_dtype, p_dtype, ...: docs/migrating.md); others are
        ignored with a warning, as the published QKAN ignores them."""
        super().__init__()
        width = list(width)
        if len(width) < 2 or not all(is_int(w) and w > 0 for w in width):
            raise ValueError(f"width must list at least two positive layer sizes, got {width!r}")
        width = [int(w) for w in width]
        dtype = resolve_published("QKAN", published, dtype, lenient=True)
        if not isinstance(save_act, bool):
            raise TypeError(f"save_act must be True or False, got {save_act!r}")
        if isinstance(norm_out, bool) or not isinstance(norm_out, (int, float)) or norm_out < 0:
            raise ValueError(f"norm_out must be 0 (off) or the positive norm order p, got {norm_out!r}")
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
        self.width = width
        self.save_act = save_act
        self.norm_out = norm_out
        self.layers = nn.ModuleList(
            QKANLayer.from_settings(width[l], width[l + 1], settings.replace(seed=None if seed is None else seed + l))
            for l in range(len(width) - 1)
        )
        self.seed = seed
        self.acts: list[torch.Tensor] = []
        self.edge_acts: list[torch.Tensor] = []

    @classmethod
    def from_layers(cls, layers: Sequence[QKANLayer], save_act: bool = False, norm_out: int = 0) -> "QKAN":
        """A model over existing layers (used by refine and pruning; keeps every layer setting)."""
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.width = [layers[0].in_dim] + [layer.out_dim for layer in layers]
        model.save_act, model.norm_out, model.seed = save_act, norm_out, layers[0].seed
        model.layers = nn.ModuleList(layers)
        model.acts, model.edge_acts = [], []
        return model

    @property
    def _qkan_layers(self) -> Sequence[QKANLayer]:
        """``layers`` as the QKANLayers they are (a ModuleList yields plain Modules to a type checker)."""
        return cast(Sequence[QKANLayer], self.layers)

    # ----- settings shared by every layer ---------------------------------------------
    @property
    def reps(self) -> int:
        return self._qkan_layers[0].reps

    @property
    def solver(self) -> str:
        """The first layer's solver. Assigning one sets every layer's, checked for all of them first
        (ValueError/TypeError as QKANLayer.solver): a refused name changes none."""
        return self._qkan_layers[0].solver

    @solver.setter
    def solver(self, name: str) -> None:
        for layer in self._qkan_layers:
            layer.settings().replace(solver=name)
        for layer in self._qkan_layers:
            layer.solver = name

    @property
    def device(self) -> torch.device:
        return self._qkan_layers[0].theta.device

    # ----- forward ----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, n_in) or (B, C, n_in) (flattened over C like the published model) -> (..., n_out)."""
        if not isinstance(x, torch.Tensor) or x.dim() not in (2, 3):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"QKAN expects input of shape (batch, {self.width[0]}) or (batch, C, {self.width[0]}), got {shape}"
            )
        h = x if x.dim() == 2 else x.reshape(-1, x.shape[-1])
        if self.save_act:
            self.acts, self.edge_acts = [h.detach()], []
        for layer in self._qkan_layers:
            if self.save_act:
                with torch.no_grad():
                    self.edge_acts.append(layer.edge_values(h).detach())
            h = layer(h)
            if self.save_act:
                self.acts.append(h.detach())
        if self.norm_out:
            h = F.normalize(h, p=self.norm_out, dim=1)
        return h if x.dim() == 2 else h.reshape(*x.shape[:-1], h.shape[-1])

    # ----- structure changes ------------------------------------------------------------
    def refine(self, new_reps: int) -> "QKAN":
        """A model with ``new_reps`` re-uploads per edge; exactly function-preserving for pz and rpz, a
        ValueError (this model unchanged) for real, px and mix, whose new re-uploads would change it."""
        return QKAN.from_layers([layer.refine(new_reps) for layer in self._qkan_layers], self.save_act, self.norm_out)

    layer_extension = refine

    def edge_scores(self, x: Optional[torch.Tensor] = None) -> list[torch.Tensor]:
        """Per layer (O, I): the standard deviation over the batch of each edge's contribution,
        from ``x`` or from the activations saved by the last forward with ``save_act=True``."""
        if x is not None:
            saved = self.save_act, self.acts, self.edge_acts
            self.save_act = True
            try:
                with torch.no_grad():
                    self(x)
            except BaseException:  # a failed forward leaves the activations saved before it
                self.acts, self.edge_acts = saved[1:]
                raise
            finally:
                self.save_act = saved[0]
        if not self.edge_acts:
            raise ValueError("no saved activations: pass x, or run a forward with save_act=True first")
        return [acts.std(dim=0) if acts.shape[0] > 1 else acts.abs()[0] for acts in self.edge_acts]

    def prune_edge(self, threshold: float = 3e-2, x: Optional[torch.Tensor] = None) -> "QKAN":
        """Mask (in place) every edge whose score is below ``threshold``; returns self. The new masks are
        all computed before any is written, so a failure leaves the model as it was."""
        check_threshold("threshold", threshold)
        masks = [
            layer.mask * (score >= threshold).to(layer.mask.dtype)
            for layer, score in zip(self._qkan_layers, self.edge_scores(x))
        ]
        with torch.no_grad():
            for layer, mask in zip(self._qkan_layers, masks):
                layer.mask.copy_(mask)
        return self

    def prune_node(
        self,
        threshold: float = 1e-2,
        mode: str = "auto",
        active_neurons_id: Optional[Sequence[Sequence[int]]] = None,
        x: Optional[torch.Tensor] = None,
    ) -> "QKAN":
        """A smaller model; keeps every layer setting. ``mode="auto"`` drops hidden nodes whose strongest incoming
        and outgoing edges both score below ``threshold`` (KAN convention); ``mode="manual"`` keeps, for each hidden
        layer l, the nodes ``active_neurons_id[l]`` (published: entry 0 is the input layer and is ignored)."""
        check_threshold("threshold", threshold)
        if mode not in ("auto", "manual"):
            tensor = isinstance(mode, torch.Tensor)
            got = f"a {type(mode).__name__} (pass x by keyword: x=...)" if tensor else repr(mode)
            raise ValueError(f"mode must be 'auto' or 'manual', got {got}")
        if mode == "manual" and active_neurons_id is None:
            message = "prune_node: mode='manual' without active_neurons_id; pruning in 'auto' mode"
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            mode = "auto"
        if mode == "manual":
            hidden = chosen_nodes(active_neurons_id, self.width)
        else:
            scores = self.edge_scores(x)
            hidden = []
            for l in range(1, len(self.width) - 1):
                incoming = scores[l - 1].max(dim=1).values
                outgoing = scores[l].max(dim=0).values
                hidden.append(torch.nonzero((incoming > threshold) & (outgoing > threshold)).flatten().tolist() or [0])
        keep = [list(range(self.width[0])), *hidden, list(range(self.width[-1]))]
        layers = [layer.subset(keep[l], keep[l + 1]) for l, layer in enumerate(self._qkan_layers)]
        return QKAN.from_layers(layers, self.save_act, self.norm_out)

    def prune(self, node_th: float = 1e-2, edge_th: float = 3e-2, x: Optional[torch.Tensor] = None) -> "QKAN":
        """Node pruning, then edge pruning on the smaller model (this model keeps its masks); without ``x``, both
        score the input saved by the last forward with ``save_act=True``."""
        check_threshold("edge_th", edge_th)
        if x is None and self.acts:
            x = self.acts[0]
        return self.prune_node(node_th, x=x).prune_edge(edge_th, x)

    @property
    def param_size(self) -> int:
        """The number of trainable parameter elements."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def initialize_from_another_model(self, another_model: "QKAN") -> "QKAN":
        """Copy ``another_model``'s parameters into this one of the same width and at least as many re-uploads
        (the layer-extension step of refine); this model's extra re-uploads start fresh. Returns self."""
        if not isinstance(another_model, QKAN) or another_model.width != self.width:
            got = getattr(another_model, "width", type(another_model).__name__)
            raise ValueError(f"another_model must be a QKAN of width {self.width}, got {got}")
        if another_model.reps > self.reps:
            raise ValueError(f"another_model has reps={another_model.reps}, more than this model's {self.reps}")
        with torch.no_grad():
            for mine, theirs in zip(self._qkan_layers, another_model._qkan_layers):
                mine.reset_parameters()
                reps = theirs.reps
                mine.theta[..., :reps, :].copy_(theirs.theta[..., :reps, :])
                mine.theta[..., mine.theta.shape[-2] - 1, :].copy_(theirs.theta[..., -1, :])
                for name in ("preacts_weight", "preacts_bias"):
                    getattr(mine, name)[..., :reps].copy_(getattr(theirs, name))
                for name in ("postact_weights", "postact_bias", "base_weight"):
                    getattr(mine, name).copy_(getattr(theirs, name))
        return self

    def set_fused_epilogue(self, enabled: bool = True) -> None:
        """:meth:`QKANLayer.set_fused_epilogue` on every layer."""
        for layer in self._qkan_layers:
            layer.set_fused_epilogue(enabled)

    # ----- training and plots (implemented in their own modules) ------------------------
    def fit(self, dataset: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, list[float]]:
        """Train on a ``create_dataset`` dict; see :func:`qkan.fit.fit`."""
        from .fit import fit

        return fit(self, dataset, **kwargs)

    train_ = pykan_train_
    """The published training loop and defaults (:func:`qkan.training.pykan_loop.train_`); :meth:`fit` is ours."""

    def plot(
        self,
        x0: Optional[torch.Tensor] = None,
        sampling: int = 1000,
        from_acts: bool = False,
        scale: float = 0.5,
        beta: float = 3,
        metric: Optional[str] = "forward_n",
        mask: bool = False,
        in_vars: Optional[Sequence[str]] = None,
        out_vars: Optional[Sequence[str]] = None,
        title: Optional[str] = None,
        *,
        path: Optional[str] = None,
        x: Optional[torch.Tensor] = None,
        n_points: int = 200,
    ) -> Figure:
        """The published call (``x0``, ``from_acts``, ``metric``, ``mask``, ``in_vars``, ...): the network
        diagram (:func:`qkan.plotting_network.plot_network`), also with no arguments when activations are saved.
        Ours (``plot("file.png", x=...)``, ``plot(x=..., n_points=...)`` or nothing saved): per-edge curves in one
        figure, a panel per layer (:func:`qkan.plotting.plot_model`). Saved to exactly ``path``; returns the figure."""
        if isinstance(x0, str):
            x0, path = None, x0
        published = x0 is not None or from_acts or (x is None and n_points == 200 and bool(self.acts))
        if published:
            from .plotting_network import plot_network

            return plot_network(
                self, x0, sampling, from_acts, scale, beta, metric, mask, in_vars, out_vars, title, path
            )
        from .plotting import plot_model

        return plot_model(self, path=path, x=x, n_points=n_points)

    def extra_repr(self) -> str:
        return f"width={self.width}"

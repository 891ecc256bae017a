"""The configuration of a ``qkan train`` run (:class:`TrainConfig`), its allowed values and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

MODELS = ("hqkan", "mlp", "spline", "bspline", "rational", "fastkan")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """Everything a run depends on. ``model`` names the QKAN part ("hqkan") or the classical block
    that replaces it: the classifier's head, or the GPT's feed-forward."""

    task: str = "digits"
    model: str = "hqkan"
    solver: str = "exact"
    ansatz: str = "pz"
    reps: Optional[int] = None  # None: the model's default (3 in the classifier head, 1 in HQKAN)
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    grad_clip: Optional[float] = None
    epochs: int = 20
    steps: Optional[int] = None  # overrides epochs
    batch_size: int = 64
    seed: int = 0
    device: Optional[str] = None  # None/"auto": CUDA when available
    out: str = "runs/train"
    eval_every: Optional[int] = None  # steps; default once per epoch
    resume: bool = False  # continue from out/checkpoint.pt (which must exist)
    overwrite: bool = False  # start over in an out folder that holds a run
    override_config: bool = False  # on resume, let the given options replace the checkpoint's
    progress: bool = True
    plot: bool = True
    # language-model settings
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    max_chars: Optional[int] = None
    data_dir: Optional[str] = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    # speed: torch.compile, autocast, whole-step CUDA graph
    compile: bool = False
    compile_mode: str = "default"
    amp: Optional[str] = None  # None, "bf16" or "fp16" (fp16 with a GradScaler)
    graphed: bool = False

    def check(self) -> None:
        for name, allowed in (
            ("model", MODELS),
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("compile_mode", COMPILE_MODES),
            ("amp", (None, *AMP_DTYPES)),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; expected one of {list(allowed)}")
        for name in ("epochs", "batch_size", "block_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        self.check_speed_options()

    def check_speed_options(self) -> None:
        """Refuse the combinations of --compile, --amp and --graphed that cannot work, naming them."""
        if self.compile_mode != "default" and not self.compile:
            raise ValueError(f"--compile-mode {self.compile_mode} needs --compile")
        if not self.graphed:
            return
        if self.compile:
            raise ValueError(
                "--graphed with --compile is not supported (a compiled step is not captured here); "
                "use --compile --compile-mode reduce-overhead, which captures CUDA graphs itself"
            )
        if self.amp == "fp16":
            raise ValueError(
                "--graphed with --amp fp16 is not supported: the GradScaler's overflow check reads "
                "the device from the host; use --amp bf16"
            )
        if self.optimizer == "sgd" and self.schedule != "constant":
            raise ValueError(
                f"--graphed with --optimizer sgd and --schedule {self.schedule} is not supported: SGD "
                "reads its learning rate on the host, so the graph would freeze it; use --optimizer "
                "adamw or --schedule constant"
            )

    def check_device(self, device: torch.device, world: int) -> None:
        """Refuse the options this device or process count cannot run, naming them."""
        if self.graphed and device.type != "cuda":
            raise ValueError(f"--graphed needs a CUDA device (CUDA graphs), got {device}")
        if self.graphed and world > 1:
            raise ValueError(f"--graphed is not supported under DDP ({world} processes); run one process")
        if self.amp == "fp16" and device.type != "cuda":
            raise ValueError(f"--amp fp16 needs a CUDA device (GradScaler), got {device}; use --amp bf16")

"""The named ``qkan bench`` cases (model factory, batch maker, loss) at published or tiny sizes, and the
ansatz and baseline loaders they share."""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch
from torch import nn

from qkan.circuits import Circuit

from ..layer import Ansatz
from ..model import QKAN

CASE_NAMES = ("fit1d", "wide", "huge", "hqkan", "gpt", "mid")
DEFAULT_CASES = {"cpu": ["fit1d", "wide", "hqkan"], "cuda": ["fit1d", "wide", "huge", "hqkan", "gpt"]}


@dataclass(frozen=True)
class Case:
    """A benchmark case: a model factory over (solver, ansatz, device), an input/target batch maker and
    the loss; ``loss_steps`` Adam steps give the reported loss."""

    name: str
    description: str
    build: Callable[[str, Ansatz, torch.device], nn.Module]
    batch: Callable[[torch.device, int], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.mse_loss
    loss_steps: int = 50
    lr: float = 1e-3
    width: Optional[list[int]] = None


def reps_for(ansatz: Ansatz) -> Optional[int]:
    """Built-ins run with the published reps=3; a Circuit brings its own re-uploads."""
    return 3 if isinstance(ansatz, str) else None


def ansatz_label(ansatz: Ansatz) -> str:
    return ansatz.name if isinstance(ansatz, Circuit) else str(ansatz)


def regression_case(name: str, width: list[int], batch: int, description: str) -> Case:
    """QKAN(width) on a random regression batch (the fit1d, wide and huge cases, and the sweep's points)."""

    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        return QKAN(width, reps=reps_for(ansatz), solver=solver, ansatz=ansatz, seed=0, device=device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, width[0], generator=gen)
        return x.to(device), torch.randn(batch, width[-1], generator=gen).to(device)

    return Case(name, description, build, make_batch, width=width)


def _hqkan_case(batch: int) -> Case:
    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        from ..models import HQKANClassifier

        return HQKANClassifier.for_digits(solver=solver, ansatz=ansatz).to(device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        from ..training.tasks import digits_tensors

        x, y = digits_tensors("train")
        return x[:batch].to(device), y[:batch].to(device)

    return Case(
        "hqkan",
        f"HQKAN digits classifier, batch {batch}",
        build,
        make_batch,
        loss=nn.functional.cross_entropy,
        loss_steps=20,
    )


def lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of (B, T, V) logits against (B, T) targets."""
    return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())


def _gpt_case(n_layer: int, n_embd: int, block: int, batch: int) -> Case:
    vocab = 96

    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        from ..models import GPT

        return LMWrapper(
            GPT(vocab, block, n_layer=n_layer, n_head=4, n_embd=n_embd, mlp="hqkan", solver=solver, ansatz=ansatz)
        ).to(device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randint(vocab, (batch, block + 1), generator=gen)
        return idx[:, :-1].to(device), idx[:, 1:].to(device)

    return Case(
        "gpt",
        f"HQKANsformer ({n_layer} layers, {n_embd} wide, block {block}), batch {batch}",
        build,
        make_batch,
        loss=lm_loss,
        loss_steps=10,
    )


class LMWrapper(nn.Module):
    """Makes a GPT return logits only, so every case shares one train step."""

    def __init__(self, gpt: nn.Module):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        out = self.gpt(idx)
        return out[0] if isinstance(out, tuple) else out


def make_cases(tiny: bool = False) -> dict[str, Case]:
    """The named cases at the published sizes, or at tiny sizes (smoke tests, quick looks)."""
    if tiny:
        return {
            "fit1d": regression_case("fit1d", [1, 1], 16, "QKAN([1,1]), batch 16"),
            "wide": regression_case("wide", [4, 4], 16, "QKAN([4,4]), batch 16"),
            "huge": regression_case("huge", [6, 6], 32, "QKAN([6,6]), batch 32"),
            "hqkan": _hqkan_case(16),
            "gpt": _gpt_case(1, 32, 16, 2),
            "mid": regression_case("mid", [3, 3], 16, "QKAN([3,3]), batch 16"),
        }
    return {
        "fit1d": regression_case("fit1d", [1, 1], 1000, "QKAN([1,1]), batch 1000"),
        "wide": regression_case("wide", [100, 100], 1000, "QKAN([100,100]), batch 1000"),
        "huge": regression_case("huge", [256, 256], 4096, "QKAN([256,256]), batch 4096"),
        "hqkan": _hqkan_case(256),
        "gpt": _gpt_case(2, 128, 64, 8),
        "mid": regression_case("mid", [32, 32], 1024, "QKAN([32,32]), batch 1024 (the entangling ansatzes' case)"),
    }


def load_ansatz(spec: Union[str, Circuit]) -> Ansatz:
    """A built-in name, a Circuit, or ``path.py:NAME`` (a Circuit, or a function of reps returning one)."""
    if isinstance(spec, Circuit) or ":" not in str(spec):
        return spec
    path, name = str(spec).rsplit(":", 1)
    namespace = runpy.run_path(path)
    if name not in namespace:
        raise ValueError(f"{path} defines no {name!r}")
    value = namespace[name]
    value = value(3) if callable(value) and not isinstance(value, Circuit) else value
    if not isinstance(value, Circuit):
        raise TypeError(f"{spec} must be a Circuit or a function of reps returning one, got {type(value).__name__}")
    return value


def baseline_model(name: str, width: list[int], device: torch.device) -> nn.Module:
    """A stack of the classical baseline ``name`` over ``width`` (the regression cases' classical rows)."""
    from ..baselines import BASELINES

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {sorted(BASELINES)}")
    layers = [BASELINES[name](width[i], width[i + 1]) for i in range(len(width) - 1)]
    return nn.Sequential(*layers).to(device)

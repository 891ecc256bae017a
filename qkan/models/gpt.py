"""A compact nanoGPT-style decoder whose feed-forward block is selectable: the standard MLP, an HQKAN
bottleneck (the "HQKANsformer"), or a classical KAN baseline."""

from __future__ import annotations

import math
from typing import Any, Optional, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_positive_int
from ..layer import Ansatz
from ..validation import asserts_on_device, layer_mode
from .hqkan import HQKAN


def _mark_residual(module: nn.Module) -> None:
    """Flag a residual projection: GPT's init scales its weights by the depth."""
    module.residual = True  # type: ignore[assignment]  # Module.__setattr__ takes any value; its stub: Tensor|Module


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention through ``scaled_dot_product_attention`` (flash/efficient kernels)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        _mark_residual(self.proj)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in self.qkv(x).split(c, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, c)))


class MLP(nn.Module):
    """The transformer feed-forward block: Linear(d, ratio*d) -> GELU -> Linear(ratio*d, d)."""

    def __init__(self, n_embd: int, hidden: int, bias: bool):
        super().__init__()
        self.fc = nn.Linear(n_embd, hidden, bias=bias)
        self.proj = nn.Linear(hidden, n_embd, bias=bias)
        _mark_residual(self.proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


def make_feed_forward(
    kind: str, n_embd: int, hidden: int, bias: bool, solver: str, ansatz: Ansatz, reps: int, mlp_kwargs: dict[str, Any]
) -> nn.Module:
    """ "mlp": the standard block; "hqkan": HQKAN(n_embd); a baseline name: two baseline layers
    n_embd -> hidden -> n_embd (the KAT-style KAN feed-forward)."""
    if kind == "mlp":
        if mlp_kwargs:
            raise TypeError(f"mlp='mlp' takes no mlp_kwargs, got {sorted(mlp_kwargs)}")
        return MLP(n_embd, hidden, bias)
    if kind == "hqkan":
        block = HQKAN(n_embd, reps=reps, solver=solver, ansatz=ansatz, bias=bias, **mlp_kwargs)
        _mark_residual(block.up)
        return block
    from ..baselines import BASELINES

    if kind not in BASELINES:
        raise ValueError(f"unknown mlp {kind!r}; expected 'mlp', 'hqkan' or a baseline in {sorted(BASELINES)}")
    return nn.Sequential(BASELINES[kind](n_embd, hidden, **mlp_kwargs), BASELINES[kind](hidden, n_embd, **mlp_kwargs))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + ff(ln(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool, feed_forward: nn.Module):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = feed_forward
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.drop(self.mlp(self.ln_2(x)))


IGNORE_INDEX = -100  # a target with this id adds nothing to the loss (torch's cross_entropy default)


class GPT(nn.Module):
    """Decoder-only language model: idx (B, T) -> (logits (B, T, vocab), loss or None)."""

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        mlp: str = "mlp",
        dropout: float = 0.0,
        bias: bool = True,
        mlp_ratio: int = 4,
        solver: str = "exact",
        ansatz: Ansatz = "pz",
        reps: int = 1,
        mlp_kwargs: Optional[dict[str, Any]] = None,
    ):
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("block_size", block_size),
            ("n_layer", n_layer),
            ("n_head", n_head),
            ("n_embd", n_embd),
            ("mlp_ratio", mlp_ratio),
        ):
            check_positive_int(name, value)
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.vocab_size, self.block_size, self.mlp_kind = vocab_size, block_size, mlp
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(
                n_embd,
                n_head,
                dropout,
                bias,
                make_feed_forward(mlp, n_embd, mlp_ratio * n_embd, bias, solver, ansatz, reps, dict(mlp_kwargs or {})),
            )
            for _ in range(n_layer)
        )
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self._init_weights(n_layer)

    def _init_weights(self, n_layer: int) -> None:
        """GPT-2 init: N(0, 0.02) for linear and embedding weights, residual projections scaled by
        1/sqrt(2 n_layer); QKAN and baseline parameters keep their own init."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                std = 0.02 / math.sqrt(2 * n_layer) if getattr(module, "residual", False) else 0.02
                nn.init.normal_(module.weight, 0.0, std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, 0.02)

    def forward(
        self, idx: torch.Tensor, targets: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
            got = f"{tuple(idx.shape)} {idx.dtype}" if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"GPT expects integer token ids of shape (batch, time), got {got}")
        self._check_token_ids("idx", idx)
        t = idx.shape[1]
        if t > self.block_size:
            raise ValueError(f"sequence length {t} exceeds block_size {self.block_size}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
        self._check_token_ids("targets", targets, ignored=IGNORE_INDEX)
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)

    def _check_token_ids(self, name: str, idx: torch.Tensor, ignored: Optional[int] = None) -> None:
        """Token ids in [0, vocab_size) (or ``ignored``), checked the way the validation mode says
        (qkan.set_validation): an id out of range would otherwise index past the embedding (a device fault on CUDA)."""
        mode = layer_mode(None, idx.device)
        if mode == "off" or idx.numel() == 0:
            return
        allowed = f"{name}: token ids must be in [0, vocab_size={self.vocab_size})"
        outside = (idx < 0) | (idx >= self.vocab_size)
        if ignored is not None:
            outside &= idx != ignored
            allowed += f" or {ignored} (ignored)"
        if asserts_on_device(idx, mode):
            torch._assert_async(~outside.any(), allowed)
            return
        bad = idx[outside]
        if bad.numel():
            raise ValueError(f"{allowed}, got {int(bad[0])}")

    def n_params(self, feed_forward_only: bool = False) -> int:
        """Trainable parameters (the tied embedding counted once); only the blocks' feed-forwards if asked."""
        modules = [cast(Block, b).mlp for b in self.blocks] if feed_forward_only else [self]
        return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Sample ``max_new_tokens`` tokens after ``idx`` (B, T)."""
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.block_size :])
            probs = F.softmax(logits[:, -1] / temperature, dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
        return idx

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, block_size={self.block_size}, mlp={self.mlp_kind}"

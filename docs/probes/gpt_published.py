"""The GPT-2-small train step with a QKAN feed-forward on the PUBLISHED qkan (0.2.3), in the four modes of
``qkan bench --gpt-modes`` (eager, compile, bf16, compile+bf16): one JSON line per mode, to set next to our
``qkan-flash``/``qkan-exact`` rows.

The published package shares our import name, so run this in its own process with it first on the path:

    QKAN_SKIP_CUDA_BUILD=TRUE pip install --no-deps --no-build-isolation --target /tmp/pubqkan .whl/qkan-0.2.3.tar.gz
    PYTHONPATH=/tmp/pubqkan python docs/probes/gpt_published.py --solver flash   # --tiny for a CPU smoke run

The model is written out here (our GPT lives in the package this process cannot import): nanoGPT's decoder,
pre-norm blocks, causal SDPA attention, tied embeddings, and the feed-forward Linear(768,10) ->
qkan.QKAN([10,10], reps=1, ba_trainable=True) -> Linear(10,768), as our HQKAN builds it. Batch 1, block 1024,
AdamW; the time is the median of CUDA events (wall clock on CPU) after warm-up steps, as our table times.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import qkan

PUBLISHED_VERSION = "0.2.3"
MODES = ("eager", "compile", "bf16", "compile+bf16")
GPT2_SMALL = dict(vocab=50257, block=1024, n_layer=12, n_head=12, n_embd=768, batch=1)
TINY = dict(vocab=96, block=16, n_layer=2, n_head=2, n_embd=32, batch=2)


class FeedForward(nn.Module):
    """Linear(d, e) -> published QKAN([e, e], reps=1) -> Linear(e, d), the QKAN run in its parameters' dtype."""

    def __init__(self, d: int, solver: str, device: str):
        super().__init__()
        e = max(1, math.ceil(math.log2(d)))
        self.down = nn.Linear(d, e)
        self.qkan = qkan.QKAN([e, e], reps=1, solver=solver, ba_trainable=True, device=device)
        self.up = nn.Linear(e, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        h = self.down(x.reshape(-1, x.shape[-1]))
        return self.up(self.qkan(h.float())).reshape(*lead, -1)


class Block(nn.Module):
    def __init__(self, d: int, n_head: int, solver: str, device: str):
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = FeedForward(d, solver, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (
            z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in self.qkv(self.ln_1(x)).split(c, dim=2)
        )
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, block: int, n_layer: int, n_head: int, n_embd: int, solver: str, device: str):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(block, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, solver, device) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _our_clock():
    """This repository's qkan/bench/timing.py, loaded by path: ``import qkan`` here is the published package,
    and the file needs torch alone, so both runs are timed by the same code."""
    path = Path(__file__).resolve().parents[2] / "qkan" / "bench" / "timing.py"
    spec = importlib.util.spec_from_file_location("qkan_bench_timing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.time_ms


time_ms = _our_clock()


def measure(mode: str, size: dict, solver: str, device: torch.device, repeats: int, warmup: int) -> dict:
    """One mode's row: ms/step, tokens/s, peak MiB (CUDA), graph breaks (compiled modes), or the error."""
    compiled, bf16 = mode.startswith("compile"), mode.endswith("bf16")
    row = {"qkan": qkan.__version__, "solver": solver, "mode": mode, "device": str(device)}
    try:
        torch.manual_seed(0)
        model = GPT(
            size["vocab"], size["block"], size["n_layer"], size["n_head"], size["n_embd"], solver, str(device)
        ).to(device)
        idx = torch.randint(size["vocab"], (size["batch"], size["block"] + 1), device=device)
        x, y = idx[:, :-1], idx[:, 1:]
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        cast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        if compiled:
            torch._dynamo.reset()
            with cast():
                row["graph_breaks"] = torch._dynamo.explain(model)(x, y).graph_break_count
            torch._dynamo.reset()
        net = torch.compile(model) if compiled else model

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with cast():
                loss = net(x, y)
            loss.backward()
            optimizer.step()

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        ms = time_ms(step, device, repeats, warmup)
        row.update(ms_per_step=ms, tokens_per_s=size["batch"] * size["block"] / (ms / 1e3))
        if device.type == "cuda":
            row["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    except Exception as err:  # noqa: BLE001 - a failed mode is a result: one line says why
        row["error"] = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solver", default="flash", help="published solver: flash or exact")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma list of {','.join(MODES)}")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a 2-layer, 32-wide GPT (CPU smoke run)")
    args = parser.parse_args(argv)
    if qkan.__version__ != PUBLISHED_VERSION or not hasattr(qkan, "DARUAN"):
        print(
            f"gpt_published: error: expected the published qkan {PUBLISHED_VERSION} first on PYTHONPATH, "
            f"imported {qkan.__version__} from {qkan.__file__}",
            file=sys.stderr,
        )
        return 2
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"gpt_published: error: unknown mode(s) {unknown}; expected some of {list(MODES)}", file=sys.stderr)
        return 2
    for mode in modes:
        print(
            json.dumps(
                measure(
                    mode,
                    TINY if args.tiny else GPT2_SMALL,
                    args.solver,
                    torch.device(args.device),
                    args.repeats,
                    args.warmup,
                )
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

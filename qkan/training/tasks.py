"""Training tasks on data that ships with the dependencies (no downloads at run time): scikit-learn's
8x8 digits, character-level text from the Python standard library's own source, and CIFAR-10/100
from files the user already has (read through torchvision).

Every batch is a function of (seed, step) only, so a resumed run sees the same batches, and under
DDP each rank takes its share of the same global batch.
"""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Modules present in every CPython >= 3.10 standard library, in a fixed order (the text corpus).
STDLIB_FILES = (
    "argparse.py",
    "inspect.py",
    "typing.py",
    "dataclasses.py",
    "functools.py",
    "fractions.py",
    "textwrap.py",
    "string.py",
    "heapq.py",
    "bisect.py",
    "calendar.py",
    "difflib.py",
    "enum.py",
    "pathlib.py",
    "shlex.py",
    "tokenize.py",
    "pprint.py",
    "statistics.py",
    "configparser.py",
)
VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))  # 96 symbols; anything else becomes "?"
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0
CIFAR_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def batch_generator(seed: int, step: int) -> torch.Generator:
    """A generator that depends only on (seed, step): batches are reproducible after a resume."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def rank_share(rows: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """This rank's rows of a global batch (rank, rank + world, ...); the batch must split evenly."""
    if rows.shape[0] % world:
        raise ValueError(f"batch size {rows.shape[0]} must be divisible by the number of processes ({world})")
    return rows[rank::world]


# ----- data ------------------------------------------------------------------------------
def digits_tensors(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1797 8x8 digits as (N, 1, 8, 8) float32 in [0, 1] and int64 labels; a fixed
    stratified 80/20 split ("train" 1437 images, "test" 360)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as err:
        raise ImportError("the digits task needs scikit-learn (pip install scikit-learn)") from err
    images, labels = load_digits(return_X_y=True)
    parts = train_test_split(
        images, labels, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=labels
    )
    x, y = (parts[0], parts[2]) if split == "train" else (parts[1], parts[3])
    return torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0, torch.tensor(y, dtype=torch.int64)


def stdlib_text(files: Sequence[str] = STDLIB_FILES, max_chars: Optional[int] = None) -> tuple[str, list[str]]:
    """The concatenated source of the standard-library files found (in the given order), and their paths."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = [root / name for name in files if (root / name).is_file()]
    if not paths:
        raise FileNotFoundError(
            f"none of {list(files)} found under the standard library folder {root}; "
            "this Python ships without .py sources"
        )
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in paths)
    return (text if max_chars is None else text[:max_chars]), [str(p) for p in paths]


def encode(text: str) -> torch.Tensor:
    """Token ids over VOCAB (tabs become spaces, other characters '?')."""
    table = {c: i for i, c in enumerate(VOCAB)}
    unknown = table["?"]
    return torch.tensor([table.get(c, unknown) for c in text.replace("\t", " ")], dtype=torch.int64)


def decode(ids: Sequence[int]) -> str:
    return "".join(VOCAB[int(i)] for i in ids)


def cifar_tensors(name: str, root: str, split: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """CIFAR-10/100 from torchvision's python-format folder under ``root`` (never downloaded):
    (N, 3, 32, 32) float32 normalised per channel, labels, number of classes."""
    if name not in CIFAR_FOLDERS:
        raise ValueError(f"unknown CIFAR set {name!r}; expected one of {sorted(CIFAR_FOLDERS)}")
    folder = Path(root).expanduser() / CIFAR_FOLDERS[name]
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{name} files not found: expected the folder {folder} (the 'python version' archive from "
            "https://www.cs.toronto.edu/~kriz/cifar.html, unpacked; torchvision's download=True leaves it there). "
            "qkan never downloads data; pass --data-dir or set QKAN_DATA to the folder that contains it"
        )
    try:
        from torchvision.datasets import CIFAR10, CIFAR100
    except ImportError as err:
        raise ImportError(f"reading {name} needs torchvision (pip install torchvision matching your torch)") from err
    dataset = (CIFAR10 if name == "cifar10" else CIFAR100)(str(folder.parent), train=split == "train", download=False)
    x = torch.tensor(dataset.data).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)
    return (x - mean) / std, torch.tensor(dataset.targets, dtype=torch.int64), 10 if name == "cifar10" else 100


# ----- tasks -----------------------------------------------------------------------------
@dataclass
class ClassificationTask:
    """Images and labels; an epoch is one pass over a seeded permutation (last partial batch dropped)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    kind: str = "classify"
    info: dict = field(default_factory=dict)

    def to(self, device: torch.device) -> "ClassificationTask":
        for key in ("x_train", "y_train", "x_test", "y_test"):
            setattr(self, key, getattr(self, key).to(device))
        return self

    def steps_per_epoch(self, batch_size: int) -> int:
        steps = self.x_train.shape[0] // batch_size
        if steps < 1:
            raise ValueError(f"batch size {batch_size} exceeds the {self.x_train.shape[0]} training examples")
        return steps

    def batch(self, seed: int, step: int, batch_size: int, rank: int = 0, world: int = 1):
        per_epoch = self.steps_per_epoch(batch_size)
        epoch, position = divmod(step, per_epoch)
        order = torch.randperm(self.x_train.shape[0], generator=batch_generator(seed, -1 - epoch))
        rows = rank_share(order[position * batch_size : (position + 1) * batch_size], rank, world)
        rows = rows.to(self.x_train.device)
        return self.x_train[rows], self.y_train[rows]

    def items_per_batch(self, batch_size: int) -> int:
        return batch_size

    @staticmethod
    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy and the number of correct predictions."""
        logits = model(x)
        return F.cross_entropy(logits, y), (logits.argmax(dim=1) == y).sum()

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1):
        """This rank's share of the test set, in chunks."""
        rows = torch.arange(rank, self.x_test.shape[0], world, device=self.x_test.device)
        for chunk in rows.split(batch_size):
            yield self.x_test[chunk], self.y_test[chunk]


@dataclass
class LanguageModelTask:
    """Next-character prediction on a token stream: random windows of block_size + 1 per step."""

    name: str
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    block_size: int
    eval_windows: int = 64
    vocab_size: int = len(VOCAB)
    kind: str = "lm"
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split, ids in (("training", self.train_ids), ("validation", self.val_ids)):
            if ids.numel() <= self.block_size + 1:
                raise ValueError(f"the {split} text has {ids.numel()} tokens, too few for block_size {self.block_size}")

    def to(self, device: torch.device) -> "LanguageModelTask":
        self.train_ids, self.val_ids = self.train_ids.to(device), self.val_ids.to(device)
        return self

    def steps_per_epoch(self, batch_size: int) -> int:
        """One epoch = as many windows as the training text has tokens."""
        return max(1, self.train_ids.numel() // (batch_size * self.block_size))

    def _windows(self, ids: torch.Tensor, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        offsets = starts.to(ids.device).unsqueeze(1) + torch.arange(self.block_size + 1, device=ids.device)
        chunk = ids[offsets]
        return chunk[:, :-1], chunk[:, 1:]

    def batch(self, seed: int, step: int, batch_size: int, rank: int = 0, world: int = 1):
        starts = torch.randint(
            self.train_ids.numel() - self.block_size - 1, (batch_size,), generator=batch_generator(seed, step)
        )
        return self._windows(self.train_ids, rank_share(starts, rank, world))

    def items_per_batch(self, batch_size: int) -> int:
        return batch_size * self.block_size

    @staticmethod
    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
        return model(x, y)[1], None

    def eval_batches(self, batch_size: int, rank: int = 0, world: int = 1):
        """A fixed set of evenly spaced validation windows (the same every evaluation)."""
        last = self.val_ids.numel() - self.block_size - 1
        starts = torch.linspace(0, last, self.eval_windows).long()[rank::world]
        for chunk in starts.split(batch_size):
            yield self._windows(self.val_ids, chunk)


Task = ClassificationTask | LanguageModelTask
TASK_NAMES = ("digits", "stdlib", "cifar10", "cifar100")


def make_task(
    name: str,
    block_size: int = 64,
    max_chars: Optional[int] = None,
    data_dir: Optional[str] = None,
    val_fraction: float = 0.1,
) -> Task:
    """A task by name: digits, stdlib (character LM), cifar10, cifar100 (local files only)."""
    if name == "digits":
        (x, y), (xt, yt) = digits_tensors("train"), digits_tensors("test")
        return ClassificationTask("digits", x, y, xt, yt, 10, info={"train": len(y), "test": len(yt)})
    if name == "stdlib":
        text, paths = stdlib_text(max_chars=max_chars)
        ids = encode(text)
        cut = int(ids.numel() * (1 - val_fraction))
        return LanguageModelTask(
            "stdlib",
            ids[:cut],
            ids[cut:],
            block_size,
            info={"files": paths, "train_tokens": cut, "val_tokens": ids.numel() - cut},
        )
    if name in CIFAR_FOLDERS:
        root = data_dir or os.environ.get("QKAN_DATA", "data")
        x, y, n_classes = cifar_tensors(name, root, "train")
        xt, yt, _ = cifar_tensors(name, root, "test")
        return ClassificationTask(name, x, y, xt, yt, n_classes, info={"train": len(y), "test": len(yt)})
    raise ValueError(f"unknown task {name!r}; expected one of {list(TASK_NAMES)}")

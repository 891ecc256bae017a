"""Argument parsing shared by the ``qkan`` subcommands: a parser whose errors are one line, help that shows
each option's default, and argument types that refuse out-of-range numbers and unknown names up front."""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable, Collection, NoReturn, Optional, TypeVar

import torch

from qkan.circuits import BUILTIN_ALIASES, BUILTINS, ENTANGLING_BUILTINS, builtin

N = TypeVar("N", int, float)
ANSATZ_NAMES = (*BUILTINS, *ENTANGLING_BUILTINS, *BUILTIN_ALIASES)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help unless the help already says its default or the option is a
    flag; lists print comma-separated, as they are typed."""

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        text = action.help or ""
        if "default" in text or action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            return text
        value = action.default
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value)) or "none"
        return f"{text} (default: {str(value).replace('%', '%%')})".lstrip()


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that prints its error as one line, ``PROG: error: MESSAGE``, and exits with 2; its help
    (and its subcommands') shows the defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def ranged(
    kind: Callable[[str], N], low: Optional[N] = None, high: Optional[N] = None, above: bool = False
) -> Callable[[str], N]:
    """An argument type: ``kind(text)`` within [low, high] (or above ``low``, exclusive, with ``above``)."""

    def convert(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if above else '>='} {low}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value

    return convert


positive_int = ranged(int, 1)
positive_float = ranged(float, 0.0, above=True)
nonnegative_float = ranged(float, 0.0)


def csv(text: str) -> list[str]:
    """A comma list, blanks dropped: "a, b,," -> ["a", "b"]."""
    return [t.strip() for t in text.split(",") if t.strip()]


def csv_of(
    what: str, choices: Collection[str], also: Optional[Callable[[str], bool]] = None, also_text: str = ""
) -> Callable[[str], list[str]]:
    """An argument type: a non-empty comma list of ``choices`` (or of names ``also`` accepts, described by
    ``also_text``); an unknown name is refused with the list of valid ones."""

    def convert(text: str) -> list[str]:
        names = csv(text)
        unknown = [n for n in names if n not in choices and not (also and also(n))]
        if unknown or not names:
            given = f"unknown {what} {', '.join(map(repr, unknown))}" if unknown else f"no {what} given"
            valid = ", ".join(choices) + (f" or {also_text}" if also_text else "")
            raise argparse.ArgumentTypeError(f"{given}; expected a comma list of {valid}")
        return names

    return convert


def ints_of(convert: Callable[[str], int]) -> Callable[[str], list[int]]:
    """An argument type: a non-empty comma list of integers, each checked by ``convert`` (e.g. :func:`ranged`)."""

    def convert_all(text: str) -> list[int]:
        if not csv(text):
            raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}")
        return [convert(t) for t in csv(text)]

    return convert_all


def device_name(text: str) -> str:
    """An argument type: a torch device string (cpu, cuda, cuda:1, ...)."""
    try:
        torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected a torch device such as cpu, cuda or cuda:1, got {text!r}") from None
    return text


def device_or_auto(text: str) -> str:
    """An argument type: ``auto`` (CUDA when available) or a torch device string."""
    return text if text == "auto" else device_name(text)


def ansatz_file(spec: str) -> bool:
    """Whether ``spec`` is ``path.py:NAME`` with an existing file (bench loads NAME from it)."""
    path, sep, name = spec.rpartition(":")
    return bool(sep and name) and os.path.isfile(path)


def trainable_ansatz(name: str) -> str:
    """An argument type: a built-in ansatz whose data angle takes any real input. ``px`` reads its input
    through arccos, so its w*x+c must stay in [-1, 1], which trained pre-activations (``qkan fit``) and hidden
    features (``qkan train``) do not: refused, naming the ansatzes that work."""
    if name not in ANSATZ_NAMES:
        raise argparse.ArgumentTypeError(f"unknown ansatz {name!r}; expected one of {', '.join(ANSATZ_NAMES)}")
    if builtin(name, 1).arccos_reps:
        usable = ", ".join(n for n in BUILTINS if not builtin(n, 1).arccos_reps)
        raise argparse.ArgumentTypeError(
            f"{name} encodes its input through arccos and needs w*x+c in [-1, 1], which training does not keep "
            f"there; use one of {usable} (or qkan.QKAN(..., ansatz='px') from Python, on inputs kept in [-1, 1])"
        )
    return name

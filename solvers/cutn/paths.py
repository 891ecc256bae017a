"""Contraction paths of the cutn networks: circuit order (a statevector simulation over the edges),
or split (the sample-free and the sample tensors each in circuit order, then one join), whichever
:func:`split_pays_off` picks; and the costs that decide it (docs/notes/cutn.md)."""

from __future__ import annotations

import math

import opt_einsum

from .labels import BATCH, IN, OUT

Path = list[tuple[int, ...]]  # numpy.einsum_path format
PATH_STRATEGIES = ("auto", "circuit", "split")
REFERENCE_SIZES = {OUT: 128, IN: 128, BATCH: 1024}  # extents at which the two paths are compared
SPLIT_FLOPS_ALLOWANCE = 8  # the split may cost this many times the flops, when it writes less


def chain_path(n_tensors: int, chains: list[list[int]]) -> Path:
    """A contraction path: each chain of tensor indices is absorbed one by one into a running tensor,
    then the chains' results are joined left to right.

    In circuit order this is a statevector simulation: every intermediate is at most (O, I, B, 2^n),
    where general-purpose path finders on these hyperedge networks can pick far larger outer products."""
    current = list(range(n_tensors))  # which tensor (original index, or n_tensors + step) sits at each position
    path: Path = []

    def merge(a: int, b: int) -> int:
        nonlocal current
        path.append(tuple(sorted((current.index(a), current.index(b)))))
        current = [c for c in current if c not in (a, b)] + [n_tensors + len(path) - 1]
        return current[-1]

    results = []
    for chain in (c for c in chains if c):
        acc = chain[0]
        for k in chain[1:]:
            acc = merge(acc, k)
        results.append(acc)
    acc = results[0]
    for r in results[1:]:
        acc = merge(acc, r)
    return path or [(0,)]


def split_path(labels: list[str], order: tuple[int, ...]) -> Path:
    """The path that contracts the sample-free tensors (parameter blocks, constants: per edge at most) and
    the sample tensors (data gates: per (b, i) when they carry no o) each in circuit order, then joins the
    two in one contraction over the wires the data gates act on: the only tensor of size B x O x I is the
    output, where the circuit order writes one per gate."""
    edge = [k for k in order if BATCH not in labels[k]]
    batch = [k for k in order if BATCH in labels[k]]
    return chain_path(len(labels), [edge, batch])


def path_cost(expression: str, path: Path, sizes: dict[str, int]) -> tuple[int, int]:
    """(flops, elements written to intermediates) of ``path`` at the extents ``sizes`` (2 for wires)."""
    shapes = [tuple(sizes.get(c, 2) for c in labels) for labels in expression.split("->")[0].split(",")]
    _, info = opt_einsum.contract_path(expression, *shapes, shapes=True, optimize=path)
    return int(info.opt_cost), int(sum(info.size_list))


def split_pays_off(expression: str, order: tuple[int, ...]) -> bool:
    """Whether :func:`split_path` writes fewer elements than the circuit order at REFERENCE_SIZES without
    more than SPLIT_FLOPS_ALLOWANCE times its flops: these contractions are bound by memory traffic (an
    H100 does ~20 float32 flops per byte it moves), so a join shaped like a batched GEMM that writes one
    B x O x I tensor beats gate-by-gate updates that each write one. Data gates that depend on o
    (pre-activations) or many data gates on one wire make the split's join larger, and it loses."""
    labels = expression.split("->")[0].split(",")
    circuit_flops, circuit_written = path_cost(expression, chain_path(len(labels), [list(order)]), REFERENCE_SIZES)
    split_flops, split_written = path_cost(expression, split_path(labels, order), REFERENCE_SIZES)
    return split_written < circuit_written and split_flops <= SPLIT_FLOPS_ALLOWANCE * circuit_flops


def largest_intermediate(labels: list[str], output: str, path: Path, sizes: dict[str, int], batch: bool) -> int:
    """Elements of the largest operand or intermediate along ``path`` (extents from ``sizes``, 2 for wires)
    among those with (``batch``), or without, the sample label b."""

    def size(ls) -> int:
        return math.prod(sizes.get(c, 2) for c in ls) if (BATCH in ls) == batch else 0

    current = [set(ls) for ls in labels]
    largest = max(size(ls) for ls in labels)
    for pair in path:
        merged = set().union(*(current[j] for j in pair))
        current = [c for j, c in enumerate(current) if j not in pair]
        merged &= set(output).union(*current)
        current.append(merged)
        largest = max(largest, size(merged))
    return largest

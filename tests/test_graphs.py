"""CPU tests of the graphed train step's optimizer preparation and its argument check (the capture itself
needs CUDA: tests/test_flash_gpu.py)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from qkan import QKAN
from qkan.graphs import FEW_TENSORS, make_graphed_train_step, prepare_for_capture


def test_few_trainable_tensors_take_the_per_tensor_kernels():
    model = QKAN([4, 3, 2], solver="exact", seed=0)  # two trainable thetas among many frozen tensors
    assert sum(p.requires_grad for p in model.parameters()) == 2 < len(list(model.parameters()))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    prepare_for_capture(optimizer)
    assert optimizer.param_groups[0]["foreach"] is False and optimizer.param_groups[0]["capturable"] is True


def test_an_explicit_foreach_and_many_tensors_keep_their_kernels():
    explicit = torch.optim.Adam(nn.Linear(3, 2).parameters(), foreach=True)
    prepare_for_capture(explicit)
    assert explicit.param_groups[0]["foreach"] is True
    many = nn.Sequential(*(nn.Linear(3, 3) for _ in range(FEW_TENSORS)))  # 2 tensors each
    unset = torch.optim.Adam(many.parameters())
    prepare_for_capture(unset)
    assert unset.param_groups[0]["foreach"] is None and unset.param_groups[0]["capturable"] is True


def test_cpu_tensors_are_refused():
    model = QKAN([2, 1], solver="exact", seed=0)
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        make_graphed_train_step(model, nn.functional.mse_loss, torch.optim.Adam(model.parameters()),
                                torch.randn(4, 2), torch.randn(4, 1))

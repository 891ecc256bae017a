"""qkan.make_graphed_train_step: the two call forms (ours and the published qkan's), the optimizer preparation,
the replay's shape check (CPU, with a stand-in graph), and on CUDA the whole-step capture of QKAN and the GPT
against eager steps."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from qkan import QKAN, make_graphed_train_step
from qkan.graphs import FEW_TENSORS, GraphedStep, parse_call, prepare_for_capture


def _parts():
    model = QKAN([2, 1], solver="exact", seed=0)
    return model, nn.functional.mse_loss, torch.optim.Adam(model.parameters()), torch.randn(4, 2), torch.randn(4, 1)


# ----- call forms ----------------------------------------------------------------------------------
def test_our_form_by_position_and_by_name():
    _, loss_fn, opt, x, y = _parts()
    for call in (
        parse_call((loss_fn, opt, x, y), {}),
        parse_call((), {"loss_fn": loss_fn, "optimizer": opt, "example_x": x, "example_y": y}),
        parse_call((loss_fn,), {"optimizer": opt, "example_x": x, "example_y": y}, warmup=5),
    ):
        assert not call.published and call.loss_fn is loss_fn and call.optimizer is opt
        assert call.x is x and call.y is y
    assert call.warmup == 5


def test_published_form_is_detected_by_position_and_by_name():
    _, loss_fn, opt, x, y = _parts()
    call = parse_call((x, y, loss_fn, opt), {})
    assert call.published and call.x is x and call.y is y and call.loss_fn is loss_fn and call.warmup == 3
    assert parse_call((x, y, loss_fn, opt, 7), {}).warmup == 7  # the published sixth argument, warmup
    named = parse_call((), {"sample_input": x, "sample_target": y, "loss_fn": loss_fn, "optimizer": opt})
    assert named.published and named.optimizer is opt


def test_bad_calls_name_the_argument():
    _, loss_fn, opt, x, y = _parts()
    with pytest.raises(TypeError, match=r"missing \['example_y'\]"):
        parse_call((loss_fn, opt, x), {})
    with pytest.raises(TypeError, match=r"missing \['optimizer'\]"):
        parse_call((x, y, loss_fn), {})
    with pytest.raises(TypeError, match="unexpected argument 'sample_x'"):
        parse_call((loss_fn, opt, x), {"sample_x": y})
    with pytest.raises(TypeError, match="'optimizer' twice"):
        parse_call((loss_fn, opt, x, y), {"optimizer": opt})
    with pytest.raises(TypeError, match="at most 4 arguments"):
        parse_call((loss_fn, opt, x, y, 3), {})
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got str"):
        parse_call((loss_fn, "adam", x, y), {})
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        parse_call((x, y, 1.0, opt), {})
    with pytest.raises(TypeError, match="example_x must be a torch.Tensor, got list"):
        parse_call((loss_fn, opt, [1.0], y), {})
    with pytest.raises(ValueError, match="warmup must be a positive integer, got 0"):
        parse_call((x, y, loss_fn, opt, 0), {})


def test_capture_on_cpu_is_refused_in_both_forms():
    model, loss_fn, opt, x, y = _parts()
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        make_graphed_train_step(model, loss_fn, opt, x, y)
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        make_graphed_train_step(model, x, y, loss_fn, opt)


# ----- replays -------------------------------------------------------------------------------------
class _StandInGraph:
    """Counts replays; the step around it is the one a capture returns."""

    def __init__(self):
        self.replays = 0

    def replay(self) -> None:
        self.replays += 1


def test_a_replay_copies_the_batch_and_another_shape_or_dtype_raises():
    graph = _StandInGraph()
    static_x, static_y, loss = torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), torch.zeros(())
    step = GraphedStep(graph, static_x, static_y, loss, includes_optimizer_step=True)
    x, y = torch.randn(4, 2), torch.arange(4)
    assert step(x, y) is loss and graph.replays == 1
    assert torch.equal(static_x, x) and torch.equal(static_y, y)
    with pytest.raises(ValueError, match=r"the input must be \(4, 2\) torch.float32, got \(5, 2\) torch.float32"):
        step(torch.randn(5, 2), y)
    with pytest.raises(ValueError, match=r"the target must be \(4,\) torch.int64, got \(4,\) torch.int32"):
        step(x, y.int())
    with pytest.raises(TypeError, match="got list for the input"):
        step([1, 2], y)
    assert graph.replays == 1  # nothing replayed on a refused batch


# ----- optimizer preparation -----------------------------------------------------------------------
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


def test_the_learning_rate_becomes_a_tensor_a_scheduler_fills_in_place():
    optimizer = torch.optim.AdamW(nn.Linear(3, 2).parameters(), lr=0.5)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    prepare_for_capture(optimizer)
    lr = optimizer.param_groups[0]["lr"]
    assert torch.is_tensor(lr) and float(lr) == 0.5
    schedule.step()
    assert optimizer.param_groups[0]["lr"] is lr and float(lr) == 0.25  # the graph reads it
    sgd = torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.5)  # no capturable option: left alone
    prepare_for_capture(sgd)
    assert sgd.param_groups[0]["lr"] == 0.5


# ----- CUDA ----------------------------------------------------------------------------------------
def _gpt(solver: str):
    from qkan.models import GPT

    torch.manual_seed(0)
    return GPT(96, 16, n_layer=2, n_head=2, n_embd=32, mlp="hqkan", solver=solver).cuda()


def _lm_loss(output, y):
    return nn.functional.cross_entropy(output[0].flatten(0, 1), y.flatten())


def _batches(n: int):
    gen = torch.Generator().manual_seed(1)
    for _ in range(n):
        idx = torch.randint(96, (4, 17), generator=gen).cuda()
        yield idx[:, :-1], idx[:, 1:]


@pytest.mark.gpu
@pytest.mark.parametrize("solver", ["exact", "flash"])
def test_gpt_whole_step_capture_matches_eager_steps(solver):
    model = _gpt(solver)
    twin = copy.deepcopy(model)
    optimizer, twin_opt = torch.optim.AdamW(model.parameters(), lr=1e-3), torch.optim.AdamW(twin.parameters(), lr=1e-3)
    batches = list(_batches(5))
    step = make_graphed_train_step(model, _lm_loss, optimizer, *batches[0])
    assert step.includes_optimizer_step
    prepare_for_capture(twin_opt)  # the same optimizer settings as the capture (capturable, device lr)
    for x, y in batches:
        graphed = step(x, y).item()
        twin_opt.zero_grad(set_to_none=True)
        eager = _lm_loss(twin(x), y)
        eager.backward()
        twin_opt.step()
        assert graphed == pytest.approx(eager.item(), rel=1e-4, abs=1e-5)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)
    with pytest.raises(ValueError, match=r"the input must be \(4, 16\)"):
        step(batches[0][0][:, :8], batches[0][1][:, :8])


@pytest.mark.gpu
def test_published_form_leaves_the_optimizer_step_to_the_caller():
    model = _gpt("flash")
    twin = copy.deepcopy(model)
    optimizer, twin_opt = torch.optim.AdamW(model.parameters(), lr=1e-3), torch.optim.AdamW(twin.parameters(), lr=1e-3)
    batches = list(_batches(4))
    before = [p.detach().clone() for p in model.parameters()]
    step = make_graphed_train_step(model, *batches[0], _lm_loss, optimizer)
    assert not step.includes_optimizer_step
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))  # capture did not step
    for x, y in batches:
        graphed = step(x, y).item()
        optimizer.step()  # the caller's, as published
        twin_opt.zero_grad(set_to_none=False)
        eager = _lm_loss(twin(x), y)
        eager.backward()
        twin_opt.step()
        assert graphed == pytest.approx(eager.item(), rel=1e-4, abs=1e-5)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_bf16_autocast_and_clipping_inside_the_graph():
    model = _gpt("flash")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (1 + s))
    x, y = next(_batches(1))
    step = make_graphed_train_step(model, _lm_loss, optimizer, x, y, autocast=torch.bfloat16, grad_clip=1.0)
    losses = []
    for _ in range(6):
        losses.append(step(x, y).item())
        schedule.step()
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert float(optimizer.param_groups[0]["lr"]) == pytest.approx(1e-3 / 7)
    with pytest.raises(ValueError, match="float16 needs a GradScaler"):
        make_graphed_train_step(model, _lm_loss, optimizer, x, y, autocast=torch.float16)

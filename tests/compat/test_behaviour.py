"""Published call patterns that behave as published here: numpy integers, unknown keywords, prune() after
save_act, the new constructor keywords, KAN/FourierKAN, the inference wrappers and the pykan-style plot."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import qkan
from qkan import QKAN, QKANLayer


def test_numpy_integers_are_integers():
    model = QKAN([np.int64(2), np.int32(3), 1], reps=np.int64(2), group=np.int64(-1), seed=np.int64(0))
    assert model.width == [2, 3, 1] and type(model.width[0]) is int and model.reps == 2
    assert QKANLayer(np.int64(2), np.int64(3)).in_dim == 2


def test_unknown_qkan_keyword_warns_once_and_is_ignored():
    with pytest.warns(UserWarning, match="ignoring unknown keyword argument 'num_qlayers_x'"):
        QKAN([2, 1], num_qlayers_x=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        QKAN([2, 1], num_qlayers_x=3)  # once per name
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_qlayers_x'"):
        QKANLayer(2, 1, num_qlayers_x=3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(p_dim=3), ValueError, "p_dim must be 2 or 4"),
        (dict(theta_init="zeros"), ValueError, "theta_init must be one of"),
        (dict(checkpoint_reps="yes"), TypeError, "checkpoint_reps must be True or False"),
        (dict(is_map=True), ValueError, "is_map=True is not supported"),
        (dict(p_dtype="float32"), TypeError, "p_dtype must be a floating torch.dtype"),
    ],
)
def test_published_keywords_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        QKAN([2, 1], **kwargs)


def test_p_dtype_is_the_parameter_dtype_and_c_dtype_is_accepted():
    model = QKAN([2, 1], p_dtype=torch.float64, c_dtype=torch.complex128)
    assert model.layers[0].theta.dtype == torch.float64


def test_checkpoint_reps_gives_the_same_gradients():
    x = torch.rand(8, 2, dtype=torch.float64)
    grads = []
    for flag in (False, True):
        model = QKAN([2, 3, 1], reps=3, seed=0, dtype=torch.float64, checkpoint_reps=flag)
        model(x).sum().backward()
        grads.append(model.layers[0].theta.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_small_gaussian_theta_has_std_one_over_sqrt_reps():
    theta = QKANLayer(40, 40, reps=16, seed=0, theta_init="small_gaussian").theta
    assert abs(theta.std().item() - 0.25) < 0.01 and abs(theta.mean().item()) < 0.01


def test_prune_without_x_uses_the_saved_activations():
    model = QKAN([2, 4, 1], reps=2, seed=0, save_act=True)
    x = torch.rand(32, 2) * 2 - 1
    model(x)
    pruned = model.prune(node_th=1e-2, edge_th=3e-2)
    assert isinstance(pruned, QKAN)
    assert pruned.width == model.prune(node_th=1e-2, edge_th=3e-2, x=x).width


def test_initialize_from_another_model_copies_the_shared_re_uploads():
    small = QKAN([2, 3, 1], reps=2, seed=0, preact_trainable=True, postact_weight_trainable=True)
    with torch.no_grad():
        small.layers[0].postact_weights.mul_(2.0)
    big = QKAN([2, 3, 1], reps=5, seed=1, preact_trainable=True).initialize_from_another_model(small)
    for mine, theirs in zip(big.layers, small.layers):
        assert torch.equal(mine.theta[..., :2, :], theirs.theta[..., :2, :])
        assert torch.equal(mine.theta[..., -1, :], theirs.theta[..., -1, :])  # the final rotation stays last
        assert torch.equal(mine.preacts_weight[..., :2], theirs.preacts_weight)
        assert torch.equal(mine.postact_weights, theirs.postact_weights)
    with pytest.raises(ValueError, match="width"):
        QKAN([2, 2, 1]).initialize_from_another_model(small)
    with pytest.raises(ValueError, match="reps=5"):
        QKAN([2, 3, 1], reps=2).initialize_from_another_model(big)


def test_param_size_counts_trainable_elements():
    model = QKAN([2, 3, 1], reps=2, postact_weight_trainable=True)
    assert model.param_size == sum(p.numel() for p in model.parameters() if p.requires_grad) == 6 * 6 + 3 * 6 + 6 + 3
    model.set_fused_epilogue(True)
    assert all(layer.use_fused_epilogue for layer in model.layers)


def test_published_plot_options_return_the_figure(tmp_path):
    model = QKAN([2, 3, 1], reps=2, seed=0, save_act=True)
    x = torch.rand(40, 2) * 2 - 1
    model(x)
    fig = model.plot(from_acts=True, metric=None, in_vars=["$x$", "$y$"], out_vars=["f"], title="t")
    assert isinstance(fig, Figure)
    path = tmp_path / "net.png"
    assert isinstance(model.plot(x, mask=True, metric="forward_u", path=str(path)), Figure) and path.is_file()
    with pytest.warns(RuntimeWarning, match="metric"):
        model.plot(x, metric="backward")
    with pytest.raises(ValueError, match="no saved activations"):
        QKAN([2, 1]).plot(from_acts=True)


@pytest.mark.parametrize("cls", [qkan.KAN, qkan.FourierKAN])
def test_kan_models_train_and_initialise_from_qkan(cls):
    x = torch.rand(64, 2) * 2 - 1
    teacher = QKAN([2, 2, 1], reps=2, seed=0)
    student = cls([2, 2, 1], seed=0)
    with torch.no_grad():
        before = (student(x) - teacher(x)).pow(2).mean()
    student.initialize_from_qkan(teacher, x0=x, sampling=50)
    with torch.no_grad():
        assert (student(x) - teacher(x)).pow(2).mean() < before
    assert student.regularization_loss().item() > 0
    with pytest.raises(ValueError, match="base_activation"):
        cls([2, 1], base_activation=torch.nn.ReLU)


def test_compiled_inference_is_the_module_off_cuda():
    model = QKAN([2, 3, 1], reps=2, seed=0)
    wrapped = qkan.compile_inference(model).eval()
    x = torch.rand(4, 2)
    with torch.no_grad():
        assert torch.equal(wrapped(x), model(x))
    assert isinstance(
        qkan.graph_submodules(model, x, predicate=lambda m: isinstance(m, QKANLayer)).layers[0], qkan.CompiledInference
    )
    with pytest.raises(ValueError, match="CUDA"):
        qkan.make_graphed_inference(model, x)


@pytest.mark.gpu
def test_compiled_inference_replays_on_cuda():
    model = QKAN([4, 8, 2], reps=2, seed=0, device="cuda")
    x = torch.rand(16, 4, device="cuda")
    wrapped = qkan.compile_inference(model).eval()
    with torch.no_grad():
        expected = model(x)
        first, again = wrapped(x).clone(), wrapped(x * 0.5)
        torch.testing.assert_close(first, expected)
        torch.testing.assert_close(again, model(x * 0.5))
        replay = qkan.make_graphed_inference(model, x)
        torch.testing.assert_close(replay(x), expected)


def test_published_layer_views_follow_the_parameters():
    layer = QKANLayer(2, 3, reps=2, seed=0)
    assert layer._mask_is_identity and not layer._pb_is_nonzero and not layer._needs_dtype_cast
    with torch.no_grad():
        layer._as_oi(layer.mask)[0, 1] = 0.0
        layer.postact_bias.fill_(0.5)
    assert not layer._mask_is_identity and layer._pb_is_nonzero
    assert layer.to(dtype=torch.float64).p_dtype == layer.c_dtype == torch.float64

"""RationalKAN CUDA kernels on a GPU: parity with the torch implementation and a float64 reference,
bitwise determinism, the custom-op registration, and the backward's gradients at KAT scale against a
per-element-atomicAdd backward (a comparison kernel that lives only here)."""

import numpy as np
import pytest
import torch

from qkan.baselines import RationalKAN
from qkan.baselines.rational import PRESETS
from qkan.baselines.rational_math import grouped_safe_pade
from qkan.solvers.cuda_runtime import cupy_available, launch, load_module

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")]

KAT_ROWS, KAT_DIM, KAT_GROUPS = 25_216, 768, 8  # ViT-B at batch 128 (197 tokens) x 768 features, 8 groups


def relative(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value - reference| / max |reference| (norm-wise relative error)."""
    return ((value.double() - reference.double()).abs().max() / reference.double().abs().max()).item()


def coefficients(groups: int, device="cuda"):
    torch.manual_seed(1)
    a = torch.tensor(PRESETS["gelu"][0], dtype=torch.float64) + 0.05 * torch.randn(6, dtype=torch.float64)
    b = torch.tensor(PRESETS["gelu"][1], dtype=torch.float64) + 0.1 * torch.randn(groups, 4, dtype=torch.float64)
    return a.to(device), b.to(device)


def kernel_and_reference(x32, g32, a64, b64):
    """Kernel (float32) outputs and gradients, and the float64 torch reference on the same inputs."""
    from qkan.baselines.rational_cuda import rational_forward

    leaves = [t.detach().clone().requires_grad_(True) for t in (x32, a64.float(), b64.float())]
    y = rational_forward(*leaves)
    y.backward(g32)
    ref_leaves = [t.detach().double().requires_grad_(True) for t in (x32, a64, b64)]
    y_ref = grouped_safe_pade(*ref_leaves)
    y_ref.backward(g32.double())
    return (y, *[t.grad for t in leaves]), (y_ref, *[t.grad for t in ref_leaves])


@pytest.mark.parametrize(
    "shape,groups", [((1000, 64), 8), ((3, 7, 48), 3), ((5, 12), 1), ((4099, 96), 8), ((KAT_ROWS, KAT_DIM), KAT_GROUPS)]
)
def test_kernel_matches_torch_and_float64(shape, groups):
    torch.manual_seed(0)
    x = torch.randn(*shape, device="cuda") * 2
    g = torch.randn(*shape, device="cuda")
    a, b = coefficients(groups)
    ours, ref = kernel_and_reference(x, g, a, b)
    y_torch32 = grouped_safe_pade(x, a.float(), b.float())
    assert relative(ours[0], y_torch32) <= 1e-6
    assert relative(ours[0], ref[0]) <= 1e-6
    assert relative(ours[1], ref[1]) <= 1e-5  # dx
    assert relative(ours[2], ref[2]) <= 1e-5  # d numerator
    assert relative(ours[3], ref[3]) <= 1e-5  # d denominator
    print(
        f"{shape} groups={groups}: forward {relative(ours[0], ref[0]):.1e}, dx {relative(ours[1], ref[1]):.1e}, "
        f"da {relative(ours[2], ref[2]):.1e}, db {relative(ours[3], ref[3]):.1e}"
    )


def test_kernel_float64_matches_reference():
    from qkan.baselines.rational_cuda import rational_forward

    torch.manual_seed(0)
    x = (torch.randn(513, 40, device="cuda", dtype=torch.float64) * 2).requires_grad_(True)
    a, b = (t.requires_grad_(True) for t in coefficients(4))
    y = rational_forward(x, a, b)
    grads = torch.autograd.grad(y.square().sum(), (x, a, b))
    y_ref = grouped_safe_pade(x, a, b)
    grads_ref = torch.autograd.grad(y_ref.square().sum(), (x, a, b))
    assert relative(y, y_ref) <= 1e-13
    for got, want in zip(grads, grads_ref):
        assert relative(got, want) <= 1e-12


def test_backward_is_bitwise_deterministic():
    from qkan.baselines.rational_cuda import rational_backward

    torch.manual_seed(0)
    x = torch.randn(KAT_ROWS, KAT_DIM, device="cuda")
    g = torch.randn_like(x)
    a, b = (t.float() for t in coefficients(KAT_GROUPS))
    first = rational_backward(g, x, a, b)
    second = rational_backward(g, x, a, b)
    for u, v in zip(first, second):
        assert torch.equal(u, v)


def test_custom_op_registration():
    from qkan.baselines.rational_cuda import rational_forward

    x = torch.randn(37, 16, device="cuda", requires_grad=True)
    a, b = (t.float().requires_grad_(True) for t in coefficients(4))
    torch.library.opcheck(rational_forward, (x, a, b))


def test_layer_cuda_backend_matches_torch_backend():
    torch.manual_seed(0)
    cuda_layer = RationalKAN(64, 32, groups=8, backend="cuda", device="cuda")
    torch_layer = RationalKAN(64, 32, groups=8, backend="torch", device="cuda")
    torch_layer.load_state_dict(cuda_layer.state_dict())
    x = torch.randn(4, 50, 64, device="cuda")
    y_cuda, y_torch = cuda_layer(x), torch_layer(x)
    assert relative(y_cuda, y_torch) <= 1e-6
    y_cuda.square().sum().backward()
    y_torch.square().sum().backward()
    for (name, p), q in zip(cuda_layer.named_parameters(), torch_layer.parameters()):
        assert relative(p.grad, q.grad) <= 1e-4, name


def test_layer_under_torch_compile():
    torch.manual_seed(0)
    layer = RationalKAN(64, 32, groups=8, backend="cuda", device="cuda")
    x = torch.randn(8, 64, device="cuda", requires_grad=True)
    compiled = torch.compile(layer)
    y = compiled(x)
    assert relative(y, layer(x)) <= 1e-6
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.denominator.grad).all()


# ----- speed at KAT scale against a per-element-atomicAdd backward --------------------------------

ATOMIC_COMPARISON_KERNEL = r"""
// COMPARISON ONLY (benchmark): the same per-element gradients as rational_backward, but every element
// atomically adds its 10 coefficient gradients to global memory: the pattern the tile reduction replaces.
template <typename T>
__global__ void rational_backward_per_element_atomic(const T* __restrict__ x, const T* __restrict__ grad,
        const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ dx, T* __restrict__ da, T* __restrict__ db,
        long long n, long long dim, int group_dim) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        long long g = (i % dim) / group_dim;
        T ca[NUM], ab[DEN], sb[DEN];
        load_coefficients(a, b, g, ca, ab, sb);
        T grads[GRADS];
        for (int k = 0; k < GRADS; ++k) grads[k] = T(0);
        dx[i] = pade_grads(x[i], grad[i], ca, ab, sb, grads);
        for (int k = 0; k < NUM; ++k) atomicAdd(da + k, grads[k]);
        for (int j = 0; j < DEN; ++j) atomicAdd(db + g * DEN + j, grads[NUM + j]);
    }
}
template __global__ void rational_backward_per_element_atomic<float>(const float*, const float*, const float*,
        const float*, float*, float*, float*, long long, long long, int);
"""


def atomic_backward(g, x, a, b):
    from qkan.baselines.rational_cuda import DEVICE_FUNCTIONS, THREADS

    module = load_module(DEVICE_FUNCTIONS + ATOMIC_COMPARISON_KERNEL, ("rational_backward_per_element_atomic<float>",))
    dx, da, db = torch.empty_like(x), torch.zeros_like(a), torch.zeros_like(b)
    n, dim = x.numel(), x.shape[-1]
    blocks = min(-(-n // THREADS), 132 * 16)
    launch(
        module,
        "rational_backward_per_element_atomic<float>",
        (blocks,),
        (THREADS,),
        (x, g, a, b, dx, da, db, np.int64(n), np.int64(dim), np.int32(dim // b.shape[0])),
    )
    return dx, da, db


def test_backward_at_kat_scale_matches_per_element_atomics():
    """At KAT's scale the tile-reduction backward gives the per-element-atomicAdd kernel's gradients (up to the
    atomics' float32 summation order); its speed against FlashKAT is judged by qkan bench --cases baselines."""
    from qkan.baselines.rational_cuda import rational_backward

    torch.manual_seed(0)
    x = torch.randn(KAT_ROWS, KAT_DIM, device="cuda")
    g = torch.randn_like(x)
    a, b = (t.float() for t in coefficients(KAT_GROUPS))
    ours, theirs = rational_backward(g, x, a, b), atomic_backward(g, x, a, b)
    assert relative(theirs[0], ours[0]) <= 1e-6
    assert relative(theirs[1], ours[1]) <= 1e-2 and relative(theirs[2], ours[2]) <= 1e-2  # float32 atomics

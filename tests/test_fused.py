"""Tests of sista_lib.fused: the hand-written backward through time equals autograd's."""

import numpy as np
import pytest
import torch

from sista_lib.fused import (
    SISTARecurrence,
    _soft_writer,
    check_implementation,
    clear_scratch,
    sista_rnn_recurrence,
    stacked_rnn_recurrence,
)
from sista_lib.models import SISTARNN, StackedRNN
from sista_lib.sista import sista_step_size
from sista_lib.sparse import _soft_values

F64 = torch.float64
IMPLEMENTATIONS = ("reference", "fused")


def random_sista_rnn(K, variant, tie_layers, positive, seed=0, M=6, N=10, dtype=F64):
    """A SISTA-RNN with every interpretable parameter away from its special values.

    alpha != 1 (but above the step-size bound, so the recursion stays O(1)), F != I, a random
    hhat_0, Dinv != D^T (released); untied copies are perturbed layer by layer.
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    D, _ = np.linalg.qr(rng.standard_normal((N, N)))
    F = np.eye(N) + 0.2 * rng.standard_normal((N, N)) / np.sqrt(N)
    lam1, lam2 = rng.uniform(0.4, 0.8), rng.uniform(0.2, 2.0)
    alpha = sista_step_size(A, D, lam2) * rng.uniform(1.1, 1.5)
    kw = {"Dinv": D.T + 0.05 * rng.standard_normal((N, N))} if variant == "released" else {}
    model = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=K, variant=variant,
                     tie_layers=tie_layers, h0=0.3 * rng.standard_normal(N),
                     positive=positive, dtype=dtype, **kw)
    if not tie_layers:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim >= 1 and p.shape[0] == K:
                    p.mul_(1 + 0.05 * torch.randn(p.shape, generator=g, dtype=dtype))
    return model


def run(model, x, implementation, **kw):
    """Outputs, codes (when the model returns them) and every parameter gradient of a loss that
    reads both the estimates and the codes."""
    model.zero_grad(set_to_none=True)
    out = model(x, implementation=implementation, **kw)
    yhat, codes = out if isinstance(out, tuple) else (out, None)
    weights = torch.linspace(-1, 1, yhat.shape[-1], dtype=yhat.dtype)
    loss = (yhat.square() * weights).sum()
    if codes is not None:
        loss = loss + (codes * weights.flip(0)).sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return yhat.detach(), None if codes is None else codes.detach(), grads


def assert_close_scaled(actual, expected, tol, what):
    scale = max(1.0, expected.abs().max().item())
    err = (actual - expected).abs().max().item()
    assert err <= tol * scale, f"{what}: max error {err:.3e} (scale {scale:.3e})"


def assert_same_run(fused, reference, tol):
    (y_f, h_f, g_f), (y_r, h_r, g_r) = fused, reference
    assert_close_scaled(y_f, y_r, tol, "yhat")
    if h_r is not None:
        assert_close_scaled(h_f, h_r, tol, "codes")
    assert g_f.keys() == g_r.keys()
    for name in g_r:
        assert_close_scaled(g_f[name], g_r[name], tol, f"d loss / d {name}")


# --- the SISTA-RNN: fused == reference ---------------------------------------------------

@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("variant", ["paper", "released"])
@pytest.mark.parametrize("tie_layers", [True, False])
@pytest.mark.parametrize("positive", [False, True])
def test_sista_rnn_fused_equals_reference(K, variant, tie_layers, positive):
    model = random_sista_rnn(K, variant, tie_layers, positive, seed=K)
    x = torch.randn(9, 4, 6, dtype=F64, generator=torch.Generator().manual_seed(K))
    reference = run(model, x, "reference", return_codes=True)
    fused = run(model, x, "fused", return_codes=True)
    # every trainable parameter has a gradient, and some codes are zero (the masks matter)
    assert len(reference[2]) == len(list(model.parameters()))
    assert 0.0 < (reference[1] == 0).double().mean() < 1.0
    assert_same_run(fused, reference, 1e-10)


@pytest.mark.parametrize("variant", ["paper", "released"])
@pytest.mark.parametrize("tie_layers", [True, False])
def test_sista_rnn_fused_equals_reference_at_negative_and_zero_thresholds(variant, tie_layers):
    """A trained lambda_1 may cross zero (no positivity in the paper): b < 0 widens."""
    model = random_sista_rnn(3, variant, tie_layers, False, seed=5)
    x = torch.randn(6, 3, 6, dtype=F64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        model.lam1.copy_(torch.tensor(-0.1) if tie_layers
                         else torch.tensor([-0.1, 0.0, 0.2], dtype=F64))
    assert_same_run(run(model, x, "fused", return_codes=True),
                    run(model, x, "reference", return_codes=True), 1e-10)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_h0_override_and_its_gradient(variant):
    model = random_sista_rnn(3, variant, True, False, seed=2)
    x = torch.randn(5, 3, 6, dtype=F64)
    for shape in [(10,), (3, 10)]:
        grads = {}
        for implementation in IMPLEMENTATIONS:
            h0 = torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(1))
            h0.requires_grad_(True)
            yhat, codes = model(x, h0, return_codes=True, implementation=implementation)
            (yhat.sum() + codes.square().sum()).backward()
            grads[implementation] = (yhat.detach(), codes.detach(), h0.grad)
        for a, b in zip(grads["fused"], grads["reference"]):
            assert_close_scaled(a, b, 1e-10, f"h0 {shape}")
        assert grads["fused"][2].abs().max() > 0


def test_numpy_in_numpy_out_and_no_grad():
    model = random_sista_rnn(3, "paper", True, False)
    x = np.random.default_rng(0).standard_normal((4, 2, 6))
    yhat, codes = model(x, return_codes=True)
    assert isinstance(yhat, np.ndarray) and isinstance(codes, np.ndarray)
    with torch.no_grad():
        ref_y, ref_h = model(x, return_codes=True, implementation="reference")
    assert np.abs(yhat - ref_y).max() <= 1e-12 and np.abs(codes - ref_h).max() <= 1e-12


def test_float32_agrees_with_float64_reference_at_the_papers_sizes():
    """float32 (the training dtype) at N = 128, M = 32, K = 3: the fused path's rounding is
    autograd's to a few float32 ulps of the scale, over 64 time steps."""
    from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary

    A, D = paper_measurement_matrix(32, 128), wavelet_dictionary(128)
    x = torch.randn(64, 5, 32, generator=torch.Generator().manual_seed(0), dtype=F64)
    for variant in ("paper", "released"):
        exact = SISTARNN.paper_init(A, D, variant=variant, dtype=F64)
        single = SISTARNN.paper_init(A, D, variant=variant, dtype=torch.float32)
        reference = run(exact, x, "reference", return_codes=True)
        fused = run(single, x.float(), "fused", return_codes=True)
        fused = (fused[0].double(), fused[1].double(),
                 {n: g.double() for n, g in fused[2].items()})
        assert_same_run(fused, reference, 2e-4)


# --- the generic stacked RNN -------------------------------------------------------------

def random_stacked_rnn(K, thresholds, seed=0, M=5, H=7, N=4):
    model = StackedRNN(M, H, N, n_layers=K, seed=seed, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        b = 0.3 * torch.rand(K, H, generator=g, dtype=F64) + 0.05
        if thresholds == "negative":
            b = -b
        elif thresholds == "mixed":
            b = b * torch.where(torch.rand(K, H, generator=g) < 0.5, -1.0, 1.0).to(F64)
        model.b.copy_(b)
        model.h0.copy_(0.5 * torch.randn(K, H, generator=g, dtype=F64))
        model.c.copy_(torch.randn(N, generator=g, dtype=F64))
        for p in (model.V, model.W, model.S, model.U):
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64) / np.sqrt(p.shape[-1]))
        model.W.mul_(0.6)
    return model


@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize("thresholds", ["positive", "negative", "mixed"])
def test_stacked_rnn_fused_equals_reference(K, thresholds):
    model = random_stacked_rnn(K, thresholds, seed=K)
    x = torch.randn(8, 3, 5, dtype=F64, generator=torch.Generator().manual_seed(K))
    reference = run(model, x, "reference")
    fused = run(model, x, "fused")
    # every parameter but the empty S of a single layer has a gradient
    assert len(reference[2]) == len(list(model.parameters())) - (K == 1)
    assert_same_run(fused, reference, 1e-10)


def test_stacked_rnn_input_gradient():
    model = random_stacked_rnn(3, "mixed")
    grads = []
    for implementation in IMPLEMENTATIONS:
        x = torch.randn(6, 2, 5, dtype=F64, generator=torch.Generator().manual_seed(3))
        x.requires_grad_(True)
        model(x, implementation=implementation).square().sum().backward()
        grads.append(x.grad)
    assert_close_scaled(grads[1], grads[0], 1e-10, "d loss / d x")


# --- the Functions themselves --------------------------------------------------------------

def _sista_inputs(K, n_blocks, b_sign, seed, T=4, B=2, N=3, M=2):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s, scale=0.5: (scale * torch.randn(*s, generator=g, dtype=F64)).requires_grad_()
    b = 0.1 + 0.2 * torch.rand(K, generator=g, dtype=F64)
    b = b * {"positive": 1.0, "negative": -1.0}.get(b_sign, 1.0)
    if b_sign == "mixed":
        b = b * torch.tensor([(-1.0) ** k for k in range(K)], dtype=F64)
    return (r(T, B, M, scale=1.0), r(n_blocks * N, N), r(n_blocks * N, M), r(K - 1, N, N),
            b.requires_grad_(), r(B, N))


@pytest.mark.parametrize("variant", ["paper", "released"])
@pytest.mark.parametrize("K,n_blocks", [(1, 1), (2, 2), (3, 2), (3, 3), (4, 2)])
@pytest.mark.parametrize("b_sign", ["positive", "mixed"])
def test_sista_recurrence_gradcheck(variant, K, n_blocks, b_sign):
    inputs = _sista_inputs(K, n_blocks, b_sign, seed=10 * K + n_blocks)
    f = lambda *a: sista_rnn_recurrence(*a, n_layers=K, variant=variant)  # noqa: E731
    assert f(*inputs).grad_fn.name() == "SISTARecurrenceBackward"
    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("b_sign", ["positive", "negative", "mixed"])
def test_stacked_recurrence_gradcheck(K, b_sign):
    g = torch.Generator().manual_seed(K)
    T, B, H, M = 4, 2, 3, 2
    r = lambda *s, scale=0.5: (scale * torch.randn(*s, generator=g, dtype=F64)).requires_grad_()
    b = 0.1 + 0.2 * torch.rand(K, H, generator=g, dtype=F64)
    if b_sign == "negative":
        b = -b
    elif b_sign == "mixed":
        b[:, ::2] *= -1
    inputs = (r(T, B, M, scale=1.0), r(H, M), r(K, H, H), r(K - 1, H, H), b.requires_grad_(),
              r(K, B, H))
    assert stacked_rnn_recurrence(*inputs).grad_fn.name() == "StackedRecurrenceBackward"
    assert torch.autograd.gradcheck(stacked_rnn_recurrence, inputs)


@pytest.mark.parametrize("b", [0.3, 0.0, -0.2, [0.1, 0.5, 0.0, 0.2], [-0.1, -0.5, -0.3, -0.2],
                               [-0.1, 0.5, 0.0, 0.2]])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_soft_writer_is_the_references_soft_threshold_bit_for_bit(b, dtype):
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=dtype)
    z[0] = torch.tensor(b, dtype=dtype) if isinstance(b, list) else b    # |z| == b exactly
    z[1] = 0.0
    bt = torch.tensor(b, dtype=dtype)
    out = torch.empty_like(z)
    assert _soft_writer(bt)(z, out) is out
    assert torch.equal(out, _soft_values(z, bt))


def test_retained_graph_and_held_codes_are_never_overwritten():
    """The layer buffers are pooled: a buffer still used (a retained graph, codes the caller
    holds) must not be handed to the next call."""
    clear_scratch()
    inputs = _sista_inputs(3, 2, "positive", seed=1, T=6, B=3, N=5, M=4)
    f = lambda *a: sista_rnn_recurrence(*a, n_layers=3)  # noqa: E731
    held = f(*inputs)
    kept = held.detach().clone()
    loss = held.square().sum()
    first = torch.autograd.grad(loss, inputs, retain_graph=True)
    other = [(t.detach() * 1.5).requires_grad_() for t in inputs]
    for _ in range(3):                                   # more calls while `held` lives
        f(*other).sum().backward()
    assert torch.equal(held, kept)
    second = torch.autograd.grad(loss, inputs)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_unpooled_buffers_give_the_same_results(monkeypatch):
    """Above POOL_LIMIT_BYTES every buffer is allocated per call: same values, same gradients."""
    import sista_lib.fused as fused

    model = random_sista_rnn(3, "released", False, False, seed=4)
    x = torch.randn(6, 3, 6, dtype=F64, generator=torch.Generator().manual_seed(4))
    pooled = run(model, x, "fused", return_codes=True)
    monkeypatch.setattr(fused, "POOL_LIMIT_BYTES", 0)
    clear_scratch()
    unpooled = run(model, x, "fused", return_codes=True)
    assert not fused._SCRATCH.buffers and not any(fused._SCRATCH.recycled.values())
    assert_same_run(unpooled, pooled, 0.0)


def test_recurrence_argument_errors():
    x, W, V, S, b, h0 = (t.detach() for t in _sista_inputs(3, 2, "positive", seed=0))
    with pytest.raises(ValueError, match="variant must be 'paper' or 'released'"):
        sista_rnn_recurrence(x, W, V, S, b, h0, n_layers=3, variant="other")
    with pytest.raises(ValueError, match="n_layers must be an int >= 1"):
        sista_rnn_recurrence(x, W, V, S, b, h0, n_layers=0)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, M\)"):
        sista_rnn_recurrence(x[0], W, V, S, b, h0, n_layers=3)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, N\)"):
        sista_rnn_recurrence(x, W, V, S, b, h0[0], n_layers=3)
    with pytest.raises(ValueError, match=r"W must have shape \(n_blocks \* 3, 3\) with n_blocks "
                                         r"in \[2, 3\]"):
        sista_rnn_recurrence(x, torch.cat([W, W]), V, S, b, h0, n_layers=3)
    with pytest.raises(ValueError, match=r"V must have shape \(6, 2\)"):
        sista_rnn_recurrence(x, W, V[:, :1], S, b, h0, n_layers=3)
    with pytest.raises(ValueError, match=r"S must have shape \(2, 3, 3\)"):
        sista_rnn_recurrence(x, W, V, S[:1], b, h0, n_layers=3)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        sista_rnn_recurrence(x, W, V, S, b[:2], h0, n_layers=3)
    xs, Vs, Ws, Ss, hs = torch.zeros(4, 2, 2), torch.zeros(3, 2), torch.zeros(2, 3, 3), \
        torch.zeros(1, 3, 3), torch.zeros(2, 2, 3)
    with pytest.raises(ValueError, match=r"W must have shape \(K, H, H\)"):
        stacked_rnn_recurrence(xs, Vs, Ws[:, :2], Ss, torch.zeros(2, 3), hs)
    with pytest.raises(ValueError, match=r"S must have shape \(1, 3, 3\)"):
        stacked_rnn_recurrence(xs, Vs, Ws, Ws, torch.zeros(2, 3), hs)
    with pytest.raises(ValueError, match=r"b must have shape \(2, 3\)"):
        stacked_rnn_recurrence(xs, Vs, Ws, Ss, torch.zeros(3), hs)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 2, 3\)"):
        stacked_rnn_recurrence(xs, Vs, Ws, Ss, torch.zeros(2, 3), hs[:, :1])


# --- the models' implementation argument and their input errors ---------------------------

def _grad_fn_names(t):
    names, stack, seen = set(), [t.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(fn.name())
        stack.extend(f for f, _ in fn.next_functions)
    return names


def test_implementation_argument_is_validated():
    sista = random_sista_rnn(2, "paper", True, False)
    stacked = random_stacked_rnn(2, "positive")
    x6, x5 = torch.zeros(3, 2, 6, dtype=F64), torch.zeros(3, 2, 5, dtype=F64)
    for model, x in ((sista, x6), (stacked, x5)):
        assert model.implementation == "fused"
        with pytest.raises(ValueError, match="implementation must be 'fused' or 'reference', "
                                             "got 'autograd'"):
            model(x, implementation="autograd")
        model.implementation = "reference"
        assert not any("Recurrence" in n for n in _grad_fn_names(model(x)))
        model.implementation = 3
        with pytest.raises(ValueError, match="implementation must be 'fused' or 'reference'"):
            model(x)
    with pytest.raises(ValueError, match="got None"):
        check_implementation(None)


def test_fused_is_the_default_and_one_graph_node():
    sista = random_sista_rnn(3, "released", False, True)
    names = _grad_fn_names(sista(torch.zeros(7, 2, 6, dtype=F64)))
    assert "SISTARecurrenceBackward" in names
    assert not any("_SoftThreshold" in n for n in names)
    stacked = random_stacked_rnn(3, "mixed")
    names = _grad_fn_names(stacked(torch.zeros(7, 2, 5, dtype=F64)))
    assert "StackedRecurrenceBackward" in names
    assert not any("_SoftThreshold" in n for n in names)
    reference = _grad_fn_names(stacked(torch.zeros(7, 2, 5, dtype=F64),
                                       implementation="reference"))
    assert any("_SoftThreshold" in n for n in reference)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bad_input_gives_the_reference_errors(implementation):
    sista = random_sista_rnn(3, "paper", True, False)
    stacked = random_stacked_rnn(2, "positive")
    call = lambda model, *a, **k: model(*a, implementation=implementation, **k)  # noqa: E731
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        call(sista, torch.zeros(3, 6))
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 6\)"):
        call(sista, torch.zeros(3, 2, 5))
    with pytest.raises(ValueError, match="T >= 1 and B >= 1"):
        call(sista, torch.zeros(0, 2, 6))
    with pytest.raises(ValueError, match=r"h0 must have shape \(10,\) or \(2, 10\)"):
        call(sista, torch.zeros(3, 2, 6), torch.zeros(3, 10))
    with pytest.raises(TypeError, match="x must be a NumPy array or a torch tensor"):
        call(sista, [[[0.0] * 6]])
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 5\)"):
        call(stacked, torch.zeros(3, 2, 4))
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        call(stacked, torch.zeros(3, 5))


def test_functions_are_first_order_only():
    inputs = _sista_inputs(2, 2, "positive", seed=3)
    out = SISTARecurrence.apply(*inputs, 2, "paper")
    (grad_x,) = torch.autograd.grad(out.square().sum(), inputs[0], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad_x.sum().backward()

"""Tests of sista_lib.models: the SISTA-RNN is unfolded SISTA, its variants, the baselines."""

import warnings

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
from sista_lib.models import (
    LISTA,
    LSTMBaseline,
    MODEL_NAMES,
    SISTARNN,
    StackedRNN,
    build_model,
    count_parameters,
)
from sista_lib.sista import sista, sista_step_size, sista_weights
from sista_lib.sparse import ista

F64 = torch.float64


def soft(z, b):
    return np.sign(z) * np.maximum(np.abs(z) - b, 0.0)


def random_problem(seed, M=6, N=10, unit_alpha=False):
    """Random A, orthonormal D, F near I, and SISTA parameters with alpha > L/2.

    With ``unit_alpha`` the returned alpha is 1 and A, lambda2 are scaled so that L <= 1.
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    D, _ = np.linalg.qr(rng.standard_normal((N, N)))
    F = np.eye(N) + 0.2 * rng.standard_normal((N, N)) / np.sqrt(N)
    lam1, lam2 = rng.uniform(0.05, 0.5), rng.uniform(0.2, 2.0)
    if unit_alpha:
        lam2 = lam2 / 4
        A = A * np.sqrt(0.5) / np.linalg.norm(A, 2)
        assert sista_step_size(A, D, lam2) <= 1.0
        return rng, A, D, F, 1.0, lam1, lam2
    alpha = sista_step_size(A, D, lam2) * rng.uniform(0.8, 1.5)
    return rng, A, D, F, alpha, lam1, lam2


def released_by_hand(x, A, D, F, Dinv, alpha, lam1, lam2, K, h0, layer1_reads_top=False):
    """The released recursion written from SISTARNN's docstring, in NumPy (batch as rows)."""
    N = D.shape[1]
    P = Dinv @ F @ D
    S = np.eye(N) - D.T @ (A.T @ A + lam2 * np.eye(N)) @ D / alpha
    V = D.T @ A.T
    W1, Wk, b = S @ P + (lam2 / alpha) * P, (lam2 / alpha) * P, lam1 / alpha
    B = x.shape[1]
    h1 = np.tile(h0, (B, 1))
    hhat = h1.copy()
    out = []
    for x_t in x:
        h1 = soft((hhat if layer1_reads_top else h1) @ W1.T + x_t @ V.T, b)
        h = h1
        for _ in range(1, K):
            h = soft(hhat @ Wk.T + h @ S.T + x_t @ V.T, b)
        hhat = h
        if K == 1:
            h1 = h
        out.append(h @ D.T)
    return np.stack(out)


# --- the paper variant is exactly K SISTA iterations --------------------------------------

@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("T,B", [(1, 1), (7, 4)])
@pytest.mark.parametrize("nonzero_h0", [False, True])
def test_paper_variant_equals_sista(K, T, B, nonzero_h0):
    rng, A, D, F, alpha, lam1, lam2 = random_problem(K + 10 * T + 100 * nonzero_h0)
    h0 = rng.standard_normal(10) if nonzero_h0 else None
    x = rng.standard_normal((T, B, 6))
    model = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=K, h0=h0, dtype=F64)
    yhat, codes = model(x, return_codes=True)
    h = sista(x, A, D, F, alpha, lam1, lam2, n_iter=K, h0=h0)
    assert isinstance(yhat, np.ndarray) and yhat.shape == (T, B, 10)
    assert np.abs(yhat - h @ D.T).max() <= 1e-10
    assert np.abs(codes - h).max() <= 1e-10
    assert np.abs(h).max() > 0.1  # the comparison is not between two zero sequences


def test_paper_init_is_untrained_sista_at_the_papers_size():
    A, D = paper_measurement_matrix(), wavelet_dictionary(128)
    x = np.random.default_rng(0).standard_normal((16, 3, 32))
    model = SISTARNN.paper_init(A, D, dtype=F64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = sista(x, A, D, np.eye(128), 1.0, 0.5, 1.0, n_iter=3)
    assert np.abs(model(x) - h @ D.T).max() <= 1e-10
    p = model.sista_parameters()
    assert [p[k].item() for k in ("alpha", "lam1", "lam2")] == [1.0, 0.5, 1.0]
    assert torch.equal(p["F"], torch.eye(128, dtype=F64)) and not p["h0"].any()


def test_h0_override_continues_a_sequence():
    rng, A, D, F, alpha, lam1, lam2 = random_problem(3)
    x = torch.from_numpy(rng.standard_normal((8, 2, 6)))
    model = SISTARNN(A, D, F, alpha, lam1, lam2, dtype=F64)
    y_all, h_all = model(x, return_codes=True)
    y_second = model(x[4:], h0=h_all[3])
    assert torch.allclose(y_second, y_all[4:], atol=1e-12, rtol=0)


def test_rnn_weights_match_sista_weights_and_the_formulas():
    _, A, D, F, alpha, lam1, lam2 = random_problem(5)
    w = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=3, dtype=F64).rnn_weights()
    ref = sista_weights(A, D, F, alpha, lam1, lam2)
    for mine, theirs in [(w.W[0], ref["W1"]), (w.W[1], ref["Wk"]), (w.W[2], ref["Wk"]),
                         (w.S[0], ref["S"]), (w.V[0], ref["V"]), (w.P[0], ref["P"])]:
        np.testing.assert_allclose(mine.detach().numpy(), theirs, atol=1e-12, rtol=0)
    assert w.b[2].item() == pytest.approx(ref["b"], abs=1e-15)
    assert len(w.W) == len(w.V) == len(w.b) == 3 and len(w.S) == 2
    np.testing.assert_array_equal(w.U.detach().numpy(), D)
    # W1 = ((alpha + lam2)/alpha) P - (1/alpha) D^T (A^T A + lam2 I) D P, the paper's form
    P = D.T @ F @ D
    W1 = (alpha + lam2) / alpha * P - D.T @ (A.T @ A + lam2 * np.eye(10)) @ D @ P / alpha
    np.testing.assert_allclose(w.W[0].detach().numpy(), W1, atol=1e-12, rtol=0)


# --- gradients --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["paper", "released"])
@pytest.mark.parametrize("tie_layers", [True, False])
@pytest.mark.parametrize("positive", [False, True])
def test_gradients_reach_every_interpretable_parameter(variant, tie_layers, positive):
    rng, A, D, F, alpha, lam1, lam2 = random_problem(11)
    # with an orthonormal D, lambda_2 cancels from W_1 = S P + (lambda_2/alpha) P (D^T D = I), so
    # layer 1's copy of it would get a zero gradient: a trained D is not orthonormal
    D = D + 0.1 * rng.standard_normal(D.shape) / np.sqrt(D.shape[0])
    model = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=3, variant=variant,
                     tie_layers=tie_layers, positive=positive, dtype=F64)
    x = torch.from_numpy(rng.standard_normal((5, 3, 6)))
    y = torch.from_numpy(rng.standard_normal((5, 3, 10)))
    ((model(x) - y) ** 2).mean().backward()
    names = {n for n, _ in model.named_parameters()}
    scalars = {("raw_" if positive else "") + s for s in ("alpha", "lam1", "lam2")}
    expected = {"A", "D", "F", "h0"} | scalars | ({"Dinv"} if variant == "released" else set())
    assert names == expected
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if tie_layers:
            assert p.grad.abs().max() > 0, name
        elif name != "h0":  # every layer's copy gets its own gradient
            per_layer = p.grad.reshape(3, -1).abs().amax(dim=1)
            assert (per_layer > 0).all(), name


# --- untied layers --------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["paper", "released"])
@pytest.mark.parametrize("K", [1, 3])
def test_untied_with_identical_copies_equals_tied(variant, K):
    rng, A, D, F, alpha, lam1, lam2 = random_problem(21)
    x = rng.standard_normal((6, 3, 6))
    h0 = rng.standard_normal(10)
    kw = dict(n_layers=K, variant=variant, h0=h0, dtype=F64)
    tied = SISTARNN(A, D, F, alpha, lam1, lam2, tie_layers=True, **kw)
    untied = SISTARNN(A, D, F, alpha, lam1, lam2, tie_layers=False, **kw)
    assert untied.A.shape == (K, 6, 10) and untied.alpha.shape == (K,)
    assert np.abs(tied(x) - untied(x)).max() <= 1e-12


def test_untied_layers_are_sista_with_per_iteration_parameters():
    """Layer k is one SISTA iteration written with theta^(k); h^(0) = P^(1) hhat_{t-1}."""
    K = 3
    problems = [random_problem(30 + k) for k in range(K)]
    rng = problems[0][0]
    A, D, F = (np.stack([p[i] for p in problems]) for i in (1, 2, 3))
    alpha, lam1, lam2 = ([p[i] for p in problems] for i in (4, 5, 6))
    h0 = rng.standard_normal(10)
    x = rng.standard_normal((5, 2, 6))
    model = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=K, tie_layers=False, h0=h0, dtype=F64)
    N, eye = 10, np.eye(10)
    P = [D[k].T @ F[k] @ D[k] for k in range(K)]
    S = [eye - D[k].T @ (A[k].T @ A[k] + lam2[k] * eye) @ D[k] / alpha[k] for k in range(K)]
    V = [D[k].T @ A[k].T / alpha[k] for k in range(K)]
    hhat = np.tile(h0, (2, 1))
    expected = []
    for x_t in x:
        h = hhat @ P[0].T
        for k in range(K):
            h = soft(h @ S[k].T + x_t @ V[k].T + lam2[k] / alpha[k] * hhat @ P[k].T,
                     lam1[k] / alpha[k])
        hhat = h
        expected.append(h @ D[K - 1].T)
    assert np.abs(model(x) - np.stack(expected)).max() <= 1e-10
    tied_reference = SISTARNN(A[0], D[0], F[0], alpha[0], lam1[0], lam2[0], n_layers=K,
                              h0=h0, dtype=F64)
    assert np.abs(model(x) - tied_reference(x)).max() > 1e-3  # the copies really differ
    assert count_parameters(model) == K * (2 * N * N + 6 * N + 3) + N


# --- the released-code variant ------------------------------------------------------------

def test_released_equals_paper_for_one_layer_unit_alpha_and_dinv_transpose():
    rng, A, D, F, _, lam1, lam2 = random_problem(41, unit_alpha=True)
    x = rng.standard_normal((9, 3, 6))
    h0 = rng.standard_normal(10)
    paper = SISTARNN(A, D, F, 1.0, lam1, lam2, n_layers=1, h0=h0, dtype=F64)
    released = SISTARNN(A, D, F, 1.0, lam1, lam2, n_layers=1, h0=h0, variant="released",
                        dtype=F64)
    torch.testing.assert_close(released.Dinv, released.D.T, rtol=0, atol=0)
    assert np.abs(paper(x) - released(x)).max() <= 1e-12


@pytest.mark.parametrize("K", [1, 2, 3])
def test_released_variant_is_the_documented_recursion(K):
    rng, A, D, F, alpha, lam1, lam2 = random_problem(50 + K)
    Dinv = D.T + 0.05 * rng.standard_normal((10, 10))   # a trained D^{-1} drifts from D^T
    h0 = rng.standard_normal(10)
    x = rng.standard_normal((8, 3, 6))
    model = SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=K, variant="released", h0=h0,
                     Dinv=Dinv, dtype=F64)
    expected = released_by_hand(x, A, D, F, Dinv, alpha, lam1, lam2, K, h0)
    assert np.abs(model(x) - expected).max() <= 1e-10
    assert np.abs(expected).max() > 0.1


@pytest.mark.parametrize("K", [2, 3])
def test_released_differs_from_paper_only_by_layer_one_recurrence_at_unit_alpha(K):
    rng, A, D, F, _, lam1, lam2 = random_problem(60 + K, unit_alpha=True)
    h0 = rng.standard_normal(10)
    x = rng.standard_normal((8, 3, 6))
    kw = dict(n_layers=K, h0=h0, dtype=F64)
    paper = SISTARNN(A, D, F, 1.0, lam1, lam2, **kw)(x)
    released = SISTARNN(A, D, F, 1.0, lam1, lam2, variant="released", **kw)(x)
    assert np.abs(paper - released).max() > 1e-3
    # Feeding hhat_{t-1} to layer 1 in the hand-written released recursion gives the paper.
    top = released_by_hand(x, A, D, F, D.T, 1.0, lam1, lam2, K, h0, layer1_reads_top=True)
    assert np.abs(top - paper).max() <= 1e-10


def test_released_input_weight_has_no_one_over_alpha():
    _, A, D, F, alpha, lam1, lam2 = random_problem(70)
    paper = SISTARNN(A, D, F, alpha, lam1, lam2, dtype=F64).rnn_weights()
    released = SISTARNN(A, D, F, alpha, lam1, lam2, variant="released", dtype=F64).rnn_weights()
    torch.testing.assert_close(released.V[0], paper.V[0] * alpha, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(released.S[0], paper.S[0], rtol=0, atol=0)
    # Dinv initialised to D^T: same P, hence the same W_k
    torch.testing.assert_close(released.W[0], paper.W[0], rtol=1e-12, atol=1e-12)


# --- positivity -------------------------------------------------------------------------

def test_positive_reparametrisation_keeps_values_and_outputs():
    rng, A, D, F, alpha, lam1, lam2 = random_problem(80)
    x = rng.standard_normal((4, 2, 6))
    plain = SISTARNN(A, D, F, alpha, lam1, lam2, dtype=F64)
    pos = SISTARNN(A, D, F, alpha, lam1, lam2, positive=True, dtype=F64)
    p = pos.sista_parameters()
    for name, value in (("alpha", alpha), ("lam1", lam1), ("lam2", lam2)):
        assert p[name].item() == pytest.approx(value, rel=1e-12)
    assert np.abs(plain(x) - pos(x)).max() <= 1e-12
    with torch.no_grad():
        pos.raw_lam1.fill_(-50.0)  # any raw value still gives lambda1 > 0
    assert pos.sista_parameters()["lam1"].item() > 0
    with pytest.raises(ValueError, match="lam1 must be > 0"):
        SISTARNN(A, D, F, alpha, 0.0, lam2, positive=True)


# --- parameter counts -------------------------------------------------------------------

def test_parameter_counts_follow_the_architecture():
    M, N, H = 32, 128, 128
    A, D = paper_measurement_matrix(), wavelet_dictionary(N)
    counts = {name: count_parameters(build_model(name, A, D)) for name in MODEL_NAMES}
    assert counts["sista_rnn"] == 2 * N * N + M * N + N + 3
    assert counts["sista_rnn_released"] == 3 * N * N + M * N + N + 3
    K = 3
    assert counts["stacked_rnn"] == H * M + K * H * H + (K - 1) * H * H + K * H + N * H + N + K * H
    L = 4
    lstm = 4 * (M * H + H * H + 2 * H) + (L - 1) * 4 * (2 * H * H + 2 * H) + N * H + N
    assert counts["lstm"] == lstm
    # The paper's ~494k is Keras' LSTM, which has one bias per gate instead of torch's two.
    assert round((counts["lstm"] - L * 4 * H) / 1000) == 494
    # The released count (~53.5k in the reference notes) includes a complex h0 (2N entries).
    assert round((counts["sista_rnn_released"] + N) / 100) == 535
    assert count_parameters(build_model("sista_rnn", A, D), trainable_only=False) == counts[
        "sista_rnn"]


# --- baselines ------------------------------------------------------------------------

def test_stacked_rnn_is_the_documented_recursion_and_seeded():
    model = StackedRNN(5, 7, 4, n_layers=3, seed=3, dtype=F64)
    with torch.no_grad():
        model.b.copy_(torch.rand(3, 7, dtype=F64))
        model.h0.copy_(torch.randn(3, 7, dtype=F64))
        model.c.copy_(torch.randn(4, dtype=F64))
    x = np.random.default_rng(1).standard_normal((6, 2, 5))
    V, W, S, b, U, c, h0 = (getattr(model, n).detach().numpy()
                            for n in ("V", "W", "S", "b", "U", "c", "h0"))
    h = [np.tile(h0[k], (2, 1)) for k in range(3)]
    expected = []
    for x_t in x:
        h[0] = soft(h[0] @ W[0].T + x_t @ V.T, b[0])
        for k in (1, 2):
            h[k] = soft(h[k] @ W[k].T + h[k - 1] @ S[k - 1].T, b[k])
        expected.append(h[2] @ U.T + c)
    out = model(x)
    assert isinstance(out, np.ndarray) and out.shape == (6, 2, 4)
    assert np.abs(out - np.stack(expected)).max() <= 1e-12
    same, other = StackedRNN(5, 7, 4, seed=3), StackedRNN(5, 7, 4, seed=4)
    assert torch.equal(same.W, StackedRNN(5, 7, 4, seed=3).W)
    assert not torch.equal(same.W, other.W)


def test_stacked_rnn_initial_scales():
    model = StackedRNN(32, 128, 128, seed=0)
    assert model.V.std().item() == pytest.approx(1 / np.sqrt(32), rel=0.05)
    assert model.S.std().item() == pytest.approx(1 / np.sqrt(128), rel=0.05)
    assert model.W.std().item() == pytest.approx(0.5 / np.sqrt(128), rel=0.05)
    radius = torch.linalg.eigvals(model.W[0].double()).abs().max().item()
    assert 0.3 < radius < 0.7  # a stable recursion at the start (circular law: about 0.5)
    assert torch.all(model.b == 0.5) and not model.c.any() and not model.h0.any()


def test_lstm_baseline_shape_seed_and_forget_bias():
    model = LSTMBaseline(32, 16, 8, n_layers=2, seed=1)
    x = torch.randn(5, 3, 32)
    y = model(x)
    assert y.shape == (5, 3, 8) and y.dtype == torch.float32
    for k in range(2):
        forget = (getattr(model.lstm, f"bias_ih_l{k}") + getattr(model.lstm, f"bias_hh_l{k}"))
        assert torch.all(forget[16:32] == 1.0)
    state = torch.random.get_rng_state()
    twin = LSTMBaseline(32, 16, 8, n_layers=2, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # global generator untouched
    assert torch.equal(twin(x), y)
    y64 = LSTMBaseline(32, 16, 8, dtype=F64)(x.double())
    assert y64.dtype == F64


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_build_model_output_shapes_and_kinds(name):
    A, D = paper_measurement_matrix(8, 16), wavelet_dictionary(16, "haar", level=2)
    model = build_model(name, A, D)
    x = np.random.default_rng(0).standard_normal((4, 3, 8)).astype(np.float32)
    y = model(x)
    assert isinstance(y, np.ndarray) and y.shape == (4, 3, 16)
    yt = model(torch.from_numpy(x))
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float32
    expected = {"sista_rnn": SISTARNN, "sista_rnn_released": SISTARNN,
                "stacked_rnn": StackedRNN, "lstm": LSTMBaseline}[name]
    assert type(model) is expected
    if expected is SISTARNN:
        assert model.variant == ("released" if name.endswith("released") else "paper")


# --- LISTA ---------------------------------------------------------------------------------

@pytest.mark.parametrize("K", [1, 4])
def test_lista_initialised_at_ista_is_ista(K):
    Phi = paper_measurement_matrix() @ wavelet_dictionary(128)
    y = np.random.default_rng(2).standard_normal((5, 32))
    model = LISTA.from_ista(Phi, 0.1, n_layers=K, dtype=F64)
    h = model(y)
    assert isinstance(h, np.ndarray) and h.shape == (5, 128)
    assert np.abs(h - ista(Phi, y, 0.1, n_iter=K)).max() <= 1e-12
    assert np.abs(h).max() > 0.01


def test_lista_trains_its_weights():
    Phi = np.random.default_rng(0).standard_normal((8, 16)) / np.sqrt(8)
    model = LISTA.from_ista(Phi, 0.1, n_layers=2)
    out = model(torch.randn(4, 8))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in model.parameters())
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., 8\)"):
        model(torch.randn(4, 9))


# --- the forward pass does no avoidable work -------------------------------------------------

def _matmuls(model, T):
    x = torch.randn(T, 2, model.input_size)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(x)
    names = [e.name for e in prof.events()]
    return sum(n in ("aten::mm", "aten::addmm", "aten::bmm") for n in names), names


@pytest.mark.parametrize("variant,tie_layers,per_step", [
    ("paper", True, 3), ("paper", False, 3), ("released", True, 4), ("released", False, 4)])
def test_one_matmul_per_layer_per_step(variant, tie_layers, per_step):
    """K = 3: all recurrent terms in one matmul per step (two for released), plus one per S."""
    A, D = paper_measurement_matrix(8, 16), wavelet_dictionary(16, "haar", level=2)
    model = SISTARNN.paper_init(A, D, variant=variant, tie_layers=tie_layers)
    short, _ = _matmuls(model, 2)
    long, names = _matmuls(model, 7)
    assert (long - short) == 5 * per_step
    assert names.count("aten::linalg_inv") == 0


# --- errors ------------------------------------------------------------------------------

def test_bad_arguments_raise_clear_errors():
    _, A, D, F, alpha, lam1, lam2 = random_problem(90)
    model = SISTARNN(A, D, F, alpha, lam1, lam2)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        model(np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 6\)"):
        model(np.zeros((4, 2, 5)))
    with pytest.raises(ValueError, match="T >= 1 and B >= 1"):
        model(np.zeros((0, 2, 6)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(10,\) or \(2, 10\)"):
        model(np.zeros((4, 2, 6)), h0=np.zeros((3, 10)))
    with pytest.raises(TypeError, match="x must be a NumPy array or a torch tensor"):
        model([[[0.0] * 6]])
    with pytest.raises(ValueError, match=r"A must have shape \(M, N\)"):
        SISTARNN(A[0], D, F, alpha, lam1, lam2)
    with pytest.raises(ValueError, match=r"D must have shape \(10, 10\)"):
        SISTARNN(A, D[:, :9], F, alpha, lam1, lam2)
    with pytest.raises(ValueError, match=r"F must have shape \(10, 10\)"):
        SISTARNN(A, D, F[:9], alpha, lam1, lam2)
    with pytest.raises(ValueError, match=r"h0 must have shape \(10,\)"):
        SISTARNN(A, D, F, alpha, lam1, lam2, h0=np.zeros(9))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        SISTARNN(A, D, F, 0.0, lam1, lam2)
    with pytest.raises(ValueError, match="lam2 must be >= 0"):
        SISTARNN(A, D, F, alpha, lam1, -1.0)
    with pytest.raises(ValueError, match="variant must be 'paper' or 'released'"):
        SISTARNN(A, D, F, alpha, lam1, lam2, variant="theano")
    with pytest.raises(ValueError, match="Dinv is a parameter of the released variant"):
        SISTARNN(A, D, F, alpha, lam1, lam2, Dinv=D.T)
    with pytest.raises(ValueError, match=r"Dinv must have shape \(10, 10\)"):
        SISTARNN(A, D, F, alpha, lam1, lam2, variant="released", Dinv=D[:3])
    with pytest.raises(ValueError, match="n_layers must be >= 1"):
        SISTARNN(A, D, F, alpha, lam1, lam2, n_layers=0)
    with pytest.raises(ValueError, match="alpha must be a scalar or have n_layers=3 entries"):
        SISTARNN(A, D, F, [1.0, 2.0], lam1, lam2, tie_layers=False)
    with pytest.raises(ValueError, match=r"A must have shape \(3, 6, 10\)"):
        SISTARNN(np.stack([A, A]), D, F, alpha, lam1, lam2, tie_layers=False)
    with pytest.raises(TypeError, match="dtype must be torch.float32 or torch.float64"):
        SISTARNN(A, D, F, alpha, lam1, lam2, dtype=torch.float16)
    with pytest.raises(ValueError, match="F must be finite|F contains NaN"):
        SISTARNN(A, D, np.full((10, 10), np.nan), alpha, lam1, lam2)
    with pytest.raises(ValueError, match="name must be one of"):
        build_model("gru", A, D)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters(A)
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 5\)"):
        StackedRNN(5, 7, 4)(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        LSTMBaseline(5, 7, 4)(torch.zeros(3, 5))


# --- the authors' initialisations ---------------------------------------------------------

def test_stacked_rnn_authors_init_is_the_released_xavier_draw():
    model = StackedRNN(32, 128, 128, n_layers=3, seed=0, init="authors")
    assert model.V.std().item() == pytest.approx(np.sqrt(2 / (128 * 32)), rel=0.05)
    assert model.U.std().item() == pytest.approx(np.sqrt(2 / (128 * 128)), rel=0.05)
    assert model.W[0].std().item() == pytest.approx(np.sqrt(2 / 128 ** 2), rel=0.05)
    assert model.b.mean().abs().item() < 0.03 and model.b.std().item() == pytest.approx(
        0.125, rel=0.1)
    # layers 2..K share one draw of W and of S; layer 1's W is its own
    assert torch.equal(model.W[1], model.W[2]) and not torch.equal(model.W[0], model.W[1])
    assert torch.equal(model.S[0], model.S[1])
    assert not model.c.any() and not model.h0.any()
    again = StackedRNN(32, 128, 128, n_layers=3, seed=0, init="authors")
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
    with pytest.raises(ValueError, match="init must be one of"):
        StackedRNN(init="xavier")


def test_lstm_keras1_init_matches_keras_and_counts_its_parameters():
    M, H, N, L = 32, 128, 128, 4
    model = LSTMBaseline(M, H, N, n_layers=L, seed=2, init="keras1")
    assert count_parameters(model) == 4 * (M * H + H * H + H) + (L - 1) * 4 * (
        2 * H * H + H) + N * H + N
    for k in range(L):
        w_ih = getattr(model.lstm, f"weight_ih_l{k}").double()
        w_hh = getattr(model.lstm, f"weight_hh_l{k}").double()
        n_in = M if k == 0 else H
        assert w_ih.abs().max().item() <= np.sqrt(6 / (n_in + H)) + 1e-7
        for gate in range(4):   # each gate's recurrent block is 1.1 x an orthogonal matrix
            block = w_hh[gate * H:(gate + 1) * H]
            torch.testing.assert_close(block @ block.T, 1.21 * torch.eye(H, dtype=torch.float64),
                                       atol=1e-5, rtol=0)
        b_ih, b_hh = getattr(model.lstm, f"bias_ih_l{k}"), getattr(model.lstm, f"bias_hh_l{k}")
        assert torch.equal(b_ih[H:2 * H], torch.ones(H)) and not b_ih[:H].any()
        assert not b_hh.any() and not b_hh.requires_grad
    assert not model.readout.bias.any()


def test_hard_sigmoid_lstm_is_the_keras_cell_written_out():
    torch.manual_seed(0)
    model = LSTMBaseline(3, 4, 2, n_layers=2, seed=1, init="keras1", gate="hard_sigmoid",
                         dtype=F64)
    x = torch.randn(5, 2, 3, dtype=F64)

    def hs(z):
        return np.clip(0.2 * z + 0.5, 0.0, 1.0)

    out = x.numpy()
    for k in range(2):
        w_ih, w_hh, b_ih, b_hh = (getattr(model.lstm, f"{n}_l{k}").detach().numpy()
                                  for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h, c, hs_out = np.zeros((2, 4)), np.zeros((2, 4)), []
        for t in range(5):
            z = out[t] @ w_ih.T + h @ w_hh.T + b_ih + b_hh
            i, f, g, o = np.split(z, 4, axis=1)
            c = hs(f) * c + hs(i) * np.tanh(g)
            h = hs(o) * np.tanh(c)
            hs_out.append(h)
        out = np.stack(hs_out)
    expected = out @ model.readout.weight.detach().numpy().T + model.readout.bias.detach().numpy()
    np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="gate must be one of"):
        LSTMBaseline(gate="relu")

"""Tests of sista_lib.sista: SISTA is ISTA on the augmented Lasso, time step by time step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
from sista_lib.sista import (
    augmented_lasso,
    sista,
    sista_objective,
    sista_step_size,
    sista_weights,
)
from sista_lib.sparse import StepSizeWarning, ista, lasso_objective

T, B, M, N = 6, 4, 12, 32

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def problem():
    """A small problem with a non-trivial F and sequences that follow it."""
    rng = np.random.default_rng(7)
    A = rng.standard_normal((M, N)) / (3 * np.sqrt(M))
    D = wavelet_dictionary(N, "db2", level=2)
    F = np.eye(N) + 0.05 * rng.standard_normal((N, N))
    h = np.zeros((T, B, N))
    h[0] = rng.standard_normal((B, N)) * (rng.random((B, N)) < 0.2)
    for t in range(1, T):
        h[t] = h[t - 1] @ (D.T @ F @ D).T
    y = np.einsum("nk,tbk->tbn", D, h) + 0.01 * rng.standard_normal((T, B, N))
    x = np.einsum("mn,tbn->tbm", A, y)
    return x, A, D, F


def _predict(D, F, h_prev):
    return h_prev @ (D.T @ F @ D).T


def test_a_negative_lam2_is_refused_unless_a_nonconvex_objective_is_allowed(problem):
    x, A, D, F = problem
    with pytest.raises(ValueError, match=r"lam2 must be >= 0 .*allow_nonconvex=True.*got -0.1"):
        sista(x, A, D, F, 1.0, 0.05, -0.1)
    with pytest.raises(ValueError, match=r"lam2 must be >= 0 .*allow_nonconvex=True"):
        sista_step_size(A, D, -0.1)
    with pytest.raises(TypeError, match="allow_nonconvex"):
        sista(x, A, D, F, 1.0, 0.05, -0.1, allow_nonconvex="yes")
    # below 0 the Hessian D^T (A^T A + lam2 I) D is indefinite (M < N): L is its largest |eigenvalue|
    mu = np.linalg.eigvalsh(D.T @ (A.T @ A - 0.1 * np.eye(N)) @ D)
    assert mu.min() < 0 < mu.max()
    L = sista_step_size(A, D, -0.1, allow_nonconvex=True)
    assert L == pytest.approx(np.abs(mu).max(), rel=1e-12)
    assert sista_step_size(A, D, 0.7, allow_nonconvex=True) == sista_step_size(A, D, 0.7)


def test_with_a_negative_lam2_sista_still_iterates_its_recursion(problem):
    x, A, D, F = problem
    lam1, lam2 = 0.05, -0.1
    alpha = 1.1 * sista_step_size(A, D, lam2, allow_nonconvex=True)
    h = sista(x, A, D, F, alpha, lam1, lam2, n_iter=2, allow_nonconvex=True)
    S = np.eye(N) - D.T @ (A.T @ A + lam2 * np.eye(N)) @ D / alpha
    V, P = D.T @ A.T / alpha, D.T @ F @ D
    soft = lambda z: np.sign(z) * np.maximum(np.abs(z) - lam1 / alpha, 0)
    h_prev = np.zeros((B, N))
    for t in range(T):
        code = h_prev @ P.T
        for _ in range(2):
            code = soft(code @ S.T + x[t] @ V.T + (lam2 / alpha) * h_prev @ P.T)
        np.testing.assert_allclose(h[t], code, rtol=0, atol=1e-12)
        h_prev = code


# ------------------------------------------------------------------------------------------
# the defining identity: SISTA at time t = ISTA on the augmented Lasso
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_iter", [1, 3, 10])
def test_each_time_step_is_ista_on_the_augmented_lasso(problem, n_iter):
    x, A, D, F = problem
    lam1, lam2 = 0.05, 0.7
    alpha = 1.1 * sista_step_size(A, D, lam2)
    h0 = np.random.default_rng(1).standard_normal((B, N))
    h = sista(x, A, D, F, alpha, lam1, lam2, n_iter=n_iter, h0=h0)
    h_prev = h0
    for t in range(T):
        Phi_bar, x_bar = augmented_lasso(A, D, F, lam2, x[t], h_prev)
        expected = ista(Phi_bar, x_bar, lam1, n_iter=n_iter, step=1 / alpha,
                        h0=_predict(D, F, h_prev))
        np.testing.assert_allclose(h[t], expected, rtol=0, atol=1e-10)
        h_prev = h[t]


def test_lam2_zero_is_per_column_ista_warm_started(problem):
    x, A, D, F = problem
    lam1 = 0.05
    alpha = sista_step_size(A, D, 0.0)
    h = sista(x, A, D, F, alpha, lam1, 0.0, n_iter=4)
    h_prev = np.zeros((B, N))
    for t in range(T):
        expected = ista(A @ D, x[t], lam1, n_iter=4, step=1 / alpha, h0=_predict(D, F, h_prev))
        np.testing.assert_allclose(h[t], expected, rtol=0, atol=1e-10)
        h_prev = h[t]


def test_lam2_zero_identity_dynamics_warm_starts_from_previous_estimate():
    rng = np.random.default_rng(3)
    A = paper_measurement_matrix(8, 16, seed=3)
    D = wavelet_dictionary(16, "haar", level=2)
    x = rng.standard_normal((5, 2, 8))
    alpha = sista_step_size(A, D)
    h = sista(x, A, D, np.eye(16), alpha, 0.1, 0.0, n_iter=2)
    expected = ista(A @ D, x[3], 0.1, n_iter=2, step=1 / alpha, h0=h[2])
    np.testing.assert_allclose(h[3], expected, rtol=0, atol=1e-10)


def test_objective_is_non_increasing_within_a_time_step(problem):
    x, A, D, F = problem
    lam1, lam2 = 0.05, 1.0
    alpha = sista_step_size(A, D, lam2)
    _, history = sista(x, A, D, F, alpha, lam1, lam2, n_iter=20, return_history=True)
    obj = history["objective"]
    assert obj.shape == (21, T, B)
    assert np.all(np.diff(obj, axis=0) <= 1e-12 * np.abs(obj[:-1]))
    assert np.all(obj[-1] < obj[0])  # and it does decrease
    np.testing.assert_array_equal(history["n_iter"], np.full(T, 20))


def test_history_matches_sista_objective(problem):
    x, A, D, F = problem
    h, history = sista(x, A, D, F, 3.0, 0.05, 0.5, n_iter=3, return_history=True)
    h_prev = np.concatenate([np.zeros((1, B, N)), h[:-1]])
    np.testing.assert_allclose(
        history["objective"][-1], sista_objective(x, A, D, F, 0.05, 0.5, h, h_prev), rtol=1e-12
    )


def test_converged_sista_reaches_the_augmented_lasso_optimum(problem):
    from sklearn.linear_model import Lasso

    x, A, D, F = problem
    lam1, lam2 = 0.05, 0.5
    alpha = sista_step_size(A, D, lam2)
    h, history = sista(x, A, D, F, alpha, lam1, lam2, tol=1e-13, max_iter=20000,
                       return_history=True)
    assert history["n_iter"].max() < 20000  # it stopped on the tolerance
    h_prev = np.zeros((B, N))
    for t in range(T):
        Phi_bar, x_bar = augmented_lasso(A, D, F, lam2, x[t], h_prev)
        for b in range(B):
            ref = Lasso(alpha=lam1 / Phi_bar.shape[0], fit_intercept=False, tol=1e-14,
                        max_iter=100_000).fit(Phi_bar, x_bar[b]).coef_
            np.testing.assert_allclose(h[t, b], ref, rtol=0, atol=1e-6)
            assert lasso_objective(Phi_bar, x_bar[b], h[t, b], lam1) <= (
                lasso_objective(Phi_bar, x_bar[b], ref, lam1) + 1e-10
            )
        h_prev = h[t]


def test_tol_stops_when_the_relative_change_is_small(problem):
    x, A, D, F = problem
    tol = 1e-4
    _, history = sista(x, A, D, F, sista_step_size(A, D, 1.0), 0.05, 1.0, tol=tol,
                       return_history=True)
    obj, counts = history["objective"], history["n_iter"]
    assert obj.shape[0] == counts.max() + 1
    for t in range(T):
        k = counts[t]
        change = np.abs(obj[k - 1, t] - obj[k, t]) / np.abs(obj[k - 1, t])
        assert np.all(change < tol)
        if k > 1:  # it did not stop one iteration earlier
            change = np.abs(obj[k - 2, t] - obj[k - 1, t]) / np.abs(obj[k - 2, t])
            assert np.any(change >= tol)
        np.testing.assert_array_equal(obj[k:, t], np.broadcast_to(obj[k, t], obj[k:, t].shape))


def test_max_iter_caps_converged_sista(problem):
    x, A, D, F = problem
    _, history = sista(x, A, D, F, sista_step_size(A, D, 0.1), 0.01, 0.1, tol=1e-15,
                       max_iter=7, return_history=True)
    assert history["n_iter"].max() == 7


def test_zero_iterations_return_the_prediction(problem):
    x, A, D, F = problem
    h0 = np.random.default_rng(2).standard_normal((B, N))
    h = sista(x, A, D, F, 2.0, 0.1, 1.0, n_iter=0, h0=h0)
    expected = h0
    for t in range(T):
        expected = _predict(D, F, expected)
        np.testing.assert_allclose(h[t], expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------
def test_step_size_orthonormal_dictionary_is_norm_of_A_plus_lam2():
    A = paper_measurement_matrix(32, 128, seed=0)
    D = wavelet_dictionary(128)
    assert sista_step_size(A, D, 1.0) == pytest.approx(np.linalg.norm(A, 2) ** 2 + 1.0, rel=1e-12)


def test_step_size_general_dictionary_is_largest_eigenvalue():
    rng = np.random.default_rng(0)
    A, D = rng.standard_normal((5, 9)), rng.standard_normal((9, 9))
    G = D.T @ (A.T @ A + 0.3 * np.eye(9)) @ D
    assert sista_step_size(A, D, 0.3) == pytest.approx(np.linalg.eigvalsh(G).max(), rel=1e-10)


def test_sista_objective_equals_the_augmented_lasso_objective(problem):
    x, A, D, F = problem
    rng = np.random.default_rng(5)
    h, h_prev = rng.standard_normal((B, N)), rng.standard_normal((B, N))
    Phi_bar, x_bar = augmented_lasso(A, D, F, 0.8, x[0], h_prev)
    assert Phi_bar.shape == (M + N, N) and x_bar.shape == (B, M + N)
    np.testing.assert_allclose(
        sista_objective(x[0], A, D, F, 0.3, 0.8, h, h_prev),
        lasso_objective(Phi_bar, x_bar, h, 0.3),
        rtol=1e-12,
    )


def test_unfolded_weights_reproduce_sista(problem):
    x, A, D, F = problem
    alpha, lam1, lam2 = 2.5, 0.05, 0.9
    w = sista_weights(A, D, F, alpha, lam1, lam2)
    np.testing.assert_allclose(w["W1"], (alpha + lam2) / alpha * w["P"]
                               - D.T @ (A.T @ A + lam2 * np.eye(N)) @ D @ w["P"] / alpha,
                               atol=1e-12)
    soft = lambda z: np.sign(z) * np.maximum(np.abs(z) - w["b"], 0)  # noqa: E731
    h_prev = np.zeros((B, N))
    out = []
    for t in range(T):
        h = soft(h_prev @ w["W1"].T + x[t] @ w["V"].T)
        for _ in range(2):
            h = soft(h_prev @ w["Wk"].T + h @ w["S"].T + x[t] @ w["V"].T)
        out.append(h)
        h_prev = h
    np.testing.assert_allclose(np.stack(out), sista(x, A, D, F, alpha, lam1, lam2, n_iter=3),
                               rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------
# kinds, dtypes, shapes, gradients
# ------------------------------------------------------------------------------------------
def test_numpy_in_numpy_out_torch_in_torch_out(problem):
    x, A, D, F = problem
    h_np = sista(x, A, D, F, 3.0, 0.05, 0.5)
    assert isinstance(h_np, np.ndarray) and h_np.dtype == np.float64 and h_np.shape == (T, B, N)
    h_t = sista(torch.from_numpy(x), torch.from_numpy(A), torch.from_numpy(D),
                torch.from_numpy(F), 3.0, 0.05, 0.5)
    assert isinstance(h_t, torch.Tensor) and h_t.dtype == torch.float64
    np.testing.assert_array_equal(h_t.numpy(), h_np)


def test_float32_stays_float32_and_float64_wins(problem):
    x, A, D, F = problem
    f32 = [torch.from_numpy(a).float() for a in (x, A, D, F)]
    assert sista(*f32, 3.0, 0.05, 0.5).dtype == torch.float32
    mixed = sista(f32[0], A, D, F, 3.0, 0.05, 0.5)
    assert mixed.dtype == torch.float64


def test_single_sequence_matches_batch(problem):
    x, A, D, F = problem
    h = sista(x, A, D, F, 3.0, 0.05, 0.5, n_iter=5)
    h1, hist = sista(x[:, 2], A, D, F, 3.0, 0.05, 0.5, n_iter=5, return_history=True)
    assert h1.shape == (T, N) and hist["objective"].shape == (6, T)
    np.testing.assert_allclose(h1, h[:, 2], rtol=0, atol=1e-13)


def test_shared_h0_equals_repeated_h0(problem):
    x, A, D, F = problem
    h0 = np.random.default_rng(4).standard_normal(N)
    shared = sista(x, A, D, F, 3.0, 0.05, 0.5, h0=h0)
    repeated = sista(x, A, D, F, 3.0, 0.05, 0.5, h0=np.tile(h0, (B, 1)))
    np.testing.assert_array_equal(shared, repeated)
    assert not np.allclose(shared, sista(x, A, D, F, 3.0, 0.05, 0.5))  # h0 matters


def test_gradients_flow_to_data_and_parameters(problem):
    x, A, D, F = problem
    xt = torch.from_numpy(x[:3, :2]).requires_grad_(True)
    At = torch.from_numpy(A).requires_grad_(True)
    alpha = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    lam1 = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    h = sista(xt, At, torch.from_numpy(D), torch.from_numpy(F), alpha, lam1, 0.5)
    (h**2).sum().backward()
    for g in (xt.grad, At.grad, alpha.grad, lam1.grad):
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    # the gradient with respect to lam1 is right (central differences)
    eps = 1e-6
    f = lambda v: float((sista(x[:3, :2], A, D, F, 3.0, v, 0.5) ** 2).sum())  # noqa: E731
    assert float(lam1.grad) == pytest.approx((f(0.05 + eps) - f(0.05 - eps)) / (2 * eps), rel=1e-5)


def test_gradcheck_with_respect_to_x():
    rng = np.random.default_rng(11)
    A = torch.from_numpy(rng.standard_normal((3, 8)) / 2)
    D = torch.from_numpy(wavelet_dictionary(8, "haar", level=2))
    F = torch.eye(8, dtype=torch.float64)
    x = torch.from_numpy(rng.standard_normal((3, 2, 3))).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: sista(v, A, D, F, 2.5, 0.05, 0.5), (x,))


def test_small_alpha_warns(problem):
    x, A, D, F = problem
    L = sista_step_size(A, D, 1.0)
    with pytest.warns(StepSizeWarning, match="may diverge"):
        sista(x, A, D, F, 0.4 * L, 0.05, 1.0)
    with pytest.warns(StepSizeWarning, match="may diverge"):  # at L/2 exactly too
        sista(x, A, D, F, 0.5 * L, 0.05, 1.0)
    sista(x, A, D, F, 0.51 * L, 0.05, 1.0)  # converging, no warning


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(A=np.ones(M)), ValueError, "A must have 2 dimensions"),
        (dict(A=np.ones((M, N + 1))), ValueError, "A has 33 columns but D has 32 rows"),
        (dict(F=np.eye(N - 1)), ValueError, r"F must have shape \(32, 32\)"),
        (dict(x=np.ones((T, B, M + 1))), ValueError, "x must have 12 entries"),
        (dict(x=np.ones((T, 1, B, M))), ValueError, "x must have 2 or 3 dimensions"),
        (dict(x=np.ones((0, B, M))), ValueError, "at least one time step"),
        (dict(alpha=0.0), ValueError, "alpha must be > 0"),
        (dict(alpha=-1.0), ValueError, "alpha must be > 0"),
        (dict(lam1=-0.1), ValueError, "lam1 must be >= 0"),
        (dict(lam2=-0.1), ValueError, "lam2 must be >= 0"),
        (dict(lam2=float("nan")), ValueError, "lam2 must be finite"),
        (dict(alpha="1"), TypeError, "alpha must be a real number"),
        (dict(x=[[1.0] * M] * T), TypeError, "x must be a NumPy array or a torch tensor"),
    ],
)
def test_bad_arguments(problem, change, error, match):
    x, A, D, F = problem
    args = dict(x=x, A=A, D=D, F=F, alpha=3.0, lam1=0.05, lam2=0.5)
    args.update(change)
    with pytest.raises(error, match=match):
        sista(**args)


@pytest.mark.parametrize("name", ["x", "A", "D", "F"])
def test_non_finite_values_are_refused(problem, name):
    args = dict(zip("x A D F".split(), (a.copy() for a in problem)))
    args[name].flat[3] = np.inf if name == "D" else np.nan
    with pytest.raises(ValueError, match=f"{name} contains NaN or infinite values"):
        sista(**args, alpha=3.0, lam1=0.05, lam2=0.5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(h0=np.zeros((B + 1, N))), ValueError, r"h0 must have shape \(4, 32\) or \(32,\)"),
        (dict(h0=np.full(N, np.nan)), ValueError, "h0 contains NaN"),
        (dict(n_iter=-1), ValueError, "n_iter must be >= 0"),
        (dict(n_iter=2.0), TypeError, "n_iter must be an integer"),
        (dict(tol=0.0), ValueError, "tol must be > 0"),
        (dict(tol=1e-3, max_iter=0), ValueError, "max_iter must be >= 1"),
        (dict(return_history="yes"), TypeError, "return_history must be a bool"),
    ],
)
def test_bad_options(problem, kwargs, error, match):
    x, A, D, F = problem
    with pytest.raises(error, match=match):
        sista(x, A, D, F, 3.0, 0.05, 0.5, **kwargs)


def test_single_sequence_h0_must_be_a_vector(problem):
    x, A, D, F = problem
    with pytest.raises(ValueError, match=r"h0 must have shape \(32,\)"):
        sista(x[:, 0], A, D, F, 3.0, 0.05, 0.5, h0=np.zeros((1, N)))


def test_helper_errors(problem):
    x, A, D, F = problem
    with pytest.raises(ValueError, match="h_prev must have the leading shape of x_t"):
        augmented_lasso(A, D, F, 0.5, x[0], np.zeros((B + 1, N)))
    with pytest.raises(ValueError, match="x_t must have 12 entries"):
        augmented_lasso(A, D, F, 0.5, np.zeros((B, M + 2)), np.zeros((B, N)))
    with pytest.raises(ValueError, match="lam2 must be >= 0"):
        augmented_lasso(A, D, F, -1.0, x[0], np.zeros((B, N)))
    with pytest.raises(ValueError, match="h must have the leading shape of x"):
        sista_objective(x[0], A, D, F, 0.1, 0.1, np.zeros((1, N)), np.zeros((B, N)))
    with pytest.raises(ValueError, match="lam1 must be >= 0"):
        sista_objective(x[0], A, D, F, -0.1, 0.1, np.zeros((B, N)), np.zeros((B, N)))
    with pytest.raises(ValueError, match="lam2 must be >= 0"):
        sista_step_size(A, D, -0.5)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        sista_weights(A, D, F, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="D must have 2 dimensions"):
        sista_step_size(A, np.ones(N))

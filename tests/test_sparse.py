"""Tests of sista_lib.sparse: the l1 prox, the Lasso objective, ISTA and FISTA."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from sklearn.linear_model import Lasso

from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
from sista_lib.sparse import (
    StepSizeWarning,
    fista,
    ista,
    lasso_objective,
    lipschitz_constant,
    soft_threshold,
)


@pytest.fixture(scope="module")
def problem():
    """The paper's Phi = A D (32 x 128) and a few sparse-plus-noise signals."""
    rng = np.random.default_rng(7)
    Phi = paper_measurement_matrix() @ wavelet_dictionary(128)
    h_true = np.zeros((5, 128))
    for row in h_true:
        row[rng.choice(128, 6, replace=False)] = rng.standard_normal(6)
    y = h_true @ Phi.T + 0.01 * rng.standard_normal((5, 32))
    return Phi, y


# --- soft-thresholding -----------------------------------------------------------------------

@pytest.mark.parametrize("z", [-2.3, -0.4, 0.0, 0.25, 1.7])
@pytest.mark.parametrize("b", [0.0, 0.3, 1.0])
def test_soft_threshold_is_the_prox_of_the_l1_norm(z, b):
    brute = minimize_scalar(lambda h: 0.5 * (h - z) ** 2 + b * abs(h), bounds=(-5, 5),
                            method="bounded", options={"xatol": 1e-10}).x
    assert soft_threshold(np.array([z]), b)[0] == pytest.approx(brute, abs=1e-7)


def test_soft_threshold_per_coefficient_threshold_and_kinds():
    z = np.array([[1.0, -2.0, 0.5], [3.0, 0.1, -0.2]])
    out = soft_threshold(z, np.array([0.5, 1.0, 1.0]))
    np.testing.assert_array_equal(out, [[0.5, -1.0, 0.0], [2.5, 0.0, -0.0]])
    t = soft_threshold(torch.tensor(z), 0.5)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64


def test_soft_threshold_rejects_bad_thresholds():
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        soft_threshold(np.ones(3), -0.1)
    with pytest.raises(ValueError, match="threshold must be finite"):
        soft_threshold(np.ones(3), float("nan"))
    with pytest.raises(ValueError, match="does not broadcast to z's shape"):
        soft_threshold(np.ones(3), np.ones((2, 3)))
    with pytest.raises(TypeError, match="z must be a NumPy array"):
        soft_threshold([1.0, 2.0], 0.1)


# --- objective and Lipschitz constant ----------------------------------------------------------

def test_lasso_objective_matches_definition(problem):
    Phi, y = problem
    h = np.random.default_rng(0).standard_normal((5, 128))
    expected = 0.5 * np.sum((y - h @ Phi.T) ** 2, axis=1) + 0.3 * np.abs(h).sum(axis=1)
    np.testing.assert_allclose(lasso_objective(Phi, y, h, 0.3), expected, rtol=1e-12)
    assert lasso_objective(Phi, y, h, 0.3).shape == (5,)


def test_lipschitz_constant_is_largest_eigenvalue_of_gram(problem):
    Phi, _ = problem
    assert lipschitz_constant(Phi) == pytest.approx(np.linalg.eigvalsh(Phi.T @ Phi).max(), rel=1e-10)


# --- ISTA / FISTA --------------------------------------------------------------------------------

def test_ista_objective_never_increases(problem):
    Phi, y = problem
    _, history = ista(Phi, y, 0.05, n_iter=300, return_history=True)
    assert history.shape == (301, 5)
    assert np.all(np.diff(history, axis=0) <= 1e-12)


@pytest.mark.parametrize("solver, n_iter", [(ista, 20000), (fista, 3000)])
def test_solvers_reach_scikit_learn_lasso_optimum(problem, solver, n_iter):
    Phi, y = problem
    lam = 0.05
    h = solver(Phi, y, lam, n_iter=n_iter)
    for i in range(len(y)):
        # scikit-learn's Lasso minimises 1/(2M)||y - Phi h||^2 + alpha ||h||_1: alpha = lam / M.
        ref = Lasso(alpha=lam / Phi.shape[0], fit_intercept=False, tol=1e-14, max_iter=10**6)
        ref.fit(Phi, y[i])
        f_ref = lasso_objective(Phi, y[i], ref.coef_, lam)
        f_ours = lasso_objective(Phi, y[i], h[i], lam)
        assert (f_ours - f_ref) / f_ref <= 1e-6


@pytest.mark.parametrize("k", [1, 5, 25, 125])
def test_rate_bounds_of_beck_and_teboulle(problem, k):
    # ISTA: F(h_k) - F* <= L ||h0 - h*||^2 / (2k);  FISTA: F(h_k) - F* <= 2 L ||h0 - h*||^2 / (k+1)^2.
    Phi, y = problem
    lam = 0.05
    L = lipschitz_constant(Phi)
    h_star = fista(Phi, y, lam, n_iter=20000)
    f_star = lasso_objective(Phi, y, h_star, lam)
    dist2 = np.sum(h_star**2, axis=-1)  # h0 = 0
    gap_ista = lasso_objective(Phi, y, ista(Phi, y, lam, n_iter=k), lam) - f_star
    gap_fista = lasso_objective(Phi, y, fista(Phi, y, lam, n_iter=k), lam) - f_star
    assert np.all(gap_ista <= L * dist2 / (2 * k) + 1e-12)
    assert np.all(gap_fista <= 2 * L * dist2 / (k + 1) ** 2 + 1e-12)


def test_single_signal_and_batch_shapes(problem):
    Phi, y = problem
    assert ista(Phi, y[0], 0.1, n_iter=5).shape == (128,)
    assert fista(Phi, y.reshape(5, 1, 32), 0.1, n_iter=5).shape == (5, 1, 128)
    np.testing.assert_allclose(fista(Phi, y, 0.1, n_iter=7)[2], fista(Phi, y[2], 0.1, n_iter=7), rtol=1e-12)


def test_numpy_in_numpy_out_torch_in_torch_out_dtypes_kept(problem):
    Phi, y = problem
    assert isinstance(ista(Phi, y, 0.1, n_iter=3), np.ndarray)
    assert ista(Phi, y, 0.1, n_iter=3).dtype == np.float64
    out32 = fista(torch.tensor(Phi, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), 0.1)
    assert isinstance(out32, torch.Tensor) and out32.dtype == torch.float32
    out64 = fista(torch.tensor(Phi), torch.tensor(y), 0.1, n_iter=50)
    assert out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), fista(Phi, y, 0.1, n_iter=50), rtol=1e-12, atol=1e-14)


def test_tol_stops_early_and_history_ends_there(problem):
    Phi, y = problem
    _, history = ista(Phi, y, 0.1, n_iter=10000, tol=1e-6, return_history=True)
    assert len(history) < 10001
    last = np.abs(history[-2] - history[-1]) / np.abs(history[-2])
    assert np.all(last < 1e-6)


def test_warm_start_at_the_optimum_stays_there(problem):
    Phi, y = problem
    h_star = fista(Phi, y, 0.1, n_iter=5000)
    np.testing.assert_allclose(ista(Phi, y, 0.1, n_iter=10, h0=h_star), h_star, atol=1e-8)


def test_too_large_step_warns(problem):
    Phi, y = problem
    with pytest.warns(StepSizeWarning, match="exceeds 1/L"):
        ista(Phi, y, 0.1, n_iter=2, step=3.0 / lipschitz_constant(Phi))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lam=-1.0), ValueError, "lam must be >= 0"),
        (dict(lam=float("inf")), ValueError, "lam must be finite"),
        (dict(step=0.0), ValueError, "step must be > 0"),
        (dict(tol=-1e-3), ValueError, "tol must be > 0"),
        (dict(n_iter=-1), ValueError, "n_iter must be >= 0"),
        (dict(n_iter=2.5), TypeError, "n_iter must be an integer"),
        (dict(y_cols=31), ValueError, r"y has 31 entries .* Phi has 32 rows"),
        (dict(nan_y=True), ValueError, "y contains NaN"),
        (dict(h0_shape=(5, 127)), ValueError, r"h0 must have shape \(5, 128\)"),
        (dict(phi_1d=True), ValueError, "Phi must have 2 dimensions"),
    ],
)
def test_bad_input_raises_clear_errors(problem, kwargs, error, match):
    Phi, y = problem
    lam = kwargs.pop("lam", 0.1)
    if kwargs.pop("nan_y", False):
        y = y.copy()
        y[0, 0] = np.nan
    if "y_cols" in kwargs:
        y = y[:, : kwargs.pop("y_cols")]
    if "h0_shape" in kwargs:
        kwargs["h0"] = np.zeros(kwargs.pop("h0_shape"))
    if kwargs.pop("phi_1d", False):
        Phi = Phi[0]
    with pytest.raises(error, match=match):
        ista(Phi, y, lam, **kwargs)


def test_fista_with_restart_reaches_the_lasso_optimum(problem):
    Phi, y = problem
    lam = 0.05
    h = fista(Phi, y, lam, n_iter=3000, restart=True)
    for i in range(len(y)):
        ref = Lasso(alpha=lam / Phi.shape[0], fit_intercept=False, tol=1e-14, max_iter=10**6)
        f_ref = lasso_objective(Phi, y[i], ref.fit(Phi, y[i]).coef_, lam)
        assert (lasso_objective(Phi, y[i], h[i], lam) - f_ref) / f_ref <= 1e-6


@pytest.mark.parametrize("per_coefficient", [False, True])
def test_fast_soft_threshold_matches_the_formula_in_value_and_gradient(per_coefficient):
    from sista_lib.sparse import _soft

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    b = (torch.rand(6, dtype=torch.float64, generator=gen) if per_coefficient
         else torch.tensor(0.4, dtype=torch.float64)).requires_grad_(True)
    formula = torch.sign(z) * torch.clamp(z.abs() - b, min=0)
    torch.testing.assert_close(_soft(z, b), formula, rtol=0, atol=0)
    g_fast = torch.autograd.grad(_soft(z, b).sum(), (z, b))
    g_ref = torch.autograd.grad(formula.sum(), (z, b))
    for fast, ref in zip(g_fast, g_ref):
        torch.testing.assert_close(fast, ref)
    assert torch.autograd.gradcheck(lambda z_, b_: _soft(z_, b_), (z, b))


# --- adaptive step and support polish ---------------------------------------------------------

def _lasso_optimum(Phi, y, lam):
    ref = Lasso(alpha=lam / Phi.shape[0], fit_intercept=False, tol=1e-14, max_iter=10**6)
    return np.array([lasso_objective(Phi, yi, ref.fit(Phi, yi).coef_, lam) for yi in y])


def _satisfies_lasso_optimality(Phi, y, h, lam, slack=1e-8):
    """Phi^T (y - Phi h) = lam sign(h) on the support and |.| <= lam off it."""
    correlation = (y - h @ Phi.T) @ Phi
    on = h != 0
    return (np.allclose(correlation[on], lam * np.sign(h[on]), rtol=1e-8, atol=1e-10 * lam)
            and bool(np.all(np.abs(correlation[~on]) <= lam * (1 + slack))))


@pytest.mark.parametrize("solver", [ista, fista])
def test_adaptive_step_reaches_the_lasso_optimum(problem, solver):
    Phi, y = problem
    lam = 0.05
    h = solver(Phi, y, lam, n_iter=3000, step="adaptive")
    f_star = _lasso_optimum(Phi, y, lam)
    assert np.all((lasso_objective(Phi, y, h, lam) - f_star) / f_star <= 1e-6)


def test_ista_with_adaptive_step_never_increases_the_objective(problem):
    # each accepted step satisfies the quadratic upper bound, so ISTA stays a descent method
    Phi, y = problem
    _, history = ista(Phi, y, 0.05, n_iter=300, step="adaptive", return_history=True)
    assert np.all(np.diff(history, axis=0) <= 1e-12 * np.abs(history[:-1]))


def test_adaptive_step_takes_fewer_iterations_here(problem):
    Phi, y = problem
    lam = 0.05
    f_star = _lasso_optimum(Phi, y, lam)
    gap = {step: np.median((lasso_objective(Phi, y, ista(Phi, y, lam, n_iter=100, step=step),
                                            lam) - f_star) / f_star)
           for step in (None, "adaptive")}
    assert gap["adaptive"] < 0.1 * gap[None]


def test_unknown_step_string_is_rejected(problem):
    Phi, y = problem
    with pytest.raises(ValueError, match="step must be a positive float, 'adaptive' or None"):
        fista(Phi, y, 0.1, step="auto")


def test_polish_returns_the_exact_optimum_once_the_support_is_found(problem):
    Phi, y = problem
    lam = 0.05
    rough = fista(Phi, y, lam, n_iter=15, restart=True)
    h = fista(Phi, y, lam, n_iter=15, restart=True, polish=True)
    f_star = _lasso_optimum(Phi, y, lam)
    assert np.all((lasso_objective(Phi, y, rough, lam) - f_star) / f_star > 1e-6)
    assert np.all(np.abs(lasso_objective(Phi, y, h, lam) - f_star) / f_star <= 1e-12)
    assert _satisfies_lasso_optimality(Phi, y, h, lam)


def test_polish_keeps_the_iterate_where_it_cannot_certify(problem):
    # from zero after one iteration the support is far from right: every signal the polish
    # changed must satisfy the optimality conditions, every other one is the iterate itself
    Phi, y = problem
    rough = fista(Phi, y, 0.01, n_iter=1)
    h = fista(Phi, y, 0.01, n_iter=1, polish=True)
    changed = np.any(h != rough, axis=1)
    assert not changed.all()
    for i in np.flatnonzero(changed):
        assert _satisfies_lasso_optimality(Phi, y[i:i + 1], h[i:i + 1], 0.01)


def test_polish_treats_a_batch_like_its_signals_one_by_one():
    # supports of very different sizes share one padded, batched factorisation
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((40, 80)) / np.sqrt(40)
    codes = np.zeros((6, 80))
    for i, k in enumerate((0, 1, 3, 8, 12, 20)):
        codes[i, rng.choice(80, k, replace=False)] = rng.standard_normal(k)
    y = codes @ Phi.T + 0.01 * rng.standard_normal((6, 40))
    for n_iter in (40, 300):     # after 40 iterations only some signals can be certified
        batch = fista(Phi, y, 0.02, n_iter=n_iter, restart=True, polish=True)
        alone = np.stack([fista(Phi, yi, 0.02, n_iter=n_iter, restart=True, polish=True)
                          for yi in y])
        np.testing.assert_allclose(batch, alone, rtol=1e-10, atol=1e-13)
    assert _satisfies_lasso_optimality(Phi, y, batch, 0.02)


def test_polish_gives_float32_input_the_float64_optimum(problem):
    Phi, y = problem
    lam = 0.05
    h32 = fista(Phi.astype(np.float32), y.astype(np.float32), lam, n_iter=60, restart=True,
                polish=True)
    assert h32.dtype == np.float32
    f_star = _lasso_optimum(Phi, y, lam)
    gap = (lasso_objective(Phi, y, h32.astype(np.float64), lam) - f_star) / f_star
    assert np.all(gap <= 1e-7)


def test_polish_adds_one_history_row(problem):
    Phi, y = problem
    _, history = fista(Phi, y, 0.05, n_iter=10, polish=True, return_history=True)
    assert history.shape == (12, len(y))
    assert np.all(history[-1] <= history[-2] + 1e-12)

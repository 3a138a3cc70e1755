"""Tests of sista_lib.analysis: best k-term approximation and the l1 phase transition."""

import itertools

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from sista_lib.analysis import (
    basis_pursuit,
    best_k_term,
    energy_compaction,
    l1_phase_transition,
    l1_statistical_dimension,
    phase_transition_grid,
)
from sista_lib.dictionaries import wavelet_dictionary


# --- best k-term approximation ----------------------------------------------------------------

def test_best_k_term_is_the_optimal_k_sparse_approximation():
    rng = np.random.default_rng(0)
    h = rng.standard_normal(7)
    for k in range(8):
        hk = best_k_term(h, k)
        assert np.count_nonzero(hk) == k
        kept = hk != 0
        np.testing.assert_array_equal(hk[kept], h[kept])  # kept values are untouched
        brute = min(
            np.sum(np.delete(h, list(support)) ** 2)
            for support in itertools.combinations(range(7), k)
        )
        assert np.sum((h - hk) ** 2) == pytest.approx(brute, rel=1e-12, abs=1e-15)


def test_best_k_term_batches_and_keeps_kind_and_dtype():
    rng = np.random.default_rng(1)
    h = rng.standard_normal((2, 3, 16))
    out = best_k_term(h, 4)
    assert out.shape == h.shape and out.dtype == np.float64
    for row_in, row_out in zip(h.reshape(-1, 16), out.reshape(-1, 16)):
        np.testing.assert_array_equal(row_out, best_k_term(row_in, 4))
    t = best_k_term(torch.tensor(h, dtype=torch.float32), 4)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-6)


def test_best_k_term_keeps_exactly_k_under_ties():
    assert np.count_nonzero(best_k_term(np.ones(10), 3)) == 3


def test_best_k_term_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be <= N=5"):
        best_k_term(np.ones(5), 6)
    with pytest.raises(ValueError, match="k must be >= 0"):
        best_k_term(np.ones(5), -1)
    with pytest.raises(TypeError, match="k must be an integer"):
        best_k_term(np.ones(5), 2.0)
    with pytest.raises(TypeError, match="h must be a NumPy array"):
        best_k_term([1.0, 2.0], 1)


def test_energy_compaction_matches_best_k_term_and_the_orthonormal_error():
    rng = np.random.default_rng(2)
    D = wavelet_dictionary(32, "db4", level=2)
    y = np.cumsum(rng.standard_normal((4, 32)), axis=-1)  # random walks: compressible
    h = y @ D  # analysis coefficients D^T y, one row per signal
    c = energy_compaction(h)
    assert c.shape == (4, 33)
    np.testing.assert_array_equal(c[:, 0], 0.0)
    np.testing.assert_array_equal(c[:, -1], 1.0)
    assert (np.diff(c, axis=-1) >= 0).all()
    for k in (1, 5, 17):
        hk = best_k_term(h, k)
        np.testing.assert_allclose(c[:, k], (hk**2).sum(-1) / (h**2).sum(-1), rtol=1e-12)
        rel_err = ((y - hk @ D.T) ** 2).sum(-1) / (y**2).sum(-1)
        np.testing.assert_allclose(1.0 - c[:, k], rel_err, rtol=1e-9, atol=1e-12)


def test_energy_compaction_of_a_zero_signal_is_all_ones_and_torch_stays_torch():
    c = energy_compaction(torch.zeros(2, 5, dtype=torch.float64))
    assert isinstance(c, torch.Tensor) and c.dtype == torch.float64
    torch.testing.assert_close(c, torch.ones(2, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="h contains NaN"):
        energy_compaction(np.array([1.0, np.nan]))


# --- the l1 phase transition ------------------------------------------------------------------

def _psi_by_quadrature(rho):
    """Amelunxen et al.'s bound with the Gaussian integral done numerically (independent code)."""
    def bound(tau):
        tail = quad(lambda u: (u - tau) ** 2 * np.exp(-u * u / 2), tau, np.inf)[0]
        return rho * (1 + tau * tau) + (1 - rho) * np.sqrt(2 / np.pi) * tail

    return minimize_scalar(bound, bounds=(0.0, 10.0), method="bounded",
                           options={"xatol": 1e-10}).fun


@pytest.mark.parametrize("rho", [0.02, 0.1, 0.3, 0.6, 0.95])
def test_statistical_dimension_matches_direct_minimisation(rho):
    assert l1_statistical_dimension(rho) == pytest.approx(_psi_by_quadrature(rho), abs=1e-7)


def test_statistical_dimension_is_increasing_from_0_to_1_and_above_rho():
    rho = np.linspace(0.0, 1.0, 41)
    psi = l1_statistical_dimension(rho)
    assert isinstance(psi, np.ndarray) and psi.shape == rho.shape
    assert psi[0] == 0.0 and psi[-1] == 1.0
    assert (np.diff(psi) > 0).all()
    # the descent cone contains the s-dimensional span of the support: delta >= s
    assert (psi >= rho - 1e-12).all()
    assert isinstance(l1_statistical_dimension(0.2), float)


def test_phase_transition_inverts_the_statistical_dimension():
    delta = np.array([0.05, 0.25, 0.5, 0.8])
    rho = l1_phase_transition(delta)
    np.testing.assert_allclose(l1_statistical_dimension(rho * delta), delta, atol=1e-10)
    assert (np.diff(rho) > 0).all() and (rho < 1).all()
    assert l1_phase_transition(0.0) == 0.0 and l1_phase_transition(1.0) == 1.0


def test_fractions_are_validated():
    with pytest.raises(ValueError, match=r"rho must lie in \[0, 1\]"):
        l1_statistical_dimension(1.5)
    with pytest.raises(ValueError, match="delta contains NaN"):
        l1_phase_transition(np.array([0.5, np.nan]))
    with pytest.raises(TypeError, match="rho must be a real number"):
        l1_statistical_dimension("0.5")


def test_basis_pursuit_is_feasible_and_has_the_smallest_l1_norm():
    rng = np.random.default_rng(3)
    Phi = rng.standard_normal((10, 30))
    x = rng.standard_normal(10)
    h = basis_pursuit(Phi, x)
    np.testing.assert_allclose(Phi @ h, x, atol=1e-8)
    # any other feasible point: the minimum-l2-norm one plus null-space directions
    h_ls = np.linalg.pinv(Phi) @ x
    null = np.linalg.svd(Phi)[2][10:].T
    for _ in range(20):
        other = h_ls + null @ rng.standard_normal(20)
        assert np.abs(h).sum() <= np.abs(other).sum() + 1e-8


def test_basis_pursuit_recovers_a_sparse_vector_and_keeps_torch():
    rng = np.random.default_rng(4)
    Phi = rng.standard_normal((30, 60))
    h_true = np.zeros((2, 60))
    h_true[0, [3, 17, 41]] = [1.0, -2.0, 0.5]
    h_true[1, [0, 59]] = [0.3, 1.2]
    h = basis_pursuit(torch.tensor(Phi), torch.tensor(h_true @ Phi.T))
    assert isinstance(h, torch.Tensor) and h.shape == (2, 60)
    np.testing.assert_allclose(h.numpy(), h_true, atol=1e-7)


def test_basis_pursuit_errors():
    with pytest.raises(ValueError, match="Phi has 3 rows"):
        basis_pursuit(np.ones((3, 5)), np.ones(4))
    with pytest.raises(ValueError, match="basis pursuit failed"):
        basis_pursuit(np.zeros((2, 4)), np.ones(2))  # Phi h = x has no solution


def test_phase_transition_grid_succeeds_below_and_fails_above_the_curve():
    n, delta = 64, 0.5
    rho_star = l1_phase_transition(delta)
    rhos = [rho_star / 3, min(1.0, 2 * rho_star)]
    success = phase_transition_grid(n, [delta], rhos, n_trials=6, seed=0)
    assert success.shape == (1, 2)
    assert success[0, 0] == 1.0
    assert success[0, 1] == 0.0


def test_phase_transition_grid_is_deterministic_and_validated():
    a = phase_transition_grid(24, [0.5, 0.75], [0.3], n_trials=3, seed=5)
    b = phase_transition_grid(24, [0.5, 0.75], [0.3], n_trials=3, seed=5)
    np.testing.assert_array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()
    with pytest.raises(ValueError, match="deltas must be > 0"):
        phase_transition_grid(24, [0.0, 0.5], [0.3])
    with pytest.raises(ValueError, match="rhos must be a non-empty 1-D sequence"):
        phase_transition_grid(24, [0.5], [])
    with pytest.raises(TypeError, match="n_trials must be an integer"):
        phase_transition_grid(24, [0.5], [0.3], n_trials=2.5)

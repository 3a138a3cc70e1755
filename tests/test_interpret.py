"""Tests of sista_lib.interpret: each number of the reading of a trained network is checked on a
case whose answer is known exactly (a known parameter change, an orthonormal dictionary, a
regime boundary, a symmetry of the weights), plus the error messages."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from sista_lib import interpret
from sista_lib.checkpoints import save_parameters
from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
from sista_lib.models import SISTARNN, LSTMBaseline, StackedRNN
from sista_lib.sista import sista_objective, sista_step_size
from sista_lib.train import parameter_snapshot

N, M = 16, 6


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((M, N)) / np.sqrt(M)
    D = wavelet_dictionary(N, "db2", level=2)
    return A, D


def paper_net(A, D, **kw):
    return SISTARNN.paper_init(A, D, dtype=torch.float64, **kw)


# --------------------------------------------------------------------------------------------
# parameter drift
# --------------------------------------------------------------------------------------------


def test_a_known_parameter_change_is_measured_exactly(problem):
    initial = paper_net(*problem)
    trained = copy.deepcopy(initial)
    delta = torch.zeros(M, N, dtype=torch.float64)
    delta[0, :4] = torch.tensor([0.3, -0.4, 0.0, 1.2], dtype=torch.float64)
    with torch.no_grad():
        trained.A.add_(delta)
        trained.alpha.add_(0.25)
    drift = interpret.parameter_drift(trained, initial)
    assert drift["A"].change_norm == pytest.approx(1.3, abs=1e-15)
    assert drift["A"].relative == pytest.approx(1.3 / np.linalg.norm(problem[0]), rel=1e-14)
    assert drift["A"].mean_abs_change == pytest.approx(1.9 / (M * N), rel=1e-14)
    assert drift["alpha"].relative == pytest.approx(0.25)
    assert drift["alpha"].speed(lr=0.01, steps=5) == pytest.approx(5.0)
    assert drift["D"].change_norm == 0.0 and drift["D"].shape == (N, N)
    assert math.isnan(drift["h0"].relative)          # h0 starts at zero: no relative change
    assert math.isnan(drift["alpha"].speed(lr=0.01, steps=0))


def test_parameter_drift_accepts_mappings_and_refuses_mismatches(problem):
    a = {"w": np.array([1.0, 2.0]), "v": np.zeros(3)}
    b = {"w": np.array([1.0, 0.0]), "v": np.ones(3)}
    drift = interpret.parameter_drift(b, a)
    assert drift["w"].change_norm == 2.0 and drift["v"].mean_abs_change == 1.0
    with pytest.raises(ValueError, match="same parameters"):
        interpret.parameter_drift({"w": np.zeros(2)}, a)
    with pytest.raises(ValueError, match="shape"):
        interpret.parameter_drift({"w": np.zeros(3), "v": np.zeros(3)}, a)
    with pytest.raises(TypeError, match="trained"):
        interpret.parameter_drift([1, 2], a)
    with pytest.raises(ValueError, match="lr"):
        interpret.parameter_drift(b, a)["w"].speed(lr=0.0, steps=3)


def test_pooled_relative_change_pools_runs_and_groups():
    runs = []
    for scale in (1.0, 3.0):
        t0 = {"x.a": np.full(4, 1.0), "x.b": np.full(4, 1.0), "y": np.zeros(2)}
        t = {"x.a": np.full(4, 1.0 + scale), "x.b": np.full(4, 1.0), "y": np.ones(2)}
        runs.append((t, t0))
    out = interpret.pooled_relative_change(runs, group=lambda n: n.split(".")[0])
    # x: change^2 = 4 (run 1) and 36 (run 2) against initial^2 = 8 and 8.
    assert out["x"].relative == pytest.approx(math.sqrt(40 / 16))
    assert math.isnan(out["y"].relative)
    assert out["x"].shapes == {(4,): 2} and out["x"].shape_label == "2 × (4)"
    with pytest.raises(ValueError, match="pairs"):
        interpret.pooled_relative_change([])


def test_lstm_roles_cover_every_parameter_of_the_baseline():
    net = LSTMBaseline(input_size=3, hidden_size=4, output_size=5, n_layers=3, seed=0)
    roles = {interpret.lstm_role(name, 3) for name, _ in net.named_parameters()}
    assert roles == {"weight_ih, layer 1 (input x_t)", "weight_ih, layers 2-3",
                     "weight_hh, layers 1-3 (recurrent)", "bias_ih, bias_hh, layers 1-3",
                     "readout.weight", "readout.bias"}
    with pytest.raises(TypeError, match="name"):
        interpret.lstm_role(3)


# --------------------------------------------------------------------------------------------
# trajectories
# --------------------------------------------------------------------------------------------


def test_scalar_trajectories_from_snapshots_add_the_threshold_and_the_pull():
    snaps = [{"scalars": {"alpha": a, "lam1": l1, "lam2": l2}, "norms": {}}
             for a, l1, l2 in ((1.0, 0.5, 1.0), (2.0, 0.5, 1.0), (4.0, 1.0, 2.0))]
    traj = interpret.scalar_trajectories({"train": {"snapshots": snaps}})
    np.testing.assert_array_equal(traj["alpha"], [1.0, 2.0, 4.0])
    np.testing.assert_array_equal(traj["b"], [0.5, 0.25, 0.25])
    np.testing.assert_array_equal(traj["pull"], [1.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="snapshots"):
        interpret.scalar_trajectories({"train": {}})


def test_monotone_fraction_counts_moves_in_the_direction_of_the_total():
    assert interpret.monotone_fraction([0.0, 1.0, 2.0, 3.0], 3) == 1.0
    assert interpret.monotone_fraction([0.0, 1.0, 0.5, 2.0, 9.0], 3) == pytest.approx(2 / 3)
    assert interpret.monotone_fraction([0.0, 1.0, 1.0, 2.0], 3) == pytest.approx(2 / 3)  # a flat step
    assert math.isnan(interpret.monotone_fraction([1.0, 2.0], 0))
    with pytest.raises(ValueError, match="end"):
        interpret.monotone_fraction([1.0, 2.0], 2)


# --------------------------------------------------------------------------------------------
# the step-size regime
# --------------------------------------------------------------------------------------------


def test_the_regime_label_flips_exactly_at_L_and_at_L_over_2():
    L = 1.7
    assert interpret.step_regime(L, L) == "α ≥ L"
    assert interpret.step_regime(np.nextafter(L, 0), L) == "L/2 < α < L"
    assert interpret.step_regime(np.nextafter(L / 2, 2), L) == "L/2 < α < L"
    assert interpret.step_regime(L / 2, L) == "α ≤ L/2"
    assert interpret.common_regime(["α ≤ L/2"] * 3) == "α ≤ L/2"
    assert interpret.common_regime(["α ≤ L/2", "α ≥ L"]) == "mixed"
    with pytest.raises(ValueError, match="alpha"):
        interpret.step_regime(0.0, L)
    with pytest.raises(ValueError, match="regimes"):
        interpret.common_regime(["converges"])


def _one_sista_iteration(x, A, D, F, alpha, lam1, lam2, h, h_prev):
    G = D.T @ (A.T @ A + lam2 * np.eye(N)) @ D
    grad = G @ h - D.T @ A.T @ x - lam2 * D.T @ F @ D @ h_prev
    z = h - grad / alpha
    return np.sign(z) * np.maximum(np.abs(z) - lam1 / alpha, 0.0)


@pytest.mark.parametrize("ratio", [0.51, 0.75, 1.0, 1.5])
def test_every_iteration_lowers_the_objective_when_alpha_exceeds_L_over_2(problem, ratio):
    A, D = problem
    rng = np.random.default_rng(1)
    lam1, lam2, F = 0.1, 0.7, np.eye(N)
    alpha = ratio * sista_step_size(A, D, lam2)
    assert interpret.step_regime(alpha, sista_step_size(A, D, lam2)) != "α ≤ L/2"
    L = sista_step_size(A, D, lam2)
    objective = lambda h, x, hp: float(sista_objective(x, A, D, F, lam1, lam2, h, hp))
    for _ in range(20):
        x, h, hp = rng.standard_normal(M), rng.standard_normal(N), rng.standard_normal(N)
        h_new = _one_sista_iteration(x, A, D, F, alpha, lam1, lam2, h, hp)
        bound = objective(h, x, hp) - (alpha - L / 2) * np.sum((h_new - h) ** 2)
        assert objective(h_new, x, hp) <= bound + 1e-10


def test_below_L_over_2_an_iteration_can_raise_the_objective(problem):
    A, D = problem
    lam2, F = 0.7, np.eye(N)
    L = sista_step_size(A, D, lam2)
    mu, vectors = np.linalg.eigh(D.T @ (A.T @ A + lam2 * np.eye(N)) @ D)
    h = vectors[:, -1]                            # the direction of the largest curvature, L
    x, hp = np.zeros(M), np.zeros(N)
    alpha = 0.45 * L
    h_new = _one_sista_iteration(x, A, D, F, alpha, 0.0, lam2, h, hp)
    before = float(sista_objective(x, A, D, F, 0.0, lam2, h, hp))
    after = float(sista_objective(x, A, D, F, 0.0, lam2, h_new, hp))
    assert interpret.step_regime(alpha, L) == "α ≤ L/2" and after > before


def test_sista_reading_of_the_paper_initialisation(problem):
    A, D = problem
    p = interpret.sista_reading(paper_net(A, D))
    L = np.linalg.norm(A, 2) ** 2 + 1.0                   # orthonormal D: ||A||^2 + lam2
    assert (p["alpha"], p["lam1"], p["lam2"], p["b"], p["pull"]) == (1.0, 0.5, 1.0, 0.5, 1.0)
    assert p["L"] == pytest.approx(L, rel=1e-12) and p["ratio"] == pytest.approx(1 / L, rel=1e-12)
    assert p["regime"] == interpret.step_regime(1.0, p["L"])
    np.testing.assert_array_equal(p["D"], D)
    assert "Dinv" in interpret.sista_reading(paper_net(A, D, variant="released"))
    with pytest.raises(ValueError, match="tied"):
        interpret.sista_reading(paper_net(A, D, tie_layers=False))
    with pytest.raises(TypeError, match="SISTARNN"):
        interpret.sista_reading(StackedRNN(M, 4, N))


def test_iteration_eigenvalues_are_those_of_the_networks_S(problem):
    A, D = problem
    net = SISTARNN(A, D, None, 1.3, 0.5, 0.8, dtype=torch.float64)
    S = net.rnn_weights().S[0].detach().numpy()
    lo, hi = interpret.iteration_eigenvalue_range(A, D, 1.3, 0.8)
    ev = np.linalg.eigvalsh((S + S.T) / 2)
    assert lo == pytest.approx(ev.min(), abs=1e-12) and hi == pytest.approx(ev.max(), abs=1e-12)
    assert lo == pytest.approx(1 - sista_step_size(A, D, 0.8) / 1.3, abs=1e-12)
    with pytest.raises(ValueError, match="columns"):
        interpret.iteration_eigenvalue_range(A[:, :5], D, 1.0, 1.0)


def test_a_paper_variant_is_K_sista_iterations_even_with_perturbed_parameters(problem):
    A, D = problem
    rng = np.random.default_rng(2)
    net = SISTARNN(A + 0.1 * rng.standard_normal((M, N)), D + 0.05 * rng.standard_normal((N, N)),
                   np.eye(N) + 0.02 * rng.standard_normal((N, N)), 1.4, 0.3, 0.6,
                   h0=rng.standard_normal(N), dtype=torch.float32)
    x = torch.as_tensor(rng.standard_normal((7, 3, M)), dtype=torch.float32)
    gap, caught = interpret.sista_equivalence_gap(net, x)
    assert gap < 1e-12 and isinstance(caught, tuple)
    with pytest.raises(ValueError, match="paper variant"):
        interpret.sista_equivalence_gap(paper_net(A, D, variant="released"), x)


def test_a_network_that_learned_a_negative_lam2_is_read_as_nonconvex(problem):
    A, D = problem
    net = SISTARNN(A, D, None, 0.4, 0.3, 0.0, dtype=torch.float64)
    with torch.no_grad():
        net.lam2.fill_(-0.05)                     # as training, which does not constrain it, may leave it
    p = interpret.sista_reading(net)
    mu = np.linalg.eigvalsh(D.T @ (A.T @ A - 0.05 * np.eye(N)) @ D)
    assert p["convex"] is False and interpret.sista_reading(paper_net(A, D))["convex"] is True
    assert p["L"] == pytest.approx(np.abs(mu).max(), rel=1e-12) and p["regime"] == "α ≤ L/2"
    assert p["s_hi"] == pytest.approx(1 + 0.05 / 0.4, abs=1e-12) and p["s_hi"] > 1   # expands off A's rows
    x = torch.as_tensor(np.random.default_rng(4).standard_normal((6, 2, M)))
    gap, caught = interpret.sista_equivalence_gap(net, x)
    assert gap < 1e-12 and caught == ("StepSizeWarning",)
    twin = interpret.rebuild_sista_rnn(p, 3, dtype=torch.float64)
    assert twin.lam2.item() == -0.05
    with torch.no_grad():
        np.testing.assert_array_equal(twin(x).numpy(), net(x).numpy())


# --------------------------------------------------------------------------------------------
# what the learned parameters do
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_a_rebuilt_network_computes_what_the_read_one_does(problem, variant):
    A, D = problem
    rng = np.random.default_rng(3)
    net = SISTARNN(A, D, None, 1.2, 0.4, 0.9, variant=variant, h0=rng.standard_normal(N),
                   dtype=torch.float64)
    twin = interpret.rebuild_sista_rnn(interpret.sista_reading(net), 3, dtype=torch.float64)
    x = torch.as_tensor(rng.standard_normal((5, 2, M)))
    assert twin.variant == variant
    with torch.no_grad():
        torch.testing.assert_close(twin(x), net(x), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="missing"):
        interpret.rebuild_sista_rnn({"A": A}, 3)


def test_depth_sweep_scores_each_depth_and_averages_runs(problem):
    p = interpret.sista_reading(paper_net(*problem))
    curve = interpret.depth_sweep([p, {**p, "alpha": 2.0}], [1, 2, 5],
                                  lambda net: net.n_layers + float(net.alpha.detach()))
    np.testing.assert_allclose(curve, [2.5, 3.5, 6.5])


def test_depth_sweep_kind_labels():
    ks = [1, 2, 3, 4, 8]
    assert interpret.depth_sweep_kind(ks, [10, 9, 12, 9, 10.9], 3) == "procedure"
    assert interpret.depth_sweep_kind(ks, [10, 9, 12, 9, 11.0], 3) == "mixed"   # exactly 1 dB below
    assert interpret.depth_sweep_kind(ks, [10, 9, 12, 9, 12.0], 3) == "problem"
    assert interpret.depth_sweep_kind(ks, [10, 13, 12, 9, 11.5], 3) == "mixed"
    with pytest.raises(ValueError, match="increasing"):
        interpret.depth_sweep_kind([1, 3, 2], [1, 2, 3], 3)
    with pytest.raises(ValueError, match="trained_k"):
        interpret.depth_sweep_kind(ks, [1, 2, 3, 4, 5], 7)
    # a depth whose output diverged (NaN) is worse than any score
    assert interpret.depth_sweep_kind(ks, [10, 9, 12, np.nan, np.nan], 3) == "procedure"
    assert interpret.depth_sweep_kind(ks, [np.nan, 13, 12, 12.5, 11.8], 3) == "mixed"
    with pytest.raises(ValueError, match="a score at the trained depth K = 3, got NaN"):
        interpret.depth_sweep_kind(ks, [10, 9, np.nan, 9, 10], 3)


def test_reset_and_ablation_losses(problem):
    A, D = problem
    initial = paper_net(A, D)
    trained = SISTARNN(A, D, None, 2.0, 0.7, 1.5, dtype=torch.float64)
    reset = interpret.reset_parameters(trained, initial, ["alpha", "lam1"])
    assert (reset.alpha.item(), reset.lam1.item(), reset.lam2.item()) == (1.0, 0.5, 1.5)
    assert trained.alpha.item() == 2.0                      # the trained network is left alone
    score = lambda net: float((net.alpha + 10 * net.lam2).detach())
    losses = interpret.ablation_losses([(trained, initial)], {"scalars": ["alpha", "lam2"],
                                                              "alpha": ["alpha"], "Dinv": ["Dinv"]}, score)
    assert losses == pytest.approx({"scalars": 6.0, "alpha": 1.0})       # Dinv: not a parameter
    with pytest.raises(ValueError, match="names"):
        interpret.reset_parameters(trained, initial, ["Dinv"])


# --------------------------------------------------------------------------------------------
# the dictionary
# --------------------------------------------------------------------------------------------


def test_wavelet_bands_match_the_dictionary():
    bands = interpret.wavelet_bands(128, "db4", 4)
    assert [(b.name, b.short, b.stop - b.start) for b in bands] == [
        ("scaling", "s", 8), ("detail 4", "d4", 8), ("detail 3", "d3", 16),
        ("detail 2", "d2", 32), ("detail 1", "d1", 64)]
    D = wavelet_dictionary(128, "db4", 4)
    finest = D[:, bands[-1].start:]
    assert np.all((np.abs(finest) > 1e-12).sum(axis=0) <= 8)     # 8 taps: compact support


def test_an_orthonormal_dictionary_has_all_singular_values_one():
    spectrum = interpret.dictionary_spectrum(wavelet_dictionary(64, "db4", 3))
    np.testing.assert_allclose(spectrum.singular_values, 1.0, atol=1e-12)
    assert spectrum.orthonormality_defect < 1e-12
    doubled = interpret.dictionary_spectrum(2 * wavelet_dictionary(64, "db4", 3))
    assert doubled.orthonormality_defect == pytest.approx(3.0) and doubled.min == pytest.approx(2.0)
    with pytest.raises(ValueError, match="square"):
        interpret.dictionary_spectrum(np.ones((3, 4)))


def test_atom_changes_and_recognition(problem):
    _, D0 = problem
    scale = np.linspace(0.5, 2.0, N)
    delta, norms = interpret.atom_changes(D0 * scale, D0)
    np.testing.assert_allclose(delta, np.abs(scale - 1), atol=1e-12)
    np.testing.assert_allclose(norms, scale, atol=1e-12)
    assert interpret.atom_recognition(D0 * scale, D0) == pytest.approx((1.0, 1.0))
    shifted = np.roll(D0, 1, axis=1)                   # every atom is now another wavelet
    assert interpret.atom_recognition(shifted, D0)[1] == 0.0


def test_change_structure_locates_a_change(problem):
    A0, D0 = problem
    Q, _ = np.linalg.qr(A0.T)
    in_rows = D0 + 0.1 * np.outer(Q[:, 0], np.ones(N))       # rank one, in the row space of A0
    s = interpret.change_structure(in_rows, D0, A0, n_components=1)
    assert s["row_space"] == pytest.approx(1.0) and s["leading"] == pytest.approx(1.0)
    on_support = D0 * 1.1                                    # each atom scaled: all on its support
    assert interpret.change_structure(on_support, D0, A0)["outside_support"] == pytest.approx(0.0)


def test_inverse_defects(problem):
    _, D = problem
    assert interpret.inverse_defects(D.T, D) == pytest.approx(
        {"to_transpose": 0.0, "inverse": 0.0, "transpose": 0.0}, abs=1e-12)
    B = D @ np.diag(np.linspace(1, 2, N))
    out = interpret.inverse_defects(np.linalg.inv(B), B)
    assert out["inverse"] < 1e-12 and out["transpose"] == pytest.approx(3.0)


# --------------------------------------------------------------------------------------------
# A, F, the codes
# --------------------------------------------------------------------------------------------


def test_measurement_alignment_and_dynamics():
    A0 = paper_measurement_matrix(8, 16)
    assert interpret.measurement_alignment(2 * A0, A0) == pytest.approx((1.0, 2 * np.linalg.norm(A0, 2)))
    F = np.eye(5) + 0.1 * np.eye(5, k=1) - 0.2 * np.eye(5)
    np.testing.assert_allclose(interpret.diagonal_means(F, [-1, 0, 1]), [0.0, 0.8, 0.1])
    change = interpret.dynamics_change(F, band=1)
    assert change["band_energy"] == pytest.approx(1.0) and change["outside_band"] == pytest.approx(0.0)
    assert change["off_diagonal_mean"] == pytest.approx(0.4 / 20)
    assert change["uniform_band"] == pytest.approx(13 / 25)
    assert math.isnan(interpret.dynamics_change(np.eye(5))["band_energy"])
    with pytest.raises(ValueError, match="offsets"):
        interpret.diagonal_means(F, [5])


def test_code_sparsity_counts_codes():
    h = np.zeros((2, 3, 4))
    h[0, 0, 0] = 2.0                      # one code with one atom, one with two, four empty
    h[1, 2, :2] = [1.0, -1.0]
    out = interpret.code_sparsity(h, k=1, bands=interpret.wavelet_bands(4, "haar", 1))
    assert out["nonzero_fraction"] == pytest.approx(3 / 24)
    assert out["nonzero_per_column"] == pytest.approx(3 / 6)
    assert out["few_fraction"] == pytest.approx(5 / 6)    # codes with fewer than N/2 = 2 atoms
    np.testing.assert_allclose(out["atom_usage"], [2 / 6, 1 / 6, 0, 0])
    assert out["usage_s"] == pytest.approx(0.25) and out["usage_d1"] == 0.0
    # empty codes count as fully represented (energy share 1), the two-atom code as 1/2
    assert out["energy_top_k"] == pytest.approx((5 + 0.5) / 6)
    with pytest.raises(ValueError, match="k"):
        interpret.code_sparsity(h, k=5)


# --------------------------------------------------------------------------------------------
# the black boxes
# --------------------------------------------------------------------------------------------


def test_spectra_of_recurrent_matrices():
    c, s = np.cos(0.3), np.sin(0.3)
    assert interpret.spectral_radius(0.9 * np.array([[c, -s], [s, c]])) == pytest.approx(0.9)
    W0 = np.diag(np.arange(12, 0, -1.0))
    out = interpret.spectrum_change(W0, 2 * W0, skip=2)
    assert (out["top_initial"], out["top"], out["n_above"]) == (12.0, 24.0, 6)
    assert out["bulk_change"] == pytest.approx(1.0)
    assert interpret.lstm_forget_bias(LSTMBaseline(3, 4, 5, n_layers=2), 1).tolist() == [1.0] * 4


def test_signed_permutations_are_orthogonal_and_reproducible():
    Q = interpret.signed_permutation(7, np.random.default_rng(5))
    np.testing.assert_array_equal(Q.T @ Q, np.eye(7))
    assert set(np.abs(Q).sum(axis=0)) == {1.0}
    np.testing.assert_array_equal(Q, interpret.signed_permutation(7, np.random.default_rng(5)))
    with pytest.raises(TypeError, match="rng"):
        interpret.signed_permutation(7, 5)


def test_permuted_stacked_rnn_computes_the_same_outputs():
    net = StackedRNN(M, 5, N, n_layers=3, seed=1, dtype=torch.float64)
    with torch.no_grad():
        net.b.normal_(0.2, 0.1)
        net.h0.normal_()
    rng = np.random.default_rng(4)
    twin = interpret.permute_stacked_rnn(net, [interpret.signed_permutation(5, rng) for _ in range(3)])
    x = torch.as_tensor(rng.standard_normal((9, 2, M)))
    with torch.no_grad():
        assert interpret.relative_gap(net(x), twin(x)) < 1e-13
    assert float((twin.S[1] - net.S[1]).detach().norm()) > 0.1          # the weights themselves differ
    with pytest.raises(ValueError, match="one matrix per layer"):
        interpret.permute_stacked_rnn(net, [np.eye(5)])


def test_relative_gap_and_order_of_magnitude():
    assert interpret.relative_gap(np.array([2.0, -4.0]), np.array([2.0, -3.0])) == 0.25
    assert interpret.order_of_magnitude(3.8e-15) == pytest.approx(1e-14)
    assert interpret.order_of_magnitude(1e-3) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="all zeros"):
        interpret.relative_gap(np.zeros(2), np.ones(2))


# --------------------------------------------------------------------------------------------
# loading and checking a study; the whole reading
# --------------------------------------------------------------------------------------------


def test_load_run_and_snapshot_mismatch(tmp_path, problem):
    A, D = problem
    trained = SISTARNN(A, D, None, 1.5, 0.6, 0.9, dtype=torch.float64)
    save_parameters(tmp_path / "ckpt.safetensors", trained)
    results = {"config": {"dtype": "float64"}, "models": ["sista_rnn"],
               "runs": {"sista_rnn": {"0": {"checkpoint": "ckpt.safetensors"}}}}
    loaded, initial = interpret.load_run(results, tmp_path, "sista_rnn", 0, A, D)
    assert loaded.alpha.item() == 1.5 and initial.alpha.item() == 1.0 and not loaded.training
    assert list(interpret.load_runs(results, tmp_path, A, D)["sista_rnn"]) == [0]
    assert interpret.snapshot_mismatch(initial, parameter_snapshot(initial)) == 0.0
    assert interpret.snapshot_mismatch(loaded, parameter_snapshot(initial)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="seed"):
        interpret.load_run(results, tmp_path, "sista_rnn", 3, A, D)
    with pytest.raises(ValueError, match="name"):
        interpret.load_run(results, tmp_path, "lstm", 0, A, D)
    with pytest.raises(ValueError, match="does not have"):
        interpret.snapshot_mismatch(initial, {"scalars": {"beta": 1.0}, "norms": {}})


def test_load_diverged_run_reads_the_saved_best_parameters(tmp_path, problem):
    A, D = problem
    best = SISTARNN(A, D, None, 0.25, 0.4, 0.5, dtype=torch.float64)
    save_parameters(tmp_path / "best.safetensors", best)
    record = {"model": "sista_rnn", "seed": 2, "error": "gradient norm is inf", "epoch": 3,
              "step": 30, "checkpoint": "best.safetensors"}
    results = {"config": {"dtype": "float64"}, "models": [], "runs": {},
               "failed": {"sista_rnn_seed2": record,
                          "lstm_seed0": {"model": "lstm", "seed": 0, "error": "nan", "epoch": 1,
                                         "step": 1}}}
    trained, initial = interpret.load_diverged_run(results, tmp_path, "sista_rnn", 2, A, D)
    assert trained.alpha.item() == 0.25 and trained.lam2.item() == 0.5 and not trained.training
    assert initial.alpha.item() == 1.0
    with pytest.raises(ValueError, match="must be a run that diverged"):
        interpret.load_diverged_run(results, tmp_path, "sista_rnn", 0, A, D)
    with pytest.raises(ValueError, match="no parameters were saved"):
        interpret.load_diverged_run(results, tmp_path, "lstm", 0, A, D)


@pytest.mark.parametrize("name", ["stacked_rnn", "lstm"])
def test_load_run_rebuilds_a_black_box_with_the_studys_initialisation(tmp_path, name):
    from sista_lib.experiment import PRESETS, build_network
    from sista_lib.models import build_model

    A, D = paper_measurement_matrix(32, 128), wavelet_dictionary(128, "db4", 4)
    config = PRESETS["paper"]["config"].to_dict()          # the authors' initialisations
    assert (config["stacked_init"], config["lstm_init"]) == ("authors", "keras1")
    before = build_network(name, A, D, config, 1)          # what the study trained from
    save_parameters(tmp_path / "ckpt.safetensors", before)
    results = {"config": config, "runs": {name: {"1": {"checkpoint": "ckpt.safetensors"}}}}
    torch.manual_seed(123)
    state = torch.get_rng_state()
    trained, initial = interpret.load_run(results, tmp_path, name, 1, A, D)
    assert torch.equal(torch.get_rng_state(), state)       # the caller's random stream is untouched
    assert interpret.snapshot_mismatch(initial, parameter_snapshot(before)) == 0.0
    default = build_model(name, A, D, seed=1)              # another initialisation
    assert interpret.snapshot_mismatch(default, parameter_snapshot(before)) > 0.0


def test_psnr_scorer_follows_the_papers_protocol():
    from sista_lib.data import Normalizer, images_to_sequences, measure
    from sista_lib.evaluate import evaluate

    rng = np.random.default_rng(6)
    images = rng.uniform(0.2, 0.8, (3, 128, 32))
    A = paper_measurement_matrix(32, 128)
    normalizer = Normalizer.fit(images)
    x = torch.as_tensor(measure(images_to_sequences(normalizer.transform(images)), A))
    net = SISTARNN.paper_init(A, wavelet_dictionary(128, "db4", 4))
    score = interpret.psnr_scorer(x.float(), images, normalizer)
    assert score(net) == pytest.approx(float(evaluate(net, images, A, normalizer)["psnr"].mean()), abs=1e-9)
    diverging = copy.deepcopy(net)
    with torch.no_grad():
        diverging.alpha.fill_(1e-3)              # S = I - D^T(A^TA + lam2 I)D / alpha: |eigenvalues| ~ 1e3
    assert not torch.isfinite(diverging(x.float())).all() and math.isnan(score(diverging))
    with pytest.raises(ValueError, match="images"):
        interpret.psnr_scorer(x, images[:2], normalizer)


def test_read_sista_rnn_of_an_untrained_network_and_combined_readings(problem):
    A, D = problem
    net = paper_net(A, D)
    bands = interpret.wavelet_bands(N, "db2", 2)
    r = interpret.read_sista_rnn(net, net, A, D, lr=1e-3, steps=10, bands=bands)
    assert r["rel_A"] == 0.0 and r["speed_alpha"] == 0.0 and r["ortho"] < 1e-12
    assert r["atom_cos"] == pytest.approx(1.0) and r["atom_own"] == 1.0 and r["cos_A"] == pytest.approx(1.0)
    assert r["norm_s"] == pytest.approx(1.0) and r["delta_d1"] == 0.0 and r["h0_norm"] == 0.0
    assert r["regime"] == interpret.step_regime(1.0, r["L"])
    other = {**r, "alpha": 3.0, "sv_min": 0.5, "regime": "α ≥ L"}
    both = interpret.combine_readings([r, other], {"sv_min": "min"})
    assert both["alpha"] == 2.0 and both["sv_min"] == 0.5 and both["regime"] == "mixed"
    with pytest.raises(ValueError, match="how"):
        interpret.combine_readings([r], {"alpha": "median"})


def _tiny_study(tmp_path, psnr_shift=0.0):
    """A study of one SISTA-RNN run on two random images, its checkpoint and its record."""
    from sista_lib.data import Normalizer
    from sista_lib.evaluate import evaluate

    rng = np.random.default_rng(3)
    images = rng.uniform(0.2, 0.8, (2, 128, 16))
    A, D = paper_measurement_matrix(32, 128), wavelet_dictionary(128, "db4", 4)
    normalizer = Normalizer.fit(images)
    trained = SISTARNN(A, D, None, 1.2, 0.4, 0.9, dtype=torch.float64)
    save_parameters(tmp_path / "ckpt.safetensors", trained)
    recorded = evaluate(trained, images, A, normalizer)["psnr"] + np.array([0.0, psnr_shift])
    results = {"config": {"dtype": "float64", "ssim": "skimage"}, "models": ["sista_rnn"],
               "runs": {"sista_rnn": {"0": {"checkpoint": "ckpt.safetensors",
                                            "test": {"per_image": {"psnr": recorded.tolist()}}}}}}
    data = interpret.StudyData(A=A, D=D, normalizer=normalizer, test=images,
                               test_provenance=("cat[0:9,0:9]", "cat[1:9,0:9] flip h"))
    return results, data


def test_rescore_run_reproduces_the_recorded_scores(tmp_path):
    results, data = _tiny_study(tmp_path)
    scores, gap = interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data)
    assert gap == 0.0 and scores["estimates"].shape == (2, 128, 16) and scores["psnr"].shape == (2,)
    results, data = _tiny_study(tmp_path, psnr_shift=0.5)
    assert interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data)[1] == pytest.approx(0.5, abs=1e-12)
    with pytest.raises(TypeError, match="data must be a StudyData"):
        interpret.rescore_run(results, tmp_path, "sista_rnn", 0, (data.A, data.D))


def test_rescore_run_on_chosen_images_is_the_full_rescore_cut_to_them(tmp_path):
    results, data = _tiny_study(tmp_path)
    full, _ = interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data)
    results["runs"]["sista_rnn"]["0"]["test"]["per_image"]["psnr"][0] += 1.0   # only image 0 is off
    one, gap = interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data, images=[1])
    assert gap == 0.0 and one["estimates"].shape == (1, 128, 16)
    np.testing.assert_allclose(one["estimates"][0], full["estimates"][1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(one["psnr"], full["psnr"][[1]], rtol=0, atol=1e-9)
    assert interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data, images=[1, 0])[1] \
        == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"images must be indices of the 2 test images, got \[\]"):
        interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data, images=[])
    results["runs"]["sista_rnn"]["0"]["test"]["per_image"]["psnr"].pop()
    with pytest.raises(ValueError, match="the run records 1 test scores, the study's data have 2 test images"):
        interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data, images=[0])


def test_study_data_rebuilds_the_test_images_and_names_their_photos():
    from sista_lib.data import Normalizer, make_splits

    normalizer = Normalizer(mean=0.4, column_std=0.1)
    cfg = {"m": 8, "a_seed": 1, "wavelet": "db2", "level": 2, "n_test": 4, "data_seed": 7,
           "source": "bundled"}
    data = interpret.study_data({"config": cfg, "data": {"normalizer": normalizer.to_dict()}}, n=32)
    np.testing.assert_array_equal(data.A, paper_measurement_matrix(8, 32, seed=1))
    np.testing.assert_array_equal(data.D, wavelet_dictionary(32, "db2", 2))
    split = make_splits(0, 0, 4, seed=7)
    np.testing.assert_array_equal(data.test, split.test)
    assert data.test_provenance == tuple(split.provenance["test"])
    assert data.normalizer.to_dict() == normalizer.to_dict()
    photos = [p.split("[")[0] for p in split.provenance["test"]]
    assert data.test_photos == tuple(photos)
    assert data.first_of_each_photo == [photos.index(p) for p in dict.fromkeys(photos)]
    with pytest.raises(ValueError, match="results must hold config"):
        interpret.study_data({"config": cfg})


def test_study_data_spread_keeps_evenly_spaced_images_and_their_indices():
    test = np.arange(10.0)[:, None, None] * np.ones((10, 2, 3))
    data = interpret.StudyData(A=np.eye(2), D=np.eye(2), normalizer=None, test=test,
                               test_provenance=tuple(f"p{i // 4}[{i}:{i + 1}]" for i in range(10)))
    assert data.indices == list(range(10))
    four = data.spread(4)
    assert four.indices == [0, 3, 6, 9] and np.array_equal(four.test[:, 0, 0], [0, 3, 6, 9])
    assert four.test_provenance == ("p0[0:1]", "p0[3:4]", "p1[6:7]", "p2[9:10]")
    assert four.spread(2).indices == [0, 9]              # indices into the study, not into the subset
    assert data.spread(10).indices == data.indices and data.spread(1).indices == [0]
    with pytest.raises(ValueError, match="n must be at most the 10 test images, got 11"):
        data.spread(11)


def test_reproduction_gaps_on_some_images_compare_their_recorded_scores():
    net = torch.nn.Linear(1, 1)
    record = {"test": {"summary": {"psnr": {"mean": 20.0}}, "per_image": {"psnr": [10.0, 20.0, 30.0]}},
              "train": {"snapshots": [parameter_snapshot(net)]}}
    results = {"runs": {"lstm": {"0": record}}}
    pairs = {"lstm": {0: (net, net)}}
    assert interpret.reproduction_gaps(results, pairs, lambda m: 25.0, images=[1, 2]) == (0.0, 0.0)
    assert interpret.reproduction_gaps(results, pairs, lambda m: 25.0) == (5.0, 0.0)
    with pytest.raises(ValueError, match=r"images must be indices of the 3 test images, got \[3\]"):
        interpret.reproduction_gaps(results, pairs, lambda m: 25.0, images=[3])


def test_study_data_first_of_each_photo():
    data = interpret.StudyData(A=np.eye(2), D=np.eye(2), normalizer=None, test=np.zeros((4, 2, 2)),
                               test_provenance=("b[0:1]", "a[0:1]", "b[1:2] flip h", "a[2:3]"))
    assert data.test_photos == ("b", "a", "b", "a") and data.first_of_each_photo == [0, 1]


def test_reproduction_gaps_of_checkpoints_and_initial_networks(problem):
    A, D = problem
    initial = paper_net(A, D)
    trained = SISTARNN(A, D, None, 1.5, 0.6, 0.9, dtype=torch.float64)
    record = {"test": {"summary": {"psnr": {"mean": 19.25}}},
              "train": {"snapshots": [parameter_snapshot(initial)]}}
    results = {"runs": {"sista_rnn": {"0": record, "1": record}}}
    pairs = {"sista_rnn": {0: (trained, initial), 1: (trained, trained)}}
    psnr_gap, norm_gap = interpret.reproduction_gaps(results, pairs, lambda net: 20.0)
    assert psnr_gap == 0.75
    assert norm_gap == pytest.approx(0.5)            # seed 1's "initial" network is the trained one
    assert interpret.reproduction_gaps(results, {"sista_rnn": {0: (trained, initial)}},
                                       lambda net: 19.25) == (0.0, 0.0)
    with pytest.raises(ValueError, match="pairs must hold at least one run"):
        interpret.reproduction_gaps(results, {}, lambda net: 0.0)
    with pytest.raises(ValueError, match=r"pairs must hold runs of the study, got \['sista_rnn seed 2'\]"):
        interpret.reproduction_gaps(results, {"sista_rnn": {2: (trained, initial)}}, lambda net: 0.0)


def test_band_of_finds_the_band_of_an_atom():
    bands = interpret.wavelet_bands(N, "db2", 2)
    assert interpret.band_of(0, bands) == bands[0]
    assert interpret.band_of(N - 1, bands).short == "d1"
    assert interpret.band_of(bands[1].start, bands) == bands[1]
    assert interpret.band_of(bands[1].start - 1, bands) == bands[0]
    with pytest.raises(ValueError, match=rf"j must be the index of an atom of the bands \(0 to {N - 1}\), got {N}"):
        interpret.band_of(N, bands)
    with pytest.raises(ValueError, match="j must be >= 0"):
        interpret.band_of(-1, bands)


def test_reconstructions_cut_the_rescored_run_and_run_the_baselines_on_the_chosen_images(tmp_path):
    from sista_lib.evaluate import evaluate, evaluate_baselines

    results, data = _tiny_study(tmp_path, psnr_shift=0.25)
    shown, gaps = interpret.reconstructions(results, tmp_path, data, [1], ["sista_untrained", "sista_rnn"])
    assert list(shown) == ["sista_untrained", "sista_rnn"] and gaps == {"sista_rnn": pytest.approx(0.25, abs=1e-12)}
    full, _ = interpret.rescore_run(results, tmp_path, "sista_rnn", 0, data)
    np.testing.assert_allclose(shown["sista_rnn"]["estimates"], full["estimates"][[1]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(shown["sista_rnn"]["psnr"], full["psnr"][[1]], rtol=0, atol=1e-9)
    base = evaluate_baselines(data.test[[1]], data.A, data.D, data.normalizer, return_estimates=True)
    assert np.array_equal(shown["sista_untrained"]["estimates"], base["sista_untrained"]["scores"]["estimates"])
    assert interpret.reconstructions(results, tmp_path, data, [0], ["sista_rnn"])[0]["sista_rnn"]["psnr"][0] \
        == pytest.approx(float(evaluate(interpret.load_run(results, tmp_path, "sista_rnn", 0, data.A, data.D)[0],
                                        data.test[[0]], data.A, data.normalizer)["psnr"][0]))
    with pytest.raises(ValueError, match=r"images must be indices of the 2 test images, got \[2\]"):
        interpret.reconstructions(results, tmp_path, data, [2], ["sista_rnn"])
    with pytest.raises(ValueError, match=r"methods must be baselines .* got \['lstm'\]"):
        interpret.reconstructions(results, tmp_path, data, [0], ["lstm"])


def test_study_data_test_measurements_are_the_measured_normalised_columns():
    from sista_lib.data import Normalizer, images_to_sequences, measure

    rng = np.random.default_rng(7)
    images = rng.uniform(0.0, 1.0, (3, N, 5))
    A = paper_measurement_matrix(M, N)
    normalizer = Normalizer.fit(images)
    data = interpret.StudyData(A=A, D=np.eye(N), normalizer=normalizer, test=images,
                               test_provenance=("a[0:1]",) * 3)
    x = data.test_measurements()
    assert isinstance(x, torch.Tensor) and tuple(x.shape) == (5, 3, M) and x.dtype == torch.float64
    np.testing.assert_array_equal(x.numpy(), measure(images_to_sequences(normalizer.transform(images)), A))
    # column t of image i, normalised, times A
    np.testing.assert_allclose(x[2, 1].numpy(), A @ normalizer.transform(images)[1][:, 2], rtol=1e-12)


def test_sista_reading_holds_the_eigenvalue_range_of_the_iteration_matrix(problem):
    A, D = problem
    p = interpret.sista_reading(paper_net(A, D))
    # orthonormal D, alpha = lam2 = 1: S = -A^T A, whose largest eigenvalue is 0 (M < N)
    assert p["s_lo"] == pytest.approx(1 - p["L"], abs=1e-12) and p["s_hi"] == pytest.approx(0.0, abs=1e-12)
    assert (p["s_lo"], p["s_hi"]) == interpret.iteration_eigenvalue_range(A, D, 1.0, 1.0)


def test_lstm_recurrent_weights_pair_every_layer_before_and_after():
    initial = LSTMBaseline(3, 4, 5, n_layers=2, seed=0)
    trained = copy.deepcopy(initial)
    with torch.no_grad():
        trained.lstm.weight_hh_l1.mul_(2.0)
    pairs = interpret.lstm_recurrent_weights(initial, trained)
    assert len(pairs) == 2 and pairs[0][0].shape == (16, 4) and pairs[0][0].dtype == np.float32
    np.testing.assert_array_equal(pairs[0][0], pairs[0][1])
    np.testing.assert_array_equal(pairs[1][1], 2 * initial.lstm.weight_hh_l1.detach().numpy())
    with pytest.raises(ValueError, match="initial and trained must have the same number of layers, got 2 and 3"):
        interpret.lstm_recurrent_weights(initial, LSTMBaseline(3, 4, 5, n_layers=3))
    with pytest.raises(TypeError, match="trained must be an LSTMBaseline or torch.nn.LSTM, got StackedRNN"):
        interpret.lstm_recurrent_weights(initial, StackedRNN(M, 4, N))


# --------------------------------------------------------------------------------------------
# the tables of a reading
# --------------------------------------------------------------------------------------------


def _study_record():
    """The parts of a results dict that the tables and the quoted numbers read."""
    summary = {"sista_rnn": {"psnr": {"mean": 20.384, "std": 0.0123, "initial_mean": 18.999}},
               "lstm": {"psnr": {"mean": 21.005, "std": 0.5, "initial_mean": 5.0}}}
    runs = {m: {str(s): {"train": {"best_epoch": e}} for s, e in zip((0, 1), epochs)}
            for m, epochs in (("sista_rnn", (24, 30)), ("lstm", (99, 7)))}
    baselines = {"lasso_converged": {"summary": {"psnr": {"mean": 19.016}}},
                 "sista_converged": {"summary": {"psnr": {"mean": 18.5}}}}
    return {"config": {"n_test": 12}, "seeds": [0, 1], "models": ["sista_rnn", "lstm"],
            "summary": summary, "runs": runs, "baselines": baselines}


def test_score_rows_give_each_networks_scores_and_best_epochs():
    header, rows = interpret.score_rows(_study_record())
    assert header == ["network", "test PSNR (dB), mean ± std over seeds", "at initialisation",
                      "best epoch per seed"]
    assert rows == [["SISTA-RNN (paper)", "20.38 ± 0.01", "19.00", "24, 30"], ["LSTM", "21.00 ± 0.50", "5.00", "99, 7"]]
    broken = _study_record()
    del broken["runs"]["lstm"]["1"]
    with pytest.raises(ValueError, match="results must hold the summary and every seed's run of model 'lstm'"):
        interpret.score_rows(broken)
    broken["failed"] = {"lstm_seed1": {"model": "lstm", "seed": 1, "epoch": 5, "step": 50}}
    assert interpret.score_rows(broken)[1][1][-1] == "99, diverged"


def test_scalar_rows_start_with_the_initial_values():
    cols = ["alpha", "lam1", "lam2", "b", "pull", "L", "ratio"]
    initial = dict(zip(cols, [1.0, 0.5, 1.0, 0.5, 1.0, 1.96, 1 / 1.96]))
    run = {**initial, "alpha": 1.25, "b": 0.4}
    header, rows = interpret.scalar_rows(initial, {"net": {3: run}}, {"net": {3: 17}})
    assert header == ["network", "seed", "best epoch", "α", "λ1", "λ2", "b = λ1/α", "λ2/α", "L", "α/L"]
    assert rows == [["initial (both variants)", "", "", "1.0000", "0.5000", "1.0000", "0.5000", "1.0000",
                     "1.9600", "0.5102"],
                    ["net", 3, 17, "1.2500", "0.5000", "1.0000", "0.4000", "1.0000", "1.9600", "0.5102"]]
    with pytest.raises(ValueError, match=r"best must hold the best epoch of 'net' seed 3"):
        interpret.scalar_rows(initial, {"net": {3: run}}, {"net": {}})
    with pytest.raises(ValueError, match=r"initial must hold .* got none for \['ratio'\]"):
        interpret.scalar_rows({k: initial[k] for k in cols[:-1]}, {"net": {3: run}}, {"net": {3: 17}})


def test_ablation_rows_leave_a_group_a_variant_lacks_empty():
    losses = {"paper": {"A": 1.234, "F": 0.5}, "released": {"A": 2.0, "Dinv": 0.125, "F": -0.1}}
    header, rows = interpret.ablation_rows(losses, {"paper": 3.0, "released": 2.5}, ["A", "Dinv", "F"])
    assert header == ["parameter reset to its initial value", "PSNR lost (dB), paper variant",
                      "PSNR lost (dB), released variant"]
    assert rows == [["A", "1.23", "2.00"], ["Dinv", "", "0.12"], ["F", "0.50", "-0.10"],
                    ["all (the untrained network)", "3.00", "2.50"]]
    _, rows = interpret.ablation_rows({"paper": {"A": math.nan}}, {"paper": 3.0}, ["A"])
    assert rows[0] == ["A", "diverges"]
    with pytest.raises(ValueError, match=r"gains must hold the gain of every variant of losses, got none for \['released'\]"):
        interpret.ablation_rows(losses, {"paper": 3.0}, ["A"])


def test_drift_rows_mark_tensors_that_start_at_zero_or_are_missing():
    readings = {"paper": {"rel_A": 0.12345, "speed_A": 0.456, "rel_h0": math.nan, "speed_h0": 0.25},
                "released": {"rel_A": 0.5, "speed_A": 1.0, "rel_Dinv": 0.01, "speed_Dinv": 0.02}}
    header, rows = interpret.drift_rows(readings, ["A", "Dinv", "h0"])
    assert header == ["tensor", "relative change, paper", "mean |Δ| / (η s), paper",
                      "relative change, released", "mean |Δ| / (η s), released"]
    assert rows == [["A", "0.1235", "0.46", "0.5000", "1.00"], ["Dinv", "", "", "0.0100", "0.02"],
                    ["h0", "(from 0)", "0.25", "", ""]]
    with pytest.raises(ValueError, match="readings must be a non-empty mapping of variants to readings, got an empty mapping"):
        interpret.drift_rows({}, ["A"])


def test_band_rows_count_the_atoms_of_each_band():
    bands = interpret.wavelet_bands(N, "db2", 2)            # 4 scaling, 4 + 8 detail atoms
    reading = {f"{q}_{b.short}": x for b, x in zip(bands, (0.1, 0.2, 0.3)) for q in ("delta", "norm")}
    header, rows = interpret.band_rows({"paper": reading}, bands)
    assert header == ["band", "atoms", "mean δ_j, paper", "mean ‖d_j‖, paper"]
    assert rows == [["scaling", 4, "0.1000", "0.1000"], ["detail 2", 4, "0.2000", "0.2000"],
                    ["detail 1", 8, "0.3000", "0.3000"]]
    with pytest.raises(ValueError, match=r"readings\['paper'\] must hold the band means .* got none for \['d1'\]"):
        interpret.band_rows({"paper": {k: v for k, v in reading.items() if "d1" not in k}}, bands)


def test_sparsity_rows_of_counted_codes():
    h = np.zeros((2, 4))
    h[0, :3] = 1.0                                          # one code with 3 of 4 atoms, one empty
    header, rows = interpret.sparsity_rows({"net": interpret.code_sparsity(h, k=2)}, k=2)
    assert header[-1] == "energy in the 2 largest" and header[0] == "codes"
    assert rows == [["net", "0.3750", "1.5", "0.5000", f"{(2 / 3 + 1) / 2:.4f}"]]
    with pytest.raises(TypeError, match="sparsity must be a non-empty mapping of labels to code_sparsity results, got list"):
        interpret.sparsity_rows([h])
    with pytest.raises(ValueError, match=r"sparsity\['net'\] must be a code_sparsity result, got none for \['few_fraction'\]"):
        interpret.sparsity_rows({"net": {"nonzero_fraction": 0.5, "nonzero_per_column": 2.0, "energy_top_k": 1.0}})


def test_change_rows_label_the_networks():
    changes = {"lstm": {"w": interpret.GroupChange(0.25, {(4, 2): 3}),
                        "b": interpret.GroupChange(math.nan, {(4,): 1})}}
    header, rows = interpret.change_rows(changes)
    assert header == ["network", "tensor", "shape", "relative change"]
    assert rows == [["LSTM", "w", "3 × (4 × 2)", "0.2500"], ["LSTM", "b", "4", "(from 0)"]]


# --------------------------------------------------------------------------------------------
# the numbers the prose quotes
# --------------------------------------------------------------------------------------------


def test_score_values_round_the_scores_and_name_the_best():
    values = interpret.score_values(_study_record())
    assert values == {"psnr_sista_rnn": 20.38, "psnr_lstm": 21.0, "psnr_lasso_conv": 19.02,
                      "psnr_sista_conv": 18.5, "temporal_verdict": "costs more than it brings",
                      "n_test": 12, "n_seeds": 2, "best_model": "LSTM"}
    study = _study_record()
    study["baselines"]["sista_converged"]["summary"]["psnr"]["mean"] = 19.016   # as good as the Lasso
    assert interpret.score_values(study)["temporal_verdict"] == "helps"
    del study["baselines"]
    assert "psnr_lasso_conv" not in interpret.score_values(study)
    with pytest.raises(ValueError, match="results must hold config.n_test, seeds, models"):
        interpret.score_values({"seeds": [0]})


def test_initial_values_of_the_papers_initialisation():
    A0, D0 = paper_measurement_matrix(8, N), wavelet_dictionary(N, "db2", 2)
    bands = interpret.wavelet_bands(N, "db2", 2)
    p = interpret.sista_reading(paper_net(A0, D0))
    values = interpret.initial_values(p, bands)
    L = np.linalg.norm(A0, 2) ** 2 + 1.0                    # orthonormal D0: ||A0||^2 + lam2
    assert values["L_init"] == round(L, 4) and values["ratio_init"] == round(1 / L, 4)
    assert values["s_lo_init"] == round(1 - L, 4) and values["s_hi_init"] == 0.0   # no sign: 0, not -0
    assert str(values["s_hi_init"]) == "0.0" and values["regime_init"] == p["regime"]
    assert values["a_entry"] == round(1 / (3 * np.sqrt(8)), 4) and values["rowspace_random"] == 0.5
    assert values["normA0"] == round(np.linalg.norm(A0, 2), 4)
    assert values["finest_support"] == 4                    # db2: four taps
    low_rank = {**p, "A": np.vstack([A0[:4], A0[:4]])}      # 8 rows, rank 4
    assert interpret.initial_values(low_rank, bands)["rowspace_random"] == 0.25
    with pytest.raises(ValueError, match=r"bands must be the bands of the 16 atoms of D0"):
        interpret.initial_values(p, bands[:2])
    with pytest.raises(ValueError, match=r"initial must be sista_reading of the initial network, got none for \['s_lo', 's_hi'\]"):
        interpret.initial_values({k: v for k, v in p.items() if not k.startswith("s_")}, bands)


def test_reading_values_suffix_each_variant_and_look_across_all_runs():
    def reading(alpha, rel_lam1, regime, atom_cos):
        return {"alpha": alpha, "rel_alpha": abs(alpha - 1.0), "rel_lam1": rel_lam1, "rel_lam2": 0.01,
                "speed_alpha": alpha / 3, "regime": regime, "atom_cos": atom_cos, "atom_own": 1.0}

    paper = [reading(1.1, 0.02, "α ≤ L/2", 0.9), reading(1.3, 0.04, "α ≤ L/2", 0.8)]
    released = {0: reading(0.95, 0.123456, "L/2 < α < L", 0.95)}
    values = interpret.reading_values({"paper": paper, "released": released}, {"atom_cos": "min"})
    assert values["alpha_paper"] == 1.2 and values["rel_alpha_paper"] == 0.2
    assert values["speed_alpha_paper"] == 0.4 and values["speed_alpha_released"] == 0.32   # two decimals
    assert values["atom_cos_paper"] == 0.8 and values["regime_paper"] == "α ≤ L/2"
    assert values["rel_lam1_released"] == 0.1235 and values["regime_released"] == "L/2 < α < L"
    assert values["scalar_change_pct"] == 30.0          # alpha of the second paper run: 1.3 against 1
    assert values["regime_trained"] == "mixed" and values["atom_cos_min"] == 0.8 and values["atom_own_min"] == 1.0
    assert interpret.reading_values({"paper": paper})["regime_trained"] == "α ≤ L/2"
    with pytest.raises(ValueError, match=r"readings\['released'\] must hold at least one reading, got none"):
        interpret.reading_values({"paper": paper, "released": []})


def test_ablation_values_order_the_losses():
    values = interpret.ablation_values({"paper": {"A": 0.5, "F": 2.126, "D": 1.0}}, {"paper": 3.004})
    assert values == {"ablate_top_paper": "F", "ablate_second_paper": "D", "ablate_top_loss_paper": 2.13,
                      "ablate_all_paper": 3.0, "ablate_sum_paper": 3.63, "ablate_n_diverged_paper": 0,
                      "ablate_diverged_paper": "none"}
    # a reset whose network diverges costs more than any other
    values = interpret.ablation_values({"paper": {"A": math.nan, "F": 2.126, "D": math.nan, "h0": 0.0}},
                                       {"paper": 3.0})
    assert (values["ablate_top_paper"], values["ablate_second_paper"]) == ("A", "D")
    assert values["ablate_n_diverged_paper"] == 2 and values["ablate_diverged_paper"] == "A, D"
    assert math.isnan(values["ablate_top_loss_paper"]) and math.isnan(values["ablate_sum_paper"])
    with pytest.raises(ValueError, match=r"losses\['paper'\] must hold at least two groups"):
        interpret.ablation_values({"paper": {"A": 0.5}}, {"paper": 1.0})
    with pytest.raises(ValueError, match="gains must hold the gain of every variant of losses, got none for 'paper'"):
        interpret.ablation_values({"paper": {"A": 0.5, "F": 1.0}}, {})


def test_depth_sweep_values_quote_every_depth_and_judge_the_learned_ones():
    ks = [1, 2, 3, 8]
    values = interpret.depth_sweep_values(ks, {"untrained": [18.0, 18.004, 18.0, 17.996],
                                               "paper": np.array([15.0, 12.0, 20.384, 14.0])}, 3)
    assert values["k_max"] == 8 and values["sweep_k3_paper"] == 20.38 and values["sweep_kmax_paper"] == 14.0
    assert (values["sweep_min_untrained"], values["sweep_max_untrained"]) == (18.0, 18.0)
    assert values["sweep_verdict_paper"] == "procedure" and "sweep_verdict_untrained" not in values
    assert len(values) == 1 + 2 * (len(ks) + 4) + 1 and values["sweep_diverged_paper"] == "none"
    diverged = interpret.depth_sweep_values(ks, {"paper": [15.0, 16.0, 20.0, np.nan]}, 3)
    assert diverged["sweep_diverged_paper"] == 8 and math.isnan(diverged["sweep_kmax_paper"])
    assert (diverged["sweep_min_paper"], diverged["sweep_max_paper"]) == (15.0, 20.0)
    assert diverged["sweep_verdict_paper"] == "procedure"
    with pytest.raises(ValueError, match=r"sweeps\['paper'\] must hold one score per depth \(4\), got shape \(3,\)"):
        interpret.depth_sweep_values(ks, {"paper": [1.0, 2.0, 3.0]}, 3)


def test_sparsity_values_keep_the_numbers_not_the_arrays():
    h = np.zeros((2, 4))
    h[0, :3] = 1.0
    sp = interpret.code_sparsity(h, k=2, bands=interpret.wavelet_bands(4, "haar", 1))
    values = interpret.sparsity_values({"paper": sp})
    assert values == {"nonzero_fraction_paper": 0.375, "nonzero_per_column_paper": 1.5,
                      "energy_top_k_paper": round((2 / 3 + 1) / 2, 4), "few_fraction_paper": 0.5,
                      "usage_s_paper": 0.5, "usage_d1_paper": 0.25}


def test_change_values_leave_out_tensors_that_start_at_zero():
    changes = {"stacked_rnn": {"W": interpret.GroupChange(0.31234, {(3, 3): 1}),
                               "V": interpret.GroupChange(0.1, {(3, 2): 1}),
                               "h0": interpret.GroupChange(math.nan, {(3,): 1})}}
    assert interpret.change_values(changes) == {"change_max_stacked_rnn": 0.3123, "change_min_stacked_rnn": 0.1,
                                                "change_argmax_stacked_rnn": "W"}
    with pytest.raises(ValueError, match=r"changes\['lstm'\] must hold a group that did not start at zero"):
        interpret.change_values({"lstm": {"b": interpret.GroupChange(math.nan, {(4,): 1})}})


def test_spectrum_change_values_over_layers():
    W0 = np.diag(np.arange(12, 0, -1.0))
    layers = [interpret.spectrum_change(W0, 2 * W0, skip=2), interpret.spectrum_change(W0, W0, skip=2)]
    assert interpret.spectrum_change_values(layers) == {"lstm_top0": 12.0, "lstm_top1": 18.0,
                                                        "lstm_above_max": 6, "lstm_bulk": 1.0}
    assert set(interpret.spectrum_change_values(layers, prefix="rnn")) == {"rnn_top0", "rnn_top1",
                                                                          "rnn_above_max", "rnn_bulk"}
    with pytest.raises(ValueError, match="changes must hold at least one spectrum_change result"):
        interpret.spectrum_change_values([])

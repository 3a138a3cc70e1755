"""Tests of sista_lib.dictionaries: wavelet and DCT bases, measurement matrices."""

import numpy as np
import pytest
import pywt
from scipy.fft import dct

from sista_lib.dictionaries import (
    dct_dictionary,
    measurement_matrix,
    paper_measurement_matrix,
    wavelet_dictionary,
)


@pytest.mark.parametrize("n, wavelet, level", [(128, "db4", 4), (64, "haar", 3), (32, "sym4", 2)])
def test_wavelet_dictionary_is_orthonormal(n, wavelet, level):
    D = wavelet_dictionary(n, wavelet, level)
    np.testing.assert_allclose(D.T @ D, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(D @ D.T, np.eye(n), atol=1e-12)


def test_wavelet_dictionary_transpose_is_pywt_wavedec():
    D = wavelet_dictionary(128)
    y = np.random.default_rng(3).standard_normal(128)
    coeffs = np.concatenate(pywt.wavedec(y, "db4", mode="periodization", level=4))
    np.testing.assert_allclose(D.T @ y, coeffs, atol=1e-12)


def test_wavelet_dictionary_first_atoms_are_smooth_scaling_functions():
    # The 128 / 2**4 = 8 coarsest atoms are scaling functions: they carry the signal's mean.
    D = wavelet_dictionary(128)
    constant = np.ones(128) / np.sqrt(128)
    energy = np.sum((D.T @ constant)[:8] ** 2)
    assert energy == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((100, "db4", 4), ValueError, "divisible by 2\\*\\*level=16"),
        ((128, "bior2.2", 2), ValueError, "not orthogonal"),
        ((128, "nope", 2), ValueError, "not a PyWavelets discrete wavelet"),
        ((128, "db4", 0), ValueError, "level must be >= 1"),
        ((128.0, "db4", 4), TypeError, "n must be an integer"),
    ],
)
def test_wavelet_dictionary_errors(args, error, match):
    with pytest.raises(error, match=match):
        wavelet_dictionary(*args)


def test_dct_dictionary_square_is_orthonormal_dct():
    D = dct_dictionary(16)
    np.testing.assert_allclose(D.T @ D, np.eye(16), atol=1e-12)
    y = np.random.default_rng(0).standard_normal(16)
    np.testing.assert_allclose(D.T @ y, dct(y, norm="ortho"), atol=1e-12)


def test_overcomplete_dct_has_unit_atoms_and_spans():
    D = dct_dictionary(64, 256)
    assert D.shape == (64, 256)
    np.testing.assert_allclose(np.linalg.norm(D, axis=0), 1.0, rtol=1e-12)
    assert np.linalg.matrix_rank(D) == 64
    with pytest.raises(ValueError, match="n_atoms must be >= n=64"):
        dct_dictionary(64, 32)


def test_measurement_matrices():
    A = measurement_matrix(32, 128, "bernoulli", seed=5)
    np.testing.assert_allclose(np.abs(A), 1 / np.sqrt(32))
    np.testing.assert_array_equal(A, measurement_matrix(32, 128, seed=5))
    assert not np.array_equal(A, measurement_matrix(32, 128, seed=6))
    G = measurement_matrix(32, 128, "gaussian", seed=5)
    np.testing.assert_array_equal(np.sign(G), np.sign(A))  # same Gaussian draw underneath
    np.testing.assert_allclose(paper_measurement_matrix(seed=5), A / 3)
    with pytest.raises(ValueError, match="kind must be 'bernoulli' or 'gaussian'"):
        measurement_matrix(4, 8, "uniform")
    with pytest.raises(ValueError, match="scale must be > 0"):
        measurement_matrix(4, 8, scale=0)


def test_paper_matrix_norm_makes_alpha_one_nearly_valid():
    # sista_rnn.md: dividing by 3 brings ||A||_2 near 1 (so alpha = 1 nearly converges).
    norms = [np.linalg.norm(paper_measurement_matrix(seed=s), 2) for s in range(5)]
    assert all(0.8 < v < 1.2 for v in norms)

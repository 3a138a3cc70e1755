"""Hardening: every bad input, bad file and bad flag gets a clear answer, and nothing is lost.

Written the way a careless user calls the library: NaN in the data, a NumPy scalar where an
array was expected, a float32 problem with an absurd parameter, a string for a flag, a checkpoint
with a flipped byte, the temporary file a killed writer left behind. Each test asserts the
message (or the exact kind and shape of what comes back). The Caltech-256 loader's files are in
tests/test_data.py.
"""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sista_lib import checkpoints as cp
from sista_lib.data import (
    CompressiveSensingDataset,
    Normalizer,
    collate_time_major,
    list_photos,
    make_crops,
    make_splits,
    measure,
    to_grey,
)
from sista_lib.dictionaries import (
    dct_dictionary,
    measurement_matrix,
    paper_measurement_matrix,
    wavelet_dictionary,
)
from sista_lib.metrics import mse, psnr, quantize_8bit, ssim, summarize
from sista_lib.sista import augmented_lasso, sista, sista_objective, sista_step_size, sista_weights
from sista_lib.sparse import fista, ista, lasso_objective, lipschitz_constant, soft_threshold

REPO = Path(__file__).resolve().parents[1]
M, N, T, B = 8, 16, 5, 3


@pytest.fixture
def small():
    """A float64 SISTA problem (A, D, F, x) and a Lasso problem (Phi, y)."""
    rng = np.random.default_rng(0)
    A = paper_measurement_matrix(M, N, seed=1)
    D = wavelet_dictionary(N, "haar", level=2)
    F = np.eye(N)
    x = rng.standard_normal((T, B, M))
    return A, D, F, x


def _f32(*arrays):
    return [np.asarray(a, dtype=np.float32) for a in arrays]


# ------------------------------------------------------------------------------------------
# kinds and shapes: NumPy in, NumPy out; 0-d stays 0-d; float64 stays float64
# ------------------------------------------------------------------------------------------
def test_a_numpy_scalar_comes_back_as_a_numpy_scalar():
    out = soft_threshold(np.float64(3.0), 1.0)
    assert isinstance(out, np.float64) and not isinstance(out, torch.Tensor)
    assert out == 2.0
    out32 = soft_threshold(np.float32(-3.0), 1.0)
    assert isinstance(out32, np.float32) and out32 == -2.0


def test_a_zero_d_array_stays_zero_d():
    out = soft_threshold(np.array(0.25), 0.5)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert out == 0.0
    t = soft_threshold(torch.tensor(2.0, dtype=torch.float64), 0.5)
    assert isinstance(t, torch.Tensor) and t.shape == () and t.dtype == torch.float64


def test_a_python_number_does_not_turn_into_a_tensor():
    out = soft_threshold(-5.0, 2.0)
    assert not isinstance(out, torch.Tensor) and out == -3.0


def test_reversed_and_big_endian_arrays_give_the_same_answer():
    z = np.linspace(-2, 2, 9)
    expected = soft_threshold(z, 0.5)
    np.testing.assert_array_equal(soft_threshold(z[::-1].copy()[::-1], 0.5), expected)
    big_endian = z.astype(">f8")
    out = soft_threshold(big_endian, 0.5)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float64


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize == 8, reason="longdouble is float64 here")
def test_extended_precision_is_refused_not_truncated():
    with pytest.raises(TypeError, match="z must be float32 or float64, got float128"):
        soft_threshold(np.ones(3, dtype=np.longdouble), 0.1)


def test_lasso_objective_keeps_float64_when_h_is_float64():
    rng = np.random.default_rng(1)
    Phi, y = _f32(rng.standard_normal((M, N)), rng.standard_normal(M))
    h = rng.standard_normal(N)  # float64
    value = lasso_objective(Phi, y, h, 0.1)
    assert value.shape == () and value.dtype == np.float64


# ------------------------------------------------------------------------------------------
# NaN and infinity are refused at the public entry
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_soft_threshold_refuses_non_finite_input(bad):
    z = np.array([1.0, bad, -1.0])
    with pytest.raises(ValueError, match="z contains NaN or infinite values"):
        soft_threshold(z, 0.1)


def test_soft_threshold_refuses_a_threshold_that_overflows_float32():
    z = np.ones(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"threshold=1e\+39 overflows float32"):
        soft_threshold(z, 1e39)
    with pytest.raises(ValueError, match="threshold overflows float32"):
        soft_threshold(z, np.full(4, 1e39))
    np.testing.assert_array_equal(soft_threshold(z.astype(np.float64), 1e39), np.zeros(4))


def test_lasso_objective_refuses_nan_in_h():
    rng = np.random.default_rng(2)
    Phi, y = rng.standard_normal((M, N)), rng.standard_normal((2, M))
    h = np.zeros((2, N))
    h[1, 3] = np.nan
    with pytest.raises(ValueError, match="h contains NaN or infinite values"):
        lasso_objective(Phi, y, h, 0.1)


def test_measure_refuses_nan_and_overflow():
    A = paper_measurement_matrix(M, N)
    y = np.ones((2, N))
    y[0, 0] = np.nan
    with pytest.raises(ValueError, match="y contains NaN or infinite values"):
        measure(y, A)
    A_bad = A.copy()
    A_bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="A contains NaN or infinite values"):
        measure(np.ones(N), A_bad)
    with pytest.raises(ValueError, match="x = A y overflow float32"):
        measure(np.full(N, 3e38, dtype=np.float32), np.ones((M, N), dtype=np.float32))


def test_normalizer_transform_refuses_nan():
    norm = Normalizer(0.5, 0.2)
    images = np.full((1, 4, 4), 0.5)
    images[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="images contains NaN or infinite values"):
        norm.transform(images)
    with pytest.raises(ValueError, match="images overflow float32 once normalised"):
        norm.transform(np.full((2, 2), 3e38, dtype=np.float32))


def test_dataset_refuses_a_nan_measurement_matrix_and_accepts_an_empty_split():
    A = paper_measurement_matrix(M, N)
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="A contains NaN or infinite values"):
        CompressiveSensingDataset(np.ones((2, N, 6)), A, None)
    empty = CompressiveSensingDataset(np.ones((0, N, 6)), paper_measurement_matrix(M, N), None)
    assert len(empty) == 0 and empty.x.shape == (0, 6, M) and empty.y.shape == (0, 6, N)


def test_dataset_refuses_values_that_overflow_float32():
    images = np.full((1, N, 4), 1e39)
    with pytest.raises(ValueError, match="y overflows float32: use dtype=torch.float64"):
        CompressiveSensingDataset(images, paper_measurement_matrix(M, N), None)
    ds = CompressiveSensingDataset(images, paper_measurement_matrix(M, N), None,
                                   dtype=torch.float64)
    assert torch.isfinite(ds.y).all()


def test_to_grey_refuses_nan_in_the_colour_channels_only():
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0, 1] = np.inf
    with pytest.raises(ValueError, match="image contains NaN or infinite values"):
        to_grey(rgb)
    rgba = np.zeros((2, 2, 4))
    rgba[..., 3] = np.nan  # alpha is dropped: its NaN does not matter
    np.testing.assert_array_equal(to_grey(rgba), np.zeros((2, 2)))


@pytest.mark.parametrize("metric", [mse, psnr])
def test_metrics_of_empty_arrays_raise_instead_of_nan(metric):
    with pytest.raises(ValueError, match=r"reference and estimate are empty \(shape \(0,\)\)"):
        metric(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="empty"):
        metric(np.zeros((3, 0)), np.zeros((3, 0)))


def test_metric_axis_errors_name_the_axis():
    a = np.zeros((2, 3))
    with pytest.raises(TypeError, match="axis must be None, an int or a tuple of ints, got 'rows'"):
        mse(a, a, axis="rows")
    with pytest.raises(ValueError, match="axis 2 is out of range for arrays of 2 dimensions"):
        mse(a, a, axis=2)
    with pytest.raises(ValueError, match="axis has repeated entries"):
        mse(a, a, axis=(1, -1))
    np.testing.assert_array_equal(mse(a, a + 1.0, axis=-1), np.ones(2))


def test_summarize_refuses_empty_and_nan_scores_but_keeps_a_perfect_psnr():
    with pytest.raises(ValueError, match=r"scores\['psnr'\] is empty"):
        summarize({"psnr": np.array([])})
    with pytest.raises(ValueError, match=r"scores\['mse'\] contains NaN"):
        summarize({"mse": np.array([1.0, np.nan])})
    with pytest.raises(TypeError, match="scores must be a dict"):
        summarize([1.0, 2.0])
    s = summarize({"psnr": np.array([np.inf, 30.0])})
    assert s["psnr"]["mean"] == np.inf and s["psnr"]["n"] == 2


def test_quantize_and_ssim_refuse_empty_or_badly_named_input():
    with pytest.raises(ValueError, match="images is empty"):
        quantize_8bit(np.zeros((0, 8, 8)))
    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match=r"convention must be one of \('skimage', 'matlab'\)"):
        ssim(img, img, convention=["matlab"])


# ------------------------------------------------------------------------------------------
# values after the cast to the working dtype
# ------------------------------------------------------------------------------------------
def test_sista_float32_refuses_an_alpha_that_becomes_inf(small):
    A, D, F, x = _f32(*small)
    with pytest.raises(ValueError, match=r"alpha=1e\+39 overflows float32 \(the working dtype"):
        sista(x, A, D, F, 1e39, 0.1, 0.1)
    with pytest.raises(ValueError, match="alpha=1e\\+39 overflows float32"):
        sista_weights(A, D, F, 1e39, 0.1, 0.1)


def test_sista_float32_refuses_a_lam1_that_becomes_zero(small):
    A, D, F, x = _f32(*small)
    with pytest.raises(ValueError, match=r"lam1=1e-50 underflows in float32"):
        sista(x, A, D, F, 2.0, 1e-50, 0.1)
    with pytest.raises(ValueError, match=r"lam2=1e-50 underflows in float32"):
        sista_objective(x[0], A, D, F, 0.1, 1e-50, np.zeros((B, N), np.float32),
                        np.zeros((B, N), np.float32))
    with pytest.raises(ValueError, match=r"lam2=1e-45 underflows in float32"):
        augmented_lasso(A, D, F, 1e-45, x[0], np.zeros((B, N), np.float32))


def test_sista_refuses_a_threshold_lam1_over_alpha_that_vanishes(small):
    A, D, F, x = _f32(*small)
    with pytest.raises(ValueError, match=r"lam1 / alpha \(the threshold\)=1e-40 underflows"):
        sista(x, A, D, F, 1e20, 1e-20, 0.0)


def test_the_same_values_are_fine_in_float64(small):
    A, D, F, x = small
    h = sista(x, A, D, F, 2.0, 1e-50, 0.1)
    assert h.dtype == np.float64 and np.isfinite(h).all()


def test_ista_float32_checks_lam_step_and_tol_after_the_cast():
    rng = np.random.default_rng(3)
    Phi, y = _f32(rng.standard_normal((M, N)), rng.standard_normal((2, M)))
    with pytest.raises(ValueError, match="lam=1e-50 underflows in float32"):
        ista(Phi, y, 1e-50)
    with pytest.raises(ValueError, match=r"step=1e\+39 overflows float32"):
        fista(Phi, y, 0.1, step=1e39)
    with pytest.raises(ValueError, match="tol=1e-60 underflows in float32"):
        ista(Phi, y, 0.1, tol=1e-60)
    with pytest.raises(ValueError, match=r"step \* lam \(the threshold\)=1e-40 underflows"):
        ista(Phi, y, 1e-30, step=1e-10)
    h = ista(Phi.astype(np.float64), y.astype(np.float64), 1e-50, n_iter=3)
    assert h.dtype == np.float64
    with pytest.raises(ValueError, match="lam must be finite, got an integer too large"):
        ista(Phi, y, 10**400)


# ------------------------------------------------------------------------------------------
# flags: a string is not a bool
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["polish", "return_history"])
@pytest.mark.parametrize("solver", [ista, fista])
def test_solver_flags_given_as_strings_are_refused(solver, flag):
    rng = np.random.default_rng(4)
    Phi, y = rng.standard_normal((M, N)), rng.standard_normal(M)
    with pytest.raises(TypeError, match=f"{flag} must be a bool \\(True or False\\), got str 'no'"):
        solver(Phi, y, 0.1, **{flag: "no"})


def test_fista_restart_flag_must_be_a_bool():
    rng = np.random.default_rng(5)
    with pytest.raises(TypeError, match="restart must be a bool .* got int 1"):
        fista(rng.standard_normal((M, N)), rng.standard_normal(M), 0.1, restart=1)
    h = fista(rng.standard_normal((M, N)), rng.standard_normal(M), 0.1, restart=np.bool_(True))
    assert h.shape == (N,)


def test_crop_flags_must_be_bools():
    with pytest.raises(TypeError, match="flips must be a bool .* got str 'no'"):
        make_crops(["camera"], 1, flips="no")
    with pytest.raises(TypeError, match="return_info must be a bool"):
        make_crops(["camera"], 1, return_info="yes")


# ------------------------------------------------------------------------------------------
# smaller API gaps
# ------------------------------------------------------------------------------------------
def test_negative_seeds_are_refused_by_name():
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        measurement_matrix(4, 8, seed=-1)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        paper_measurement_matrix(seed=-1)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -3"):
        make_crops(["camera"], 1, seed=-3)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_splits(1, 1, 1, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer, got float 0.5"):
        measurement_matrix(4, 8, seed=0.5)


def test_measurement_matrix_kind_must_be_a_name():
    with pytest.raises(ValueError, match="kind must be 'bernoulli' or 'gaussian', got array"):
        measurement_matrix(4, 8, kind=np.array(["bernoulli"]))


@pytest.mark.parametrize("function", ["sista", "sista_objective", "sista_weights",
                                      "augmented_lasso"])
def test_F_none_is_refused_with_a_hint(small, function):
    A, D, _, x = small
    h = np.zeros((B, N))
    calls = {
        "sista": lambda: sista(x, A, D, None, 2.0, 0.1, 0.1),
        "sista_objective": lambda: sista_objective(x[0], A, D, None, 0.1, 0.1, h, h),
        "sista_weights": lambda: sista_weights(A, D, None, 2.0, 0.1, 0.1),
        "augmented_lasso": lambda: augmented_lasso(A, D, None, 0.1, x[0], h),
    }
    with pytest.raises(TypeError, match=r"F must be an \(N, N\) array .*numpy.eye\(N\)\), got None"):
        calls[function]()


def test_scale_range_given_as_one_number_is_refused():
    with pytest.raises(TypeError, match=r"scale_range must be a pair \(low, high\) .* got float 0.5"):
        make_crops(["camera"], 2, scale_range=0.5)
    with pytest.raises(TypeError, match="scale_range must be a pair"):
        make_crops(["camera"], 2, scale_range="0.5")


def test_unknown_wavelet_lists_what_is_available():
    with pytest.raises(ValueError, match=r"wavelet='nope' is not a PyWavelets discrete wavelet "
                                         r"\(orthogonal ones: 'haar', 'db1'"):
        wavelet_dictionary(64, "nope", 2)
    with pytest.raises(TypeError, match="wavelet must be a PyWavelets name"):
        wavelet_dictionary(64, 4, 2)


def test_a_level_too_deep_for_the_signal_is_refused():
    # 512 = 2**9, so the divisibility test passes; db4's 8 taps allow 6 levels only
    with pytest.raises(ValueError, match=r"level=9 is too deep for n=512 with 'db4' \(8 taps\): "
                                         r"at most pywt.dwt_max_level\(512, 8\) = 6"):
        wavelet_dictionary(512, "db4", 9)
    with pytest.raises(ValueError, match="divisible by 2\\*\\*level=512; level=9 is too deep"):
        wavelet_dictionary(128, "db4", 9)
    D = wavelet_dictionary(512, "db4", 6)  # the deepest allowed is still orthonormal
    np.testing.assert_allclose(D.T @ D, np.eye(512), atol=1e-10)


def test_dct_n_atoms_is_checked_before_use():
    with pytest.raises(TypeError, match="n_atoms must be an integer, got bool True"):
        dct_dictionary(1, True)


def test_list_photos_split_must_be_a_name():
    with pytest.raises(ValueError, match="split must be None, 'train', 'val' or 'test'"):
        list_photos(["train"])


def test_collate_names_the_bad_pair():
    x, y = torch.zeros(4, 2), torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"batch\[1\] has shapes x \(5, 2\), y \(4, 3\)"):
        collate_time_major([(x, y), (torch.zeros(5, 2), y)])
    with pytest.raises(TypeError, match=r"batch\[0\] must be a pair \(x, y\) of tensors"):
        collate_time_major([x])


def test_empty_batches_of_signals_solve_to_empty_results():
    rng = np.random.default_rng(6)
    Phi = rng.standard_normal((M, N))
    h, history = ista(Phi, np.zeros((0, M)), 0.1, n_iter=4, return_history=True)
    assert h.shape == (0, N) and history.shape == (5, 0)
    with pytest.raises(ValueError, match=r"Phi must have at least one row and one column, got "
                                         r"shape \(0, 4\)"):
        ista(np.zeros((0, 4)), np.zeros((2, 0)), 0.1)
    assert lipschitz_constant(np.zeros((0, 4))) == 0.0


# ------------------------------------------------------------------------------------------
# the docstrings' step-size claims, checked
# ------------------------------------------------------------------------------------------
def test_each_sista_step_decreases_the_objective_for_alpha_between_L_over_2_and_L(small):
    """The corrected claim: for L/2 < alpha < L the objective decreases at every step, by at
    least (alpha - L/2) ||h+ - h||^2."""
    A, D, F, x = small
    lam1, lam2 = 0.05, 1.0
    L = sista_step_size(A, D, lam2)
    alpha = 0.6 * L
    _, hist = sista(x, A, D, F, alpha, lam1, lam2, n_iter=20, return_history=True)
    steps = np.diff(hist["objective"], axis=0)
    assert (steps <= 1e-12).all() and (steps < 0).any()


def test_the_paper_alpha_of_one_is_below_L_but_above_L_over_2():
    A, D = paper_measurement_matrix(), wavelet_dictionary(128)
    L = sista_step_size(A, D, 1.0)
    assert L / 2 < 1.0 < L
    assert L == pytest.approx(1.96, abs=0.01)


# ------------------------------------------------------------------------------------------
# files: integrity, every field named, stale temporaries, folder fsync
# ------------------------------------------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.arange(6.0, dtype=torch.float64).reshape(2, 3))
        self.b = nn.Parameter(torch.tensor([0.5, -1.0], dtype=torch.float64))


def _checkpoint(path):
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.W.grad = torch.ones_like(model.W)
    model.b.grad = torch.ones_like(model.b)
    opt.step()
    cp.save_checkpoint(path, model, opt, model.state_dict(), {"epoch": 1, "val_loss": [0.25]})
    return model


def _rewrite(path, tensors, metadata):
    """A safetensors file with exactly these tensors and metadata (no sha256 added): what an
    older sista_lib, or a damaged writer, leaves."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)


def test_a_flipped_byte_anywhere_in_a_parameters_file_is_detected(tmp_path):
    path = tmp_path / "params.safetensors"
    cp.save_parameters(path, {"w": torch.arange(6.0).reshape(2, 3), "b": torch.tensor(1.5)},
                       {"seed": 3})
    blob = path.read_bytes()
    undetected = []
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        path.write_bytes(bytes(damaged))
        try:
            cp.load_parameters(path)
        except ValueError as exc:
            assert str(path) in str(exc)
        else:
            undetected.append(i)
    assert undetected == []


def test_a_flipped_byte_in_the_tensors_of_a_checkpoint_is_a_sha256_mismatch(tmp_path):
    path = tmp_path / "ck.safetensors"
    _checkpoint(path)
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"ck.safetensors' is corrupt: the SHA-256 .* 'sha256'"):
        cp.load_checkpoint(path)


def test_a_changed_number_in_the_metadata_is_detected(tmp_path):
    path = tmp_path / "p.safetensors"
    cp.save_parameters(path, Tiny(), {"best_epoch": 3})
    blob = path.read_bytes()
    path.write_bytes(blob.replace(b'best_epoch\\": 3', b'best_epoch\\": 4'))
    assert path.read_bytes() != blob
    with pytest.raises(ValueError, match="is corrupt: the SHA-256"):
        cp.load_parameters(path)


def test_files_without_the_sha256_field_still_load(tmp_path):
    old = tmp_path / "old_params.safetensors"
    _rewrite(old, {"W": torch.ones(2, 2)}, {"format": cp.PARAMETERS_FORMAT,
                                             "json": json.dumps({"seed": 1})})
    state, meta = cp.load_parameters(old)
    assert meta == {"seed": 1} and torch.equal(state["W"], torch.ones(2, 2))

    new = tmp_path / "ck.safetensors"
    _checkpoint(new)
    from safetensors.torch import load_file
    from safetensors import safe_open

    with safe_open(str(new), framework="pt") as f:
        metadata = dict(f.metadata())
    assert len(metadata.pop("sha256")) == 64
    legacy = tmp_path / "legacy_ck.safetensors"
    _rewrite(legacy, load_file(str(new)), metadata)
    ck = cp.load_checkpoint(legacy)
    assert ck["history"] == {"epoch": 1, "val_loss": [0.25]}
    assert set(ck["optimizer"]["state"]) == {0, 1}


def test_the_committed_checkpoints_still_load():
    files = sorted((REPO / "results").glob("*/checkpoints/*.safetensors"))
    assert files, "no committed checkpoint found under results/*/checkpoints/"
    state, meta = cp.load_parameters(files[0])
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    assert {"model", "seed"} <= set(meta)


def test_a_missing_field_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "ck.safetensors"
    _checkpoint(path)
    from safetensors import safe_open
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        payload = json.loads(f.metadata()["json"])
    bad = tmp_path / "no_optimizer.safetensors"
    _rewrite(bad, tensors, {"format": cp.CHECKPOINT_FORMAT,
                            "json": json.dumps({k: v for k, v in payload.items()
                                                if k != "optimizer"})})
    with pytest.raises(ValueError, match=r"no_optimizer.safetensors': the field "
                                         r"json\['optimizer'\] is missing"):
        cp.load_checkpoint(bad)
    no_groups = dict(payload, optimizer={"scalars": {}})
    _rewrite(bad, tensors, {"format": cp.CHECKPOINT_FORMAT, "json": json.dumps(no_groups)})
    with pytest.raises(ValueError, match=r"json\['optimizer'\]\['param_groups'\] is missing"):
        cp.load_checkpoint(bad)
    _rewrite(bad, tensors, {"format": cp.CHECKPOINT_FORMAT})
    with pytest.raises(ValueError, match="the metadata field 'json' is missing"):
        cp.load_checkpoint(bad)
    del tensors["rng/torch"]
    _rewrite(bad, tensors, {"format": cp.CHECKPOINT_FORMAT, "json": json.dumps(payload)})
    with pytest.raises(ValueError, match="the tensor 'rng/torch' .* is missing"):
        cp.load_checkpoint(bad)


def test_bad_json_in_the_metadata_is_a_value_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad_json.safetensors"
    _rewrite(bad, {"W": torch.ones(1)}, {"format": cp.PARAMETERS_FORMAT, "json": "{not json"})
    with pytest.raises(ValueError, match=r"bad_json.safetensors': the metadata field 'json' is not "
                                         r"valid JSON"):
        cp.load_parameters(bad)
    _rewrite(bad, {"W": torch.ones(1)}, {"format": cp.PARAMETERS_FORMAT, "json": "[1, 2]"})
    with pytest.raises(ValueError, match="'json' must hold a JSON object, got list"):
        cp.load_parameters(bad)


def test_unexpected_metadata_fields_are_refused(tmp_path):
    bad = tmp_path / "extra.safetensors"
    _rewrite(bad, {"W": torch.ones(1)}, {"format": cp.PARAMETERS_FORMAT, "json": "{}",
                                         "sha257": "x"})
    with pytest.raises(ValueError, match=r"unexpected metadata field\(s\) \['sha257'\]"):
        cp.load_parameters(bad)


def test_save_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="path must be a path"):
        cp.save_parameters(3, Tiny())
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        cp.save_parameters(tmp_path / "p.safetensors", Tiny(), {"model": object()})
    with pytest.raises(TypeError, match="'W' must be a torch tensor, got ndarray"):
        cp.save_parameters(tmp_path / "p.safetensors", {"W": np.ones(2)})
    with pytest.raises(TypeError, match="history must be a dict, got list"):
        model = Tiny()
        cp.save_checkpoint(tmp_path / "c.safetensors", model,
                           torch.optim.SGD(model.parameters(), lr=0.1), model.state_dict(), [1])
    with pytest.raises(IsADirectoryError, match="is a folder"):
        cp.atomic_write_text(tmp_path, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written


def test_restore_rng_state_checks_everything_before_touching_anything(tmp_path):
    path = tmp_path / "ck.safetensors"
    _checkpoint(path)
    tensors, info = cp.load_checkpoint(path)["rng"]
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    with pytest.raises(ValueError, match="the RNG state field 'python' must be a list of 3"):
        cp.restore_rng_state(tensors, {**info, "python": [1]})
    with pytest.raises(ValueError, match="the RNG state cannot be restored"):
        cp.restore_rng_state(tensors, {**info, "numpy": ["MT19937", [1, 2], 0, 0, 0.0]})
    with pytest.raises(ValueError, match="no tensor 'rng/torch'"):
        cp.restore_rng_state({}, info)
    assert torch.equal(torch.get_rng_state(), before[0])
    np.testing.assert_array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]


def _age(path, seconds):
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_stale_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "results.json"
    # a writer killed after writing its temporary, before the rename
    script = textwrap.dedent(f"""
        import os
        from sista_lib import checkpoints
        os.replace = lambda *args: os._exit(9)
        checkpoints.atomic_write_text({str(target)!r}, "half")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True)
    assert done.returncode == 9
    stale = [p for p in tmp_path.iterdir() if p.name.startswith(".results.json.")]
    assert len(stale) == 1 and stale[0].name.endswith(".tmp") and not target.exists()
    other = tmp_path / ".results.json.x.abcdefgh.tmp"  # another file's temporary: not ours
    other.write_text("x")
    for p in (stale[0], other):
        _age(p, 60)
    cp.atomic_write_text(target, "whole")
    assert target.read_text() == "whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "results.json"]


def test_a_live_or_recent_temporary_is_left_alone(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    target = tmp_path / "p.safetensors"
    live = tmp_path / ".p.safetensors.live0001.tmp"
    recent = tmp_path / ".p.safetensors.fresh001.tmp"
    dead = tmp_path / ".p.safetensors.dead0001.tmp"
    for p in (live, recent, dead):
        p.write_bytes(b"partial")
    _age(live, 600)
    _age(dead, 600)
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a writer still at work
        cp.save_parameters(target, Tiny())
    assert live.exists() and recent.exists() and not dead.exists()
    assert cp.load_parameters(target)[0]["W"].shape == (2, 3)


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    if os.name == "nt":
        pytest.skip("folders cannot be fsync-ed on Windows")
    target = tmp_path / "out.txt"
    seen = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        seen.append(("folder" if is_dir else "file", target.exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    cp.atomic_write_text(target, "data")
    assert seen == [("file", False), ("folder", True)]


# --- the networks -------------------------------------------------------------------------

def test_networks_refuse_non_finite_inputs_and_h0():
    from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
    from sista_lib.models import LSTMBaseline, SISTARNN, StackedRNN

    A, D = paper_measurement_matrix(8, 16), wavelet_dictionary(16, "db2", 2)
    x = np.zeros((3, 2, 8))
    x[1, 0, 2] = np.nan
    for model in (SISTARNN(A, D), StackedRNN(8, 16, 16), LSTMBaseline(8, 16, 16, n_layers=1)):
        with pytest.raises(ValueError, match="x contains NaN or infinite values"):
            model(x)
    with pytest.raises(ValueError, match="h0 contains NaN or infinite values"):
        SISTARNN(A, D)(np.zeros((3, 2, 8)), h0=np.full(16, np.inf))


def test_networks_follow_the_default_dtype_and_check_values_after_the_cast():
    from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
    from sista_lib.models import SISTARNN, StackedRNN

    A, D = paper_measurement_matrix(8, 16), wavelet_dictionary(16, "db2", 2)
    old = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        assert SISTARNN(A, D).A.dtype == torch.float64
        assert StackedRNN(8, 16, 16).V.dtype == torch.float64
    finally:
        torch.set_default_dtype(old)
    assert SISTARNN(A, D, dtype=torch.float32).A.dtype == torch.float32
    with pytest.raises(ValueError, match="alpha=1e\\+39 overflows float32"):
        SISTARNN(A, D, alpha=1e39, dtype=torch.float32)
    with pytest.raises(ValueError, match="lam1=1e-50 underflows"):
        SISTARNN(A, D, lam1=1e-50, dtype=torch.float32)
    # the softplus parameterisation of a large alpha stays finite and exact in float32
    big = SISTARNN(A, D, alpha=89.0, positive=True, dtype=torch.float32)
    assert torch.isfinite(big.raw_alpha)
    assert big.sista_parameters()["alpha"].item() == pytest.approx(89.0, rel=1e-6)
    small = SISTARNN(A, D, alpha=0.3, lam1=1e-3, positive=True, dtype=torch.float64)
    assert small.sista_parameters()["alpha"].item() == pytest.approx(0.3, rel=1e-12)
    assert small.sista_parameters()["lam1"].item() == pytest.approx(1e-3, rel=1e-12)


def test_smaller_api_gaps_of_the_networks_scoring_and_study():
    from sista_lib.dictionaries import paper_measurement_matrix, wavelet_dictionary
    from sista_lib.evaluate import evaluate, evaluate_baselines
    from sista_lib.experiment import ExperimentConfig
    from sista_lib.models import LISTA, build_model

    with pytest.raises(ValueError, match="Phi is zero"):
        LISTA.from_ista(np.zeros((4, 6)), 0.1)
    for name in ("lstm", "stacked_rnn", "sista_rnn"):
        with pytest.raises(ValueError, match=r"D must have shape \(16, 16\)"):
            build_model(name, np.ones((8, 16)), np.eye(20))
    with pytest.raises(ValueError, match="m must be at most N = 128"):
        ExperimentConfig(m=200)
    A, D = paper_measurement_matrix(), wavelet_dictionary(128)
    images = np.random.default_rng(0).random((2, 128, 128))
    with pytest.raises(TypeError, match="normalizer must be the sista_lib.data.Normalizer"):
        evaluate(build_model("sista_rnn", A, D), images, A, None)
    with pytest.raises(TypeError, match="normalizer must be the sista_lib.data.Normalizer"):
        evaluate_baselines(images, A, D, {"mean": 0.5})

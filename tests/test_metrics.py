"""Tests of sista_lib.metrics and the paper's scoring protocol."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from sista_lib.metrics import mse, psnr, quantize_8bit, score_images, ssim, summarize


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    ref = rng.random((3, 32, 32))
    est = np.clip(ref + 0.05 * rng.standard_normal(ref.shape), 0, 1)
    return ref, est


def test_psnr_matches_definition_and_scikit_image(images):
    ref, est = images
    expected = 10 * np.log10(1.0 / np.mean((ref - est) ** 2))
    assert psnr(ref, est) == pytest.approx(expected, rel=1e-12)
    per_image = psnr(ref, est, axis=(-2, -1))
    assert per_image.shape == (3,)
    assert per_image[1] == pytest.approx(peak_signal_noise_ratio(ref[1], est[1], data_range=1.0))
    assert psnr(ref, ref) == np.inf


def test_ssim_identity_and_torch_input(images):
    ref, est = images
    assert ssim(ref[0], ref[0]) == pytest.approx(1.0)
    values = ssim(torch.tensor(ref), torch.tensor(est))
    assert values.shape == (3,) and np.all(values < 1)


def test_quantize_8bit_clips_and_rounds():
    q = quantize_8bit(np.array([-0.2, 0.0, 0.5, 1.0, 1.7, 0.1]))
    np.testing.assert_array_equal(q, [0, 0, 128, 255, 255, 26])


def test_score_images_follows_the_protocol(images):
    ref, est = images
    scores = score_images(ref, est + 2.0)  # everything clips to white
    np.testing.assert_allclose(scores["mse"], np.mean((quantize_8bit(ref) - 255.0) ** 2, axis=(1, 2)))
    on_grid = quantize_8bit(ref) / 255.0
    exact = score_images(on_grid, on_grid + 0.3 / 255)  # below half a step: the same 8-bit image
    np.testing.assert_array_equal(exact["mse"], 0.0)
    assert np.all(exact["psnr"] == np.inf) and np.allclose(exact["ssim"], 1.0)
    s = summarize(score_images(ref, est))
    assert set(s) == {"mse", "psnr", "ssim"} and s["psnr"]["n"] == 3


def test_metric_errors(images):
    ref, est = images
    with pytest.raises(ValueError, match="same shape"):
        mse(ref, est[:2])
    with pytest.raises(ValueError, match="estimate contains NaN"):
        psnr(ref, np.full_like(ref, np.nan))
    with pytest.raises(ValueError, match="data_range must be > 0"):
        psnr(ref, est, data_range=0)
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(ref[:, :5, :5], est[:, :5, :5])
    with pytest.raises(ValueError, match=r"\(n_images, H, W\)"):
        score_images(ref[None], est[None])

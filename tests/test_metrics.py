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


def _matlab_ssim_by_hand(ref, est, data_range):
    """MATLAB's ssim written out: 11 x 11 normalised Gaussian (sigma 1.5), replicated edges,
    population moments, mean of the whole map."""
    r = np.arange(-5, 6)
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def blur(img):
        padded = np.pad(img, 5, mode="edge")
        out = np.empty_like(img)
        for i in range(img.shape[0]):
            for j in range(img.shape[1]):
                out[i, j] = np.sum(padded[i:i + 11, j:j + 11] * g)
        return out

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mr, me = blur(ref), blur(est)
    vr, ve, cv = blur(ref * ref) - mr ** 2, blur(est * est) - me ** 2, blur(ref * est) - mr * me
    ssim_map = ((2 * mr * me + c1) * (2 * cv + c2)) / ((mr ** 2 + me ** 2 + c1) * (vr + ve + c2))
    return ssim_map.mean()


def test_matlab_ssim_matches_its_definition_and_differs_from_skimage_at_the_border():
    from sista_lib.metrics import ssim

    rng = np.random.default_rng(3)
    ref = np.round(rng.random((2, 24, 20)) * 255)
    est = np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).round()
    ours = ssim(ref, est, data_range=255.0, convention="matlab")
    by_hand = [_matlab_ssim_by_hand(r, e, 255.0) for r, e in zip(ref, est)]
    np.testing.assert_allclose(ours, by_hand, rtol=0, atol=1e-12)
    skimage_value = ssim(ref, est, data_range=255.0)
    assert np.all(np.abs(ours - skimage_value) > 1e-4)  # the border convention matters
    assert ssim(ref[0], ref[0], data_range=255.0, convention="matlab") == pytest.approx(1.0)


def test_ssim_convention_is_validated():
    from sista_lib.metrics import score_images, ssim

    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match="convention must be one of"):
        ssim(img, img, convention="octave")
    with pytest.raises(ValueError, match="convention must be one of"):
        score_images(img, img, ssim_convention="MATLAB")

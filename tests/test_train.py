"""Tests of sista_lib.train: determinism, exact resume, checkpoints, divergence, best epoch,
the optimiser, and the paper's scoring."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from sista_lib import checkpoints as cp
from sista_lib import evaluate as ev
from sista_lib import train as tr
from sista_lib.train import TrainConfig, TrainingDivergedError

T, M, N = 6, 3, 4


def collate(items):
    xs, ys = zip(*items)
    return torch.stack(xs, dim=1), torch.stack(ys, dim=1)


class TinyRNN(nn.Module):
    """h_t = tanh(W h_{t-1} + V x_t), yhat_t = U h_t + scalar gain: small but recurrent."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.V = nn.Parameter(0.5 * torch.randn(N, M, generator=g, dtype=torch.float64))
        self.W = nn.Parameter(0.3 * torch.randn(N, N, generator=g, dtype=torch.float64))
        self.U = nn.Parameter(0.5 * torch.randn(N, N, generator=g, dtype=torch.float64))
        self.gain = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x):
        h = x.new_zeros(x.shape[1], N)
        out = []
        for t in range(x.shape[0]):
            h = torch.tanh(h @ self.W.T + x[t] @ self.V.T)
            out.append(self.gain * (h @ self.U.T))
        return torch.stack(out)


class Scale(nn.Module):
    """yhat = w x (one scalar parameter)."""

    def __init__(self, w: float = 0.0, dtype=torch.float64):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=dtype))

    def forward(self, x):
        return self.w * x


def random_set(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, M, generator=g, dtype=torch.float64)
    mix = torch.randn(M, N, generator=g, dtype=torch.float64)
    y = torch.tanh(x @ mix) + 0.1 * torch.randn(n, T, N, generator=g, dtype=torch.float64)
    return list(zip(x, y))


def scale_set(n: int, factor: float, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, M, generator=g, dtype=dtype)
    return list(zip(x, factor * x))


TRAIN, VAL = random_set(23, 1), random_set(9, 2)
CFG = TrainConfig(epochs=4, batch_size=5, lr=1e-2, seed=3, eval_batch_size=4)


def run(model=None, config=CFG, **kw):
    model = TinyRNN() if model is None else model
    result = tr.train(model, TRAIN, VAL, config, progress=False, collate_fn=collate, **kw)
    return model, result


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# --- configuration -----------------------------------------------------------------------------

def test_config_defaults_are_the_paper_preset():
    c = TrainConfig()
    assert (c.optimizer, c.lr, c.batch_size, c.epochs, c.keep_best) == ("rmsprop", 1e-4, 50, 100, True)
    assert c.clip_grad_norm is None
    assert TrainConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("kw, match", [
    ({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"optimizer": "sgd"}, "optimizer"), ({"rho": 1.0}, "rho"),
    ({"eps": 0.0, "rms_init": 0.0}, "eps"), ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
    ({"seed": -2}, "seed"),
])
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_config_rejects_bad_types():
    with pytest.raises(TypeError, match="epochs"):
        TrainConfig(epochs=2.5)
    with pytest.raises(TypeError, match="keep_best"):
        TrainConfig(keep_best=1)
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig.from_dict({"epochs": 1, "momentum": 0.9})


def test_train_rejects_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        tr.train(lambda x: x, TRAIN, VAL, CFG, collate_fn=collate)
    with pytest.raises(TypeError, match="config"):
        tr.train(TinyRNN(), TRAIN, VAL, {"epochs": 1}, collate_fn=collate)
    with pytest.raises(ValueError, match="train_set is empty"):
        tr.train(TinyRNN(), [], VAL, CFG, collate_fn=collate)
    with pytest.raises(TypeError, match="val_set"):
        tr.train(TinyRNN(), TRAIN, 3, CFG, collate_fn=collate)
    with pytest.raises(ValueError, match="checkpoint_path"):
        tr.train(TinyRNN(), TRAIN, VAL, CFG, resume=True, collate_fn=collate)


# --- optimiser ----------------------------------------------------------------------------------

def test_rmsprop_matches_torch_when_accumulator_starts_at_zero():
    torch.manual_seed(0)
    a, b = TinyRNN(), TinyRNN()
    opt_a = tr.RMSprop(a.parameters(), lr=1e-2, rho=0.9, eps=1e-8, init=0.0)
    opt_b = torch.optim.RMSprop(b.parameters(), lr=1e-2, alpha=0.9, eps=1e-8)
    x, y = collate(TRAIN[:5])
    for _ in range(5):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            torch.mean((model(x) - y) ** 2).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-12, atol=1e-14)


def test_rmsprop_theano_variant_first_step():
    # v1 = 0.9 * 1e-3 + 0.1 g^2 ; w1 = w0 - lr g / sqrt(v1)   (no epsilon)
    w = nn.Parameter(torch.tensor([0.5, -2.0], dtype=torch.float64))
    opt = tr.RMSprop([w], lr=0.1, rho=0.9, eps=0.0, init=1e-3)
    g = torch.tensor([0.3, -0.01], dtype=torch.float64)
    w.grad = g.clone()
    opt.step()
    expected = torch.tensor([0.5, -2.0], dtype=torch.float64) - 0.1 * g / torch.sqrt(0.9e-3 + 0.1 * g**2)
    torch.testing.assert_close(w.detach(), expected, rtol=0, atol=1e-15)


# --- determinism and resume ---------------------------------------------------------------------

def test_same_seed_gives_bit_identical_training():
    m1, r1 = run()
    m2, r2 = run()
    assert r1.train_loss == r2.train_loss and r1.val_loss == r2.val_loss
    assert_same_state(m1.state_dict(), m2.state_dict())
    assert r1.steps == 4 * math.ceil(len(TRAIN) / 5)
    _, r3 = run(config=TrainConfig(**{**CFG.to_dict(), "seed": 4}))
    assert r3.train_loss != r1.train_loss  # the seed does change the batch order


def test_resume_continues_exactly(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    straight_model, straight = run(config=CFG, callback=tr.parameter_snapshot)
    straight_rng = torch.get_rng_state()

    half = TrainConfig(**{**CFG.to_dict(), "epochs": 2})
    run(config=half, checkpoint_path=path, callback=tr.parameter_snapshot)
    torch.manual_seed(123)  # disturb the global RNG: resume must restore it
    fresh = TinyRNN(seed=99)  # different initial weights: they must be replaced
    resumed_model, resumed = run(model=fresh, config=CFG, checkpoint_path=path, resume=True,
                                 callback=tr.parameter_snapshot)

    assert resumed.resumed_from_epoch == 2
    assert resumed.train_loss == straight.train_loss
    assert resumed.val_loss == straight.val_loss
    assert resumed.initial_val_loss == straight.initial_val_loss
    assert resumed.snapshots == straight.snapshots and len(straight.snapshots) == 5
    assert (resumed.best_epoch, resumed.steps) == (straight.best_epoch, straight.steps)
    assert_same_state(resumed_model.state_dict(), straight_model.state_dict())
    assert_same_state(resumed.best_state, straight.best_state)
    assert torch.equal(torch.get_rng_state(), straight_rng)  # the global RNG was restored


def test_each_process_that_trains_a_run_is_recorded_as_a_segment(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    half = TrainConfig(**{**CFG.to_dict(), "epochs": 2})
    _, first = run(config=half, checkpoint_path=path, segment={"git_commit": "aaa"})
    assert first.segments == [{"from_epoch": 0, "to_epoch": 2, "git_commit": "aaa"}]
    _, resumed = run(config=CFG, checkpoint_path=path, resume=True,
                     segment={"git_commit": "bbb"})
    assert resumed.segments == [{"from_epoch": 0, "to_epoch": 2, "git_commit": "aaa"},
                                {"from_epoch": 2, "to_epoch": 4, "git_commit": "bbb"}]
    assert resumed.history()["segments"] == resumed.segments
    with pytest.raises(TypeError, match="segment must be a dict or None, got list"):
        run(segment=["aaa"])
    with pytest.raises(ValueError, match="must not hold 'from_epoch'"):
        run(segment={"from_epoch": 3})


def test_resume_without_checkpoint_starts_fresh_and_refuses_other_config(tmp_path):
    path = tmp_path / "c.safetensors"
    _, r = run(checkpoint_path=path, resume=True)
    assert r.resumed_from_epoch == 0 and path.exists()
    other = TrainConfig(**{**CFG.to_dict(), "lr": 5e-3})
    with pytest.raises(ValueError, match="lr"):
        run(config=other, checkpoint_path=path, resume=True)
    fewer = TrainConfig(**{**CFG.to_dict(), "epochs": 2})
    with pytest.raises(ValueError, match="epoch 4"):
        run(config=fewer, checkpoint_path=path, resume=True)


# --- checkpoint files ---------------------------------------------------------------------------

def test_checkpoint_round_trip_and_safe_format(tmp_path):
    path = tmp_path / "c.safetensors"
    model, result = run(checkpoint_path=path)
    ck = cp.load_checkpoint(path)
    assert ck["history"]["epoch"] == 4
    assert ck["history"]["val_loss"] == result.val_loss
    assert_same_state(ck["best"], result.best_state)
    # the file is plain safetensors: readable without sista_lib and without pickle
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert "model/W" in f.keys()
        assert json.loads(f.metadata()["json"])["history"]["best_epoch"] == result.best_epoch


def test_load_refuses_foreign_or_corrupt_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(ValueError, match="safetensors"):
        cp.load_checkpoint(bad)
    params = tmp_path / "p.safetensors"
    cp.save_parameters(params, TinyRNN())
    with pytest.raises(ValueError, match="not a sista_lib training checkpoint"):
        cp.load_checkpoint(params)
    with pytest.raises(FileNotFoundError):
        cp.load_checkpoint(tmp_path / "missing.safetensors")


def test_save_and_load_parameters(tmp_path):
    model = TinyRNN(seed=5)
    path = tmp_path / "best.safetensors"
    cp.save_parameters(path, model, {"model": "tiny", "best_epoch": np.int64(3)})
    state, meta = cp.load_parameters(path)
    assert_same_state(state, model.state_dict())
    assert state["W"].dtype == torch.float64
    assert meta == {"model": "tiny", "best_epoch": 3}


def test_atomic_write_leaves_old_file_when_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    cp.atomic_write_text(path, "old content")

    def broken_fsync(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="simulated"):
        cp.atomic_write_text(path, "new content that never lands")
    assert path.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left

    absent = tmp_path / "never.json"
    with pytest.raises(OSError):
        cp.atomic_write_text(absent, "x")
    assert not absent.exists()
    with pytest.raises(TypeError, match="text"):
        cp.atomic_write_text(path, b"bytes")


def test_failed_checkpoint_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    run(config=TrainConfig(**{**CFG.to_dict(), "epochs": 1}), checkpoint_path=path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("simulated")))
    with pytest.raises(OSError, match="simulated"):
        run(checkpoint_path=path, resume=True)
    assert path.read_bytes() == before
    assert cp.load_checkpoint(path)["history"]["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]


# --- divergence and best-epoch selection -------------------------------------------------------

def test_nan_in_data_raises_divergence_with_epoch_and_step():
    bad = scale_set(4, 2.0, 0)
    bad[2] = (bad[2][0], torch.full_like(bad[2][1], float("nan")))
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.1, seed=0)
    with pytest.raises(TrainingDivergedError, match="epoch 1, step 1") as info:
        tr.train(Scale(), bad, scale_set(2, 2.0, 1), cfg, progress=False, collate_fn=collate)
    assert info.value.epoch == 1 and info.value.step == 1 and math.isnan(info.value.loss)


class ExpScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros((), dtype=torch.float32))

    def forward(self, x):
        return torch.exp(self.w) * x


def test_exploding_training_raises_instead_of_returning_nans():
    data = scale_set(4, 2.0, 0, dtype=torch.float32)
    cfg = TrainConfig(epochs=3, batch_size=2, lr=50.0, seed=0)  # two steps per epoch
    model = ExpScale()
    with pytest.raises(TrainingDivergedError) as info:
        tr.train(model, data, data, cfg, progress=False, collate_fn=collate)
    assert info.value.epoch == 1 and info.value.step == 2
    assert not math.isfinite(info.value.loss)
    assert "step 2" in str(info.value)


def test_best_validation_epoch_is_selected_and_loaded():
    # Training pulls w from 0 towards 2; validation wants w = 1: the validation curve has an
    # interior minimum, which train() must find and restore.
    train_set, val_set = scale_set(8, 2.0, 0), scale_set(8, 1.0, 1)
    cfg = TrainConfig(epochs=25, batch_size=8, lr=0.1, seed=0)
    model = Scale()
    r = tr.train(model, train_set, val_set, cfg, progress=False, collate_fn=collate,
                 callback=lambda m, e: float(m.w.detach()))
    val = np.array([r.initial_val_loss] + r.val_loss)
    assert r.best_epoch == int(np.argmin(val))
    assert 0 < r.best_epoch < cfg.epochs
    assert val[-1] > val[r.best_epoch]  # the last epoch is worse: selection matters
    assert float(model.w.detach()) == r.snapshots[r.best_epoch]
    assert abs(float(model.w.detach()) - 1.0) == min(abs(w - 1.0) for w in r.snapshots)
    assert r.best_val_loss == val[r.best_epoch]

    last = Scale()
    r_last = tr.train(last, train_set, val_set, TrainConfig(**{**cfg.to_dict(), "keep_best": False}),
                      progress=False, collate_fn=collate, callback=lambda m, e: float(m.w.detach()))
    assert float(last.w.detach()) == r_last.snapshots[-1] != float(model.w.detach())


def test_gradient_clipping_bounds_the_gradient_norm(monkeypatch):
    data = [(x, 50.0 * y) for x, y in TRAIN[:4]]  # large targets: large gradients
    seen = []
    original = torch.nn.utils.clip_grads_with_norm_

    def spy(params, max_norm, total_norm, *args, **kwargs):
        params = list(params)
        out = original(params, max_norm, total_norm, *args, **kwargs)
        seen.append((float(total_norm), float(tr._grad_norm(params))))
        return out

    monkeypatch.setattr(torch.nn.utils, "clip_grads_with_norm_", spy)
    cfg = TrainConfig(epochs=1, batch_size=2, clip_grad_norm=0.5, seed=0)
    tr.train(TinyRNN(), data, data, cfg, progress=False, collate_fn=collate)
    assert len(seen) == 2
    assert all(before > 0.5 for before, _ in seen)  # clipping was needed ...
    assert all(after == pytest.approx(0.5, rel=1e-6) for _, after in seen)  # ... and applied


def test_epochs_zero_evaluates_only():
    model = TinyRNN()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = tr.train(model, TRAIN, VAL, TrainConfig(epochs=0), progress=False, collate_fn=collate)
    assert r.epochs == 0 and r.best_epoch == 0 and r.steps == 0
    assert_same_state(model.state_dict(), before)
    assert math.isfinite(r.initial_val_loss)


def test_parameter_snapshot_records_scalars_and_norms():
    snap = tr.parameter_snapshot(TinyRNN())
    assert snap["scalars"] == {"gain": 1.0}
    assert set(snap["norms"]) == {"V", "W", "U"}
    assert snap["norms"]["W"] == pytest.approx(float(torch.linalg.norm(TinyRNN().W.detach())))


# --- prediction and the paper's scoring ----------------------------------------------------------

class Identity(nn.Module):
    """yhat = x: exact when A = I (fully sampled columns)."""

    def __init__(self, dtype=torch.float64):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros((), dtype=dtype))

    def forward(self, x):
        return x + 0.0 * self.dummy


def eight_bit_images(n=3, side=16, seed=0):
    # already on the 8-bit grid, so quantisation cannot flip a pixel through rounding noise
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side)) / 255.0


def test_exact_reconstruction_scores_perfectly():
    from sista_lib.data import Normalizer

    images = eight_bit_images()
    normalizer = Normalizer.fit(images)
    for dtype in (torch.float64, torch.float32):
        scores = ev.evaluate(Identity(dtype), images, np.eye(16), normalizer)
        assert set(scores) == {"mse", "psnr", "ssim"}
        np.testing.assert_array_equal(scores["mse"], np.zeros(3))
        assert np.all(np.isposinf(scores["psnr"]))
        np.testing.assert_allclose(scores["ssim"], 1.0, rtol=0, atol=1e-12)


def test_evaluate_scores_a_wrong_model_per_image_and_returns_estimates():
    from sista_lib.data import Normalizer
    from sista_lib.metrics import score_images

    images = eight_bit_images(n=4)
    normalizer = Normalizer.fit(images)
    model = Scale(0.5)  # halves the normalised pixels: a visible, known error
    out = ev.evaluate(model, images, np.eye(16), normalizer, return_estimates=True,
                      batch_size=3)
    expected = normalizer.inverse_transform(0.5 * normalizer.transform(images))
    np.testing.assert_allclose(out["estimates"], expected, rtol=0, atol=1e-12)
    ref = score_images(images, expected)
    for k in ("mse", "psnr", "ssim"):
        np.testing.assert_array_equal(out[k], ref[k])
    assert out["mse"].shape == (4,) and np.all(out["mse"] > 0)


def test_predict_keeps_order_and_restores_training_mode():
    data = scale_set(7, 1.0, 0)
    model = Scale(3.0)
    model.train()
    yhat = ev.predict(model, data, batch_size=3, collate_fn=collate)
    x_all, _ = collate(data)
    assert yhat.shape == (T, 7, M)
    torch.testing.assert_close(yhat, 3.0 * x_all, rtol=0, atol=0)
    assert model.training
    with pytest.raises(ValueError, match="batch_size"):
        ev.predict(model, data, batch_size=0, collate_fn=collate)


def test_baselines_on_a_fully_sampled_problem():
    # A = I and a tiny lambda1: the per-column Lasso recovers every column almost exactly,
    # while SISTA's temporal term (lambda2 = 1, F = I) blends neighbouring columns.
    from sista_lib.data import Normalizer
    from sista_lib.dictionaries import wavelet_dictionary

    images = eight_bit_images(n=2)
    normalizer = Normalizer.fit(images)
    D = wavelet_dictionary(16, "db2", 2)
    out = ev.evaluate_baselines(images, np.eye(16), D, normalizer, alpha=1.5, lam1=1e-6)
    assert set(out) == {"sista_untrained", "sista_converged", "lasso_converged"}
    for entry in out.values():
        assert entry["scores"]["psnr"].shape == (2,)
    assert np.all(out["lasso_converged"]["scores"]["psnr"] > 45.0)
    assert np.all(out["sista_converged"]["scores"]["psnr"]
                  < out["lasso_converged"]["scores"]["psnr"])
    assert out["sista_untrained"]["n_iter"] == 3
    assert 1 <= out["sista_converged"]["iterations_mean"] <= out["sista_converged"]["iterations_max"]
    assert out["sista_converged"]["alpha"] == pytest.approx(2.0)  # ||A||^2 + lambda2


def test_the_lasso_baseline_is_solved_in_chunks_of_images():
    from sista_lib.data import Normalizer
    from sista_lib.dictionaries import wavelet_dictionary

    images = eight_bit_images(n=3)
    normalizer = Normalizer.fit(images)
    A, D = np.random.default_rng(0).standard_normal((8, 16)) / 8, wavelet_dictionary(16, "db2", 2)
    whole = ev.evaluate_baselines(images, A, D, normalizer, lasso_chunk=3)["lasso_converged"]
    single = ev.evaluate_baselines(images, A, D, normalizer, lasso_chunk=1)["lasso_converged"]
    assert whole["n_iter_per_chunk"] == [whole["n_iter"]] and whole["chunk_images"] == 3
    assert len(single["n_iter_per_chunk"]) == 3
    assert single["n_iter"] == max(single["n_iter_per_chunk"]) <= whole["n_iter"]
    # one chunk of three images stops with its slowest image: each image alone stops sooner
    # or at the same iteration, at an objective change below the same tolerance
    np.testing.assert_allclose(single["scores"]["psnr"], whole["scores"]["psnr"], atol=0.05)
    with pytest.raises(ValueError, match="lasso_chunk must be"):
        ev.evaluate_baselines(images, A, D, normalizer, lasso_chunk=0)


# --- the authors' model selection and the device option -----------------------------------

def test_select_last_epoch_false_never_picks_the_final_epoch(tmp_path):
    # Training pulls w from 0 to 1 = what validation wants: the final epoch is the best one,
    # unless, as in the authors' code (validation before each epoch), it is no candidate.
    train_set, val_set = scale_set(8, 1.0, 0), scale_set(8, 1.0, 1)
    cfg = TrainConfig(epochs=6, batch_size=8, lr=0.05, seed=0)
    r_all = tr.train(Scale(), train_set, val_set, cfg, progress=False, collate_fn=collate)
    assert r_all.best_epoch == 6
    authors = TrainConfig(**{**cfg.to_dict(), "select_last_epoch": False})
    model = Scale()
    r = tr.train(model, train_set, val_set, authors, progress=False, collate_fn=collate,
                 callback=lambda m, e: float(m.w.detach()))
    assert r.best_epoch == 5 and r.val_loss == r_all.val_loss   # same curve, other choice
    assert float(model.w.detach()) == r.snapshots[5]
    # a 3-epoch run resumed to 6 epochs chooses exactly as the uninterrupted 6-epoch run
    path = tmp_path / "ckpt.safetensors"
    tr.train(Scale(), train_set, val_set, TrainConfig(**{**authors.to_dict(), "epochs": 3}),
             progress=False, collate_fn=collate, checkpoint_path=path)
    resumed = tr.train(Scale(), train_set, val_set, authors, progress=False,
                       collate_fn=collate, checkpoint_path=path, resume=True)
    assert resumed.best_epoch == r.best_epoch and resumed.best_val_loss == r.best_val_loss


def test_device_is_validated():
    with pytest.raises(ValueError, match="device must name a torch device"):
        TrainConfig(device="gpu0")
    with pytest.raises(TypeError, match="device must be a str"):
        TrainConfig(device=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA device"):
            run(config=TrainConfig(**{**CFG.to_dict(), "device": "cuda"}))

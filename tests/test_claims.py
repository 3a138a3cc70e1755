"""Tests of sista_lib.claims on synthetic results dicts built so that each claim holds, or fails,
by a known margin; plus the committed study, where each verdict must agree with its numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sista_lib import claims
from sista_lib.experiment import load_results

RESULTS = Path(__file__).resolve().parents[1] / "results" / "paper"


def _run(psnr_per_image, val_loss, epoch_seconds=None, steps_per_epoch=2):
    epochs = len(val_loss)
    seconds = [60.0] * epochs if epoch_seconds is None else epoch_seconds
    return {"test": {"per_image": {"psnr": list(psnr_per_image), "ssim": [0.5] * len(psnr_per_image),
                                   "mse": list(1000.0 / np.asarray(psnr_per_image))}},
            "train": {"val_loss": list(val_loss), "train_loss": list(val_loss), "epoch_seconds": seconds,
                      "steps": steps_per_epoch * epochs}}


def _summary(runs, ssim=0.5):
    per_seed = [float(np.mean(r["test"]["per_image"]["psnr"])) for r in runs.values()]
    mse = [float(np.mean(r["test"]["per_image"]["mse"])) for r in runs.values()]
    return {"psnr": {"mean": float(np.mean(per_seed)), "std": float(np.std(per_seed)), "per_seed": per_seed},
            "ssim": {"mean": ssim, "std": 0.0, "per_seed": [ssim] * len(runs)},
            "mse": {"mean": float(np.mean(mse)), "std": float(np.std(mse)), "per_seed": mse}}


def study(sista_psnr=(20.0, 21.0), sista_val=(5.0, 3.0, 2.0, 1.5), rnn_val=(9.0, 4.0, 2.5, 2.0)):
    """Two seeds; the SISTA-RNN against a stacked RNN (PSNR 19, 19.5 per image) and an LSTM."""
    runs = {
        "sista_rnn": {s: _run([sista_psnr[0] + i, sista_psnr[1] + i], sista_val)
                      for s, i in (("0", 0), ("1", 1))},
        "sista_rnn_released": {s: _run([20.0, 21.0], sista_val) for s in ("0", "1")},
        "stacked_rnn": {s: _run([19.0, 19.5], rnn_val, epoch_seconds=[30.0] * 4) for s in ("0", "1")},
        "lstm": {s: _run([15.0, 16.0], (10.0, 9.0, 8.0, 7.0)) for s in ("0", "1")},
    }
    algorithms = {"sista_untrained": 14.0, "sista_converged": 13.9, "lasso_converged": 25.0}
    baselines = {k: {"summary": {"psnr": {"mean": v}, "ssim": {"mean": 0.2}, "mse": {"mean": 3000.0}}}
                 for k, v in algorithms.items()}
    return {"config": {"n_train": 100, "batch_size": 50, "epochs": 4}, "models": list(runs), "runs": runs,
            "summary": {m: _summary(r, ssim=0.6 if m == "sista_rnn" else 0.5) for m, r in runs.items()},
            "baselines": baselines}


def test_better_performance_holds_and_fails_by_the_measured_margin():
    r = study()
    row = claims.performance_claim(r, "stacked_rnn")
    # seed means 20.5 and 21.5 -> 21.0 against 19.25
    assert row.value == pytest.approx(21.0) and row.other == pytest.approx(19.25)
    assert row.difference == pytest.approx(1.75) and row.holds and row.verdict == "holds"
    assert row.details["win_fraction"] == 1.0 and row.details["seeds_separated"]
    assert row.details["ssim_difference"] == pytest.approx(0.1)
    worse = claims.performance_claim(study(sista_psnr=(18.0, 19.0)), "stacked_rnn")
    assert not worse.holds and worse.verdict == "does not hold"
    # per image (seed means): 18.5, 19.5 against 19.0, 19.5 -> better on none; seeds overlap
    assert worse.details["win_fraction"] == 0.0 and not worse.details["seeds_separated"]


def test_for_the_mse_lower_is_better():
    row = claims.performance_claim(study(), "lstm", metric="mse")
    assert row.value < row.other and row.holds and "<" in row.comparison


def test_trains_faster_in_epochs_and_in_minutes():
    r = study()
    # level: the stacked RNN's best, 2.0 at epoch 4; the SISTA-RNN reaches 2.0 at epoch 3
    epochs = claims.speed_claim(r, unit="epochs")
    assert (epochs.value, epochs.other, epochs.holds) == (3, 4, True)
    assert epochs.details["black_box"] == "stacked_rnn" and epochs.details["level"] == 2.0
    # minutes: 3 epochs of 60 s against 4 epochs of 30 s
    minutes = claims.speed_claim(r, unit="minutes")
    assert (minutes.value, minutes.other, minutes.holds) == (3.0, 2.0, False)
    assert minutes.details["speedup"] == pytest.approx(2 / 3)
    assert epochs.details["lead_epochs"] == 4


def test_a_network_that_never_reaches_the_level_does_not_train_faster():
    row = claims.speed_claim(study(sista_val=(5.0, 4.0, 3.0, 2.5)))
    assert row.value is None and not row.holds and row.difference is None
    assert row.details["minutes"] is None and row.details["lead_epochs"] == 1


def test_the_premise_and_the_variants():
    rows = {r.claim: r for r in claims.claims_table(study())}
    assert set(rows) == {"better_than_stacked_rnn", "better_than_lstm", "faster_epochs",
                         "faster_minutes", "improves_on_sista_untrained", "improves_on_sista_converged",
                         "improves_on_lasso_converged", "sista_rnn_released_matches_sista_rnn"}
    assert rows["improves_on_sista_untrained"].holds and not rows["improves_on_lasso_converged"].holds
    # released: 20.5 in every seed against 21.0 +- 0.5: |difference| 0.5 is not below 0.5
    assert not rows["sista_rnn_released_matches_sista_rnn"].holds


def test_curves_times_and_budget():
    r = study()
    np.testing.assert_allclose(claims.mean_curve(r, "lstm"), [10.0, 9.0, 8.0, 7.0])
    np.testing.assert_allclose(claims.cumulative_minutes(r, "stacked_rnn"), [0.5, 1.0, 1.5, 2.0])
    assert claims.seconds_per_step(r, "stacked_rnn") == pytest.approx(15.0)
    np.testing.assert_allclose(claims.per_image_mean(r, "sista_rnn"), [20.5, 21.5])
    assert claims.first_epoch_at_or_below([3.0, 2.0, 1.0], 2.0) == 2
    assert claims.first_epoch_at_or_below([3.0, 2.0], 1.0) is None
    assert claims.lead_epochs([1.0, 2.0, 5.0], [2.0, 2.0, 1.0]) == 1
    budget = claims.training_budget(r)
    assert (budget["steps_per_epoch"], budget["steps"], budget["paper_steps"]) == (2, 8, 49000)
    assert budget["ratio"] == pytest.approx(49000 / 8)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="model"):
        claims.mean_curve(study(), "lista")
    with pytest.raises(ValueError, match="unit"):
        claims.speed_claim(study(), unit="steps")
    with pytest.raises(ValueError, match="metric"):
        claims.performance_claim(study(), "lstm", metric="lpips")
    with pytest.raises(TypeError, match="results"):
        claims.mean_curve([], "lstm")
    with pytest.raises(ValueError, match="config"):
        claims.training_budget({"runs": {}})


@pytest.mark.skipif(not (RESULTS / "results.json").exists(), reason="no committed study")
def test_the_committed_study_verdicts_agree_with_its_numbers():
    results = load_results(RESULTS)
    for row in claims.claims_table(results):
        if row.claim.startswith(("better_than_", "improves_on_")):
            assert row.holds == (row.value > row.other)
            assert row.value == pytest.approx(results["summary"]["sista_rnn"]["psnr"]["mean"])
        elif row.claim.startswith("faster_"):
            assert row.holds == (row.value is not None and row.value < row.other)


def test_time_to_level():
    r = study()
    assert claims.time_to_level(r, "sista_rnn", 2.0) == (3, 3.0)      # 60 s per epoch
    assert claims.time_to_level(r, "stacked_rnn", 2.0) == (4, 2.0)    # 30 s per epoch
    assert claims.time_to_level(r, "sista_rnn", 1.0) == (None, None)
    with pytest.raises(ValueError, match="model"):
        claims.time_to_level(r, "lista", 1.0)


def test_study_processes_group_runs_by_command_line():
    def rec(command, start, end, wall, commit):
        return {"command": command, "start": start, "end": end, "wall_time_s": wall, "git_commit": commit}

    results = {"provenance": {"runs": {
        "lstm_seed1": rec("python -m x --models lstm", "2026-01-01T02", "2026-01-01T03", 90.0, "c2"),
        "baselines": rec("python -m x", "2026-01-01T00", "2026-01-01T01", 30.0, "c1"),
        "lstm_seed0": rec("python -m x --models lstm", "2026-01-01T01", "2026-01-01T02", 60.0, "c1"),
    }}}
    assert claims.study_processes(results) == [
        {"command": "python -m x --models lstm", "start": "2026-01-01T01", "end": "2026-01-01T03",
         "runs": [("lstm_seed0", 60.0), ("lstm_seed1", 90.0)], "wall_time_s": 150.0,
         "commit": "c1"},                             # the commit of the process's first run
        {"command": "python -m x", "start": "2026-01-01T00", "end": "2026-01-01T01",
         "runs": [("baselines", 30.0)], "wall_time_s": 30.0, "commit": "c1"},
    ]
    with pytest.raises(ValueError, match="results must hold provenance.runs"):
        claims.study_processes({"runs": {}})
    with pytest.raises(ValueError, match="at least one run"):
        claims.study_processes({"provenance": {"runs": {}}})


def test_reference_margins_of_the_published_table():
    margins = claims.reference_margins()
    assert set(margins) == {"stacked_rnn", "lstm", "gru"}
    # 42.52 - 37.02 at 50 %, 33.85 - 33.12 at 25 %
    assert margins["lstm"]["max"] == pytest.approx(5.50) and margins["stacked_rnn"]["min"] == pytest.approx(0.13)
    assert margins["stacked_rnn"]["ahead_at"] == [] and margins["lstm"]["ahead_at"] == []
    assert margins["gru"]["ahead_at"] == [0.33, 0.25, 0.20]
    assert np.allclose(margins["gru"]["margins"], [2.22, -0.11, -0.13, -0.18])
    with pytest.raises(ValueError, match=r"table\['x'\] must have one score per rate \(2\), got 1"):
        claims.reference_margins({"rate": (0.5, 0.25), "sista_rnn": (1.0, 2.0), "x": (1.0,)})
    with pytest.raises(ValueError, match="table must have the keys 'rate' and 'sista_rnn'"):
        claims.reference_margins({"rate": (0.5,)})

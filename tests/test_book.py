"""Tests of sista_lib.book: each table is checked cell by cell on a small results dict whose
numbers are known, the glued values on their rounding, plus the error messages."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from sista_lib import book
from sista_lib.claims import ClaimRow


# --------------------------------------------------------------------------------------------
# cells and tables
# --------------------------------------------------------------------------------------------


def test_format_cell():
    assert book.format_cell(None) == "never"
    assert (book.format_cell(True), book.format_cell(False), book.format_cell(np.bool_(True))) == ("yes", "no", "yes")
    assert book.format_cell(3.14159) == "3.14" and book.format_cell(np.float64(2.5), 3) == "2.500"
    assert book.format_cell(7) == "7" and book.format_cell("holds") == "holds"
    with pytest.raises(ValueError, match="digits must be >= 0, got -1"):
        book.format_cell(1.0, -1)
    with pytest.raises(TypeError, match="digits must be an integer"):
        book.format_cell(1.0, 2.0)


def test_html_table_aligns_the_number_columns():
    html = book.html_table(["name", "x", "y"], [["a", 1, "2.50"], ["<em>b</em>", 3, ""]])
    assert html == ("<table><thead><tr><th>name</th><th align='right'>x</th><th align='right'>y</th>"
                    "</tr></thead><tbody><tr><td>a</td><td align='right'>1</td><td align='right'>2.50"
                    "</td></tr><tr><td><em>b</em></td><td align='right'>3</td><td align='right'></td>"
                    "</tr></tbody></table>")
    assert book.html_table(["a", "b"], [[1, 2]], left=None) == (
        "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr>"
        "</tbody></table>")
    assert book.html_table(["a", "b"], [[1, 2]], left=2).count("align") == 0
    assert book.html_table(["a"], []) == "<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>"


def test_html_table_refuses_ragged_rows_and_bad_arguments():
    with pytest.raises(ValueError, match=r"rows\[1\] must have 3 cells \(one per column of header\), got 2"):
        book.html_table(["a", "b", "c"], [[1, 2, 3], [1, 2]])
    with pytest.raises(TypeError, match=r"rows\[0\] must be a sequence of cells, got str"):
        book.html_table(["a", "b"], ["ab"])
    with pytest.raises(TypeError, match="header must be a sequence of column titles, got str"):
        book.html_table("ab", [])
    with pytest.raises(ValueError, match="header must name at least one column"):
        book.html_table([], [])
    with pytest.raises(ValueError, match="left must be >= 0, got -1"):
        book.html_table(["a"], [[1]], left=-1)


def test_show_table_displays_the_html(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    assert book.show_table(["a", "b"], [["x", 1]]) is None
    assert len(shown) == 1 and shown[0].data == book.html_table(["a", "b"], [["x", 1]])


# --------------------------------------------------------------------------------------------
# the study's tables
# --------------------------------------------------------------------------------------------


def _results():
    """A study of one model (two seeds) and two baselines, with round numbers."""
    def metric(mean, std):
        return {"mean": mean, "std": std, "per_seed": [mean - std, mean + std]}

    run = {"train": {"val_loss": [2.0], "initial_val_loss": 3.0, "steps": 30}}
    return {
        "models": ["sista_rnn"],
        "runs": {"sista_rnn": {"0": run, "1": run}},
        "summary": {"sista_rnn": {"layers": 3, "n_parameters": 12345, "seeds": [0, 1],
                                  "best_epoch": [9, 10], "train_wall_time_s": [600.0, 660.0],
                                  "psnr": metric(20.123, 0.25), "ssim": metric(0.61234, 0.01),
                                  "mse": metric(400.04, 2.0)}},
        "baselines": {
            "sista_untrained": {"n_iter": 3, "summary": {"psnr": {"mean": 14.5}, "ssim": {"mean": 0.3},
                                                         "mse": {"mean": 1000.0}}},
            "sista_converged": {"iterations_mean": 12.34, "iterations_max": 40,
                                "summary": {"psnr": {"mean": 13.0}, "ssim": {"mean": 0.25},
                                            "mse": {"mean": 1200.0}}},
        },
    }


def test_results_rows_of_a_small_study():
    header, rows = book.results_rows(_results())
    assert header == ["method", "parameters", "layers / iterations", "test MSE",
                      "test PSNR (dB)", "test SSIM", "best epoch", "minutes per run"]
    assert rows == [
        ["SISTA, K = 3, untrained", "none", "3 iterations", "1000.0", "14.50", "0.3000", "", ""],
        ["SISTA to convergence", "none", "12.3 iterations (mean), 40 (max)", "1200.0", "13.00",
         "0.2500", "", ""],
        ["SISTA-RNN, paper", "12,345", "3 layers", "400.0 ± 2.0", "20.12 ± 0.25", "0.6123 ± 0.0100",
         "9.5", "10.5"],
    ]
    _, rows = book.results_rows(_results(), order=["sista_rnn"], labels={"sista_rnn": "ours"})
    assert [r[0] for r in rows] == ["ours"]
    with pytest.raises(ValueError, match=r"order must name methods of the study"):
        book.results_rows(_results(), order=["lstm"])
    # a curve 3 -> 2.0 -> 1.0 -> 0.995 -> 0.994: the last epoch improves on the best before it by 0.1 %
    flat = {"train": {"val_loss": [2.0, 1.0, 0.995, 0.994], "initial_val_loss": 3.0, "steps": 40}}
    steep = {"train": {"val_loss": [2.0, 1.5, 1.2, 0.9], "initial_val_loss": 3.0, "steps": 40}}
    results = _results() | {"runs": {"sista_rnn": {"0": flat, "1": steep}}}
    header, rows = book.results_rows(results, part="training")
    assert header == ["network", "best epoch", "minutes per run", "steps",
                      "gain in the last 20 % of epochs", "plateaued"]
    # tails: 0.994 against 0.995 (0.10 %) and 0.9 against 1.2 (25 %), mean 12.55 %
    assert rows == [["SISTA-RNN, paper", "9.5", "10.5", "40", "12.6 %", "1 of 2"]]   # trained networks only
    # a third seed diverged: a last column says where
    diverged = results | {"failed": {"sista_rnn_seed2": {"model": "sista_rnn", "seed": 2,
                                                         "epoch": 86, "step": 42005}}}
    header, rows = book.results_rows(diverged, part="training")
    assert header[-1] == "diverged" and rows[0][-1] == "seed 2 (step 42,005)"
    assert rows[0][:-1] == ["SISTA-RNN, paper", "9.5", "10.5", "40", "12.6 %", "1 of 2"]
    header, rows = book.results_rows(results, part="scores")
    assert header[-3:] == ["test MSE", "test PSNR (dB)", "test SSIM"] and len(rows) == 3
    assert rows[-1] == ["SISTA-RNN, paper", "12,345", "3 layers", "400.0 ± 2.0", "20.12 ± 0.25", "0.6123 ± 0.0100"]
    with pytest.raises(ValueError, match=r"part must be one of \('all', 'scores', 'training'\), got 'x'"):
        book.results_rows(results, part="x")


def test_comparison_rows_set_studies_side_by_side():
    from sista_lib import claims

    one = _results() | {"config": {"n_train": 100, "batch_size": 10, "epochs": 5}}
    two = _results() | {"config": {"n_train": 200, "batch_size": 10, "epochs": 5}}
    two["summary"] = {**one["summary"], "sista_rnn": {**one["summary"]["sista_rnn"],
                                                     "psnr": {**one["summary"]["sista_rnn"]["psnr"], "mean": 21.5}}}
    header, rows = book.comparison_rows({"short": one, "long": two})
    steps = claims.training_budget(one)["steps"]
    assert header == ["method", f"short ({steps:,} steps)", f"long ({2 * steps:,} steps)"]
    by_method = {r[0]: r[1:] for r in rows}
    assert by_method["SISTA-RNN, paper"] == ["20.12 ± 0.25", "21.50 ± 0.25"]
    assert len(rows) == len(book.results_rows(one, part="scores")[1])
    with pytest.raises(ValueError, match="metric must be one of"):
        book.comparison_rows({"short": one}, metric="psnr_db")
    with pytest.raises(ValueError, match="studies must be a non-empty mapping"):
        book.comparison_rows({})
    with pytest.raises(ValueError, match="order must name methods that every study has"):
        book.comparison_rows({"short": one}, order=["gru"])


def test_level_rows_say_when_each_network_reaches_a_level():
    def run(val, seconds):
        return {"train": {"val_loss": val, "epoch_seconds": seconds}}

    results = {"models": ["sista_rnn", "lstm"],
               "runs": {"sista_rnn": {"0": run([5.0, 3.0, 1.0], [60.0, 60.0, 60.0]),
                                      "1": run([5.0, 1.0, 1.0], [30.0, 30.0, 30.0])},
                        "lstm": {"0": run([9.0, 8.0, 7.0], [6.0, 6.0, 6.0])}}}
    header, rows = book.level_rows(results, 2.0)
    assert header == ["network", "first epoch at validation MSE ≤ 2.00", "training time then (min)"]
    # seed-mean curve 5, 2, 1: the level is reached at epoch 2, after (60 + 60 + 30 + 30) / 2 s
    assert rows == [["SISTA-RNN (paper)", "2", "1.50"], ["LSTM", "never", "never"]]
    assert book.level_rows(results, 2.0, models=["lstm"])[1] == [["LSTM", "never", "never"]]
    with pytest.raises(ValueError, match=r"models must be models of the study \['sista_rnn', "
                                         r"'lstm'\], got \['stacked_rnn'\]"):
        book.level_rows(results, 2.0, models=["stacked_rnn"])


def test_claims_rows_render_every_field():
    rows = [ClaimRow("better_than_lstm", "better than the LSTM", "mean test PSNR (dB)", "a > b",
                     20.0, 15.5, True, {"ssim_difference": 0.01234, "win_fraction": 0.925,
                                        "seeds_separated": False}),
            ClaimRow("faster_epochs", "trains faster", "epochs to the level", "a < b", None, 100, False)]
    header, body = book.claims_rows(rows)
    assert header == ["claim, and what is measured", "SISTA-RNN (paper)", "compared with",
                      "difference", "verdict", "details"]
    assert body == [
        ["better than the LSTM<br><em>mean test PSNR (dB)</em>", "20.00", "15.50", "4.50", "holds",
         "SSIM difference +0.0123; better on 92 % of the test images; seeds separated: no"],
        ["trains faster<br><em>epochs to the level</em>", "never", "100", "", "does not hold", ""],
    ]
    with pytest.raises(TypeError, match=r"rows\[0\] must be a sista_lib.claims.ClaimRow, got dict"):
        book.claims_rows([{"statement": "x"}])


def test_study_report_states_what_the_study_trained():
    results = {"models": ["sista_rnn"], "seeds": [0, 1],
               "config": {"n_train": 750, "batch_size": 50, "epochs": 100, "lr": 1e-4,
                          "clip_grad_norm": None, "dtype": "float32"},
               "data": {"sizes": {"train": 750, "val": 100, "test": 100}, "source": "bundled"}}
    assert book.study_report(results).splitlines() == [
        "models: ['sista_rnn']; seeds: [0, 1]",
        "images: 750 training, 100 validation, 100 test (bundled photos)",
        "training: 100 epochs, batch 50, lr 0.0001, gradient clipping None, float32",
        "optimiser steps per run: ours 15 x 100 = 1,500; the paper's protocol on Caltech-256: "
        "490 x 100 = 49,000 (32.7 times more)"]
    with pytest.raises(ValueError, match="results must hold config and data"):
        book.study_report({"models": [], "seeds": []})


def test_provenance_report_groups_runs_by_process():
    def rec(command, start, end, wall, commit):
        return {"command": command, "start": start, "end": end, "wall_time_s": wall,
                "git_commit": commit, "git_dirty": False, "cpu": "CPU", "cpu_count": 2, "gpu": None,
                "torch_threads": 1, "versions": {"python": "3.11", "torch": "2.0"}}

    results = {"provenance": {
        "runs": {"b_seed0": rec("run b", "T2", "T4", 120.0, "b" * 40),
                 "a_seed0": rec("run a", "T1", "T3", 60.0, "a" * 40),
                 "a_seed1": rec("run a", "T0", "T5", 30.0, "c" * 40)},
        "merge": {"end": "T6", "command": "merge"}}}
    assert book.provenance_report(results) == "\n".join([
        "git commit " + "b" * 40 + " (uncommitted changes to tracked files: False)",
        "machine: CPU, 2 cores, GPU: None; torch threads per process: 1",
        "versions: python 3.11, torch 2.0",
        "\n$ run b\n  T2 -> T4; 1 runs, 2.0 min of wall time in total",
        "    b_seed0                       2.0 min",
        "\n$ run a\n  T0 -> T5; 2 runs, 1.5 min of wall time in total",
        "    a_seed0                       1.0 min",
        "    a_seed1                       0.5 min",
        "\nstudy: T0 -> T5; merged at T6 by 'merge'",
        "library code of every process: commit bbbbbbbbbb, cccccccccc"])
    with pytest.raises(ValueError, match="provenance.merge"):
        book.provenance_report({"provenance": {"runs": results["provenance"]["runs"]}})


def test_provenance_report_lists_the_segments_of_resumed_runs():
    def seg(a, b, commit, cpu, start):
        return {"from_epoch": a, "to_epoch": b, "git_commit": commit, "cpu": cpu, "start": start}

    rec = {"command": "run", "start": "T1", "end": "T2", "wall_time_s": 60.0, "git_commit": "b" * 40,
           "git_dirty": False, "cpu": "CPU B", "cpu_count": 2, "gpu": None, "torch_threads": 1,
           "versions": {"python": "3.11"}}
    results = {"provenance": {"runs": {"lstm_seed0": rec}, "merge": {"end": "T3", "command": "merge"}},
               "runs": {"lstm": {"0": {"train": {"segments": [seg(0, 61, "a" * 40, "CPU A", "T0"),
                                                              seg(61, 100, "b" * 40, "CPU B", "T1")]}}}}}
    lines = book.provenance_report(results).splitlines()
    assert "study: T0 -> T2; merged at T3 by 'merge'" in lines      # from the first segment's start
    assert lines[-4:] == [
        "runs trained by more than one process (epochs: commit, processor, start):",
        "    lstm_seed0                 0-61: aaaaaaaaaa, CPU A, T0; 61-100: bbbbbbbbbb, CPU B, T1",
        "library code of every process: commit bbbbbbbbbb",
        "library code of every training segment: commit aaaaaaaaaa, bbbbbbbbbb"]
    assert book.training_commits(results) == ["a" * 40, "b" * 40]
    # a run trained by one process adds no section
    results["runs"]["lstm"]["0"]["train"]["segments"] = [seg(0, 100, "b" * 40, "CPU B", "T1")]
    assert "more than one process" not in book.provenance_report(results)
    assert book.training_commits(results) == ["b" * 40]


# --------------------------------------------------------------------------------------------
# glued values
# --------------------------------------------------------------------------------------------


def test_glue_values_rounds_floats_only():
    values = {"a": 1.23456789, "b": np.float32(0.5), "c": np.int64(7), "d": "label", "e": 3,
              "f": True, "g": "12,345"}
    glued = book.glue_values(values, 2)
    assert glued == {"a": 1.23, "b": 0.5, "c": 7, "d": "label", "e": 3, "f": True, "g": "12,345"}
    assert type(glued["c"]) is int and type(glued["a"]) is float and glued["f"] is True
    assert book.glue_values({"x": 2 / 3})["x"] == 0.6667
    with pytest.raises(TypeError, match="values must be a mapping of names to values, got list"):
        book.glue_values([1.0])
    with pytest.raises(TypeError, match="values must have string keys"):
        book.glue_values({1: 2.0})
    with pytest.raises(ValueError, match="digits must be >= 0"):
        book.glue_values({"x": 1.0}, -2)


def test_glue_all_glues_each_value_without_display(monkeypatch):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    assert book.glue_all({"psnr": np.float64(20.12345), "n": np.int32(3), "who": "LSTM"}, 2) is None
    assert calls == [("psnr", 20.12, False), ("n", 3, False), ("who", "LSTM", False)]


# --------------------------------------------------------------------------------------------
# the values a chapter quotes
# --------------------------------------------------------------------------------------------


def test_training_rows_give_step_costs_and_validation_levels():
    def run(initial, val, seconds, steps):
        return {"train": {"initial_val_loss": initial, "val_loss": val, "epoch_seconds": seconds,
                          "steps": steps}}

    results = {"models": ["sista_rnn", "lstm"],
               "runs": {"sista_rnn": {"0": run(9.0, [5.0, 3.0, 4.0], [1.0, 1.0, 1.0], 30),
                                      "1": run(7.0, [3.0, 1.0, 2.0], [2.0, 2.0, 2.0], 30)},
                        "lstm": {"0": run(20.0, [10.0, 8.0, 9.0], [3.0, 3.0, 3.0], 10)}}}
    header, rows = book.training_rows(results)
    assert header == ["network", "ms per step", "validation MSE, epoch 0", "after epoch 1", "best"]
    # seed means: 3 s / 30 steps and 6 s / 30 steps -> 150 ms; curve 4, 2, 3
    assert rows == [["SISTA-RNN (paper)", "150", "8.00", "4.00", "2.00"],
                    ["LSTM", "900", "20.00", "10.00", "8.00"]]
    with pytest.raises(ValueError, match=r"models must be trained models of the study"):
        book.training_rows(results, models=["stacked_rnn"])


def test_study_values_are_the_numbers_of_the_committed_small_study():
    from pathlib import Path

    from sista_lib import claims
    from sista_lib.experiment import load_results

    results = load_results(Path(__file__).resolve().parents[1] / "results" / "paper")
    values = book.study_values(results, initial_scalars={"alpha": 1.0, "lam1": 0.5})
    budget = claims.training_budget(results)
    assert values["steps"] == "1,500" and values["paper_steps"] == "49,000" and values["steps_ratio"] == 32.7
    assert (values["n_train"], values["n_test"], values["n_seeds"], values["epochs"]) == (750, 100, 3, 100)
    # 4 networks x 3 seeds, none levelled off within 1,500 steps
    assert (values["n_runs"], values["n_plateaued"], values["n_diverged"]) == (12, 0, 0)
    from sista_lib.experiment import tail_improvement
    lstm_gains = [tail_improvement(r["train"]["val_loss"], r["train"]["initial_val_loss"])
                  for r in results["runs"]["lstm"].values()]
    assert values["tail_gain_lstm"] == round(100 * sum(lstm_gains) / 3, 1) and min(lstm_gains) >= 0.01
    assert values["n_test_photos"] == len(results["data"]["photos"]["test"])
    assert values["psnr_sista_rnn"] == round(results["summary"]["sista_rnn"]["psnr"]["mean"], 2)
    assert values["psnr_lasso_converged"] == round(
        results["baselines"]["lasso_converged"]["summary"]["psnr"]["mean"], 2)
    assert values["params_sista_rnn"] == f"{results['summary']['sista_rnn']['n_parameters']:,}"
    gap = results["summary"]["stacked_rnn"]["psnr"]["mean"] - results["summary"]["sista_rnn"]["psnr"]["mean"]
    assert values["gap_stacked_rnn"] == round(abs(gap), 2)
    assert values["claim_stacked_rnn"] == ("holds" if gap < 0 else "does not hold")
    faster = claims.speed_claim(results).details
    assert values["bb_level"] == round(faster["level"], 2) and values["lead_epochs"] == faster["lead_epochs"]
    assert values["lstm_step_ratio"] == round(claims.seconds_per_step(results, "lstm")
                                              / claims.seconds_per_step(results, "sista_rnn"), 1)
    # eta s = 1e-4 x 1,500 = 0.15: 15 % of alpha = 1, 30 % of lambda1 = 0.5
    assert values["max_drift"] == 0.15 and (values["drift_pct_alpha"], values["drift_pct_lam1"]) == (15.0, 30.0)
    assert values["paper_hours_lstm"] == round(budget["paper_steps"] * claims.seconds_per_step(results, "lstm") / 3600, 1)
    with pytest.raises(ValueError, match=r"initial_scalars\['lam2'\] must be non-zero"):
        book.study_values(results, initial_scalars={"lam2": 0.0})
    with pytest.raises(ValueError, match=r"model must be a trained network of the study"):
        book.study_values(results, model="sista_untrained")


def _sweep():
    score = {"sista_rnn": {1e-4: 19.0, 1e-3: None}, "lstm": {1e-4: 14.0, 1e-3: 19.5}}
    return {"lrs": [1e-4, 1e-3], "models": ["sista_rnn", "lstm"], "score": score,
            "diverged": {"sista_rnn": {1e-4: None, 1e-3: 3}, "lstm": {1e-4: None, 1e-3: None}},
            "best_lr": {"sista_rnn": 1e-4, "lstm": 1e-3}}


def test_sweep_values_name_the_best_rates_the_winner_and_the_divergence():
    studies = {lr: {"config": {"n_train": 1000, "n_test": 120, "batch_size": 50, "epochs": 4}}
               for lr in (1e-4, 1e-3)}
    values = book.sweep_values(_sweep(), studies)
    assert values == {
        "sweep_n_lrs": 2, "sweep_lrs": "0.0001, 0.001", "sweep_n_train": "1,000", "sweep_n_test": "120",
        "sweep_epochs": 4, "sweep_steps": "80", "sweep_winner": "LSTM",
        "sweep_paper_sista_rnn": "19.00", "sweep_paper_lstm": "14.00",
        "sweep_best_lr_sista_rnn": "0.0001", "sweep_best_sista_rnn": "19.00",
        "sweep_best_lr_lstm": "0.001", "sweep_best_lstm": "19.50",
        # eta / sqrt(1 - rho) = 1e-3 / sqrt(0.1)
        "sweep_div_lr": "0.001", "sweep_step_bound": "0.0032", "sweep_div_sista_rnn": 3}
    assert "sweep_div_lr" not in book.sweep_values(_sweep(), studies, model="lstm")
    with pytest.raises(ValueError, match=r"reference_lr must be a rate of the sweep \[0.0001, 0.001\], got 0.0003"):
        book.sweep_values(_sweep(), studies, reference_lr=3e-4)
    with pytest.raises(ValueError, match=r"rho must be in \[0, 1\), got 1.0"):
        book.sweep_values(_sweep(), studies, rho=1.0)


def test_protocol_rows_name_each_departure_from_the_authors():
    from dataclasses import replace

    from sista_lib.experiment import AUTHORS_PROTOCOL, PRESETS, PROTOCOL_CHOICES, protocol_table

    paper = PRESETS["paper"]["config"]
    # every departure of the paper preset has its reason, and no reason is given for an item it keeps
    assert {r["field"] for r in protocol_table(paper) if not r["same"]} == set(PROTOCOL_CHOICES)
    header, rows = book.protocol_rows({"paper": paper, "eps": replace(paper, rms_eps=1e-6, ssim="skimage")})
    assert header == ["item", "the authors' code", "paper", "eps"]
    assert [r[0] for r in rows] == [item for item, *_ in AUTHORS_PROTOCOL]
    by_item = {r[0]: r for r in rows}
    assert by_item["optimiser of the soft-threshold RNNs"][2:4] == ["same", "epsilon 1e-06"]
    assert by_item["SSIM"][2:] == ["same", "scikit-image's: the map without a 5-pixel border"]
    assert by_item["LSTM gates"][2:] == ["sigmoid", "sigmoid"]
    legacy = book.protocol_rows({"small-v1": PRESETS["small-v1"]["config"]})[1]
    assert {r[0]: r[2] for r in legacy}["gradient clipping (LSTM)"] == "none"
    with pytest.raises(TypeError, match=r"configs\['x'\] must be an ExperimentConfig, got dict"):
        book.protocol_rows({"x": {}})
    with pytest.raises(ValueError, match="configs must be a non-empty mapping"):
        book.protocol_rows({})


def test_difference_rows_are_the_fixed_differences():
    from sista_lib.experiment import FIXED_DIFFERENCES

    header, rows = book.difference_rows()
    assert header == ["item", "the authors' code", "this book", "why"]
    assert rows == [list(r) for r in FIXED_DIFFERENCES] and all(len(r) == 4 and all(r) for r in rows)

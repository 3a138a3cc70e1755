"""Tests of sista_lib.experiment: the CLI on a micro study, merge of parallel runs, resume,
the loader and the book's table, and bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from sista_lib import cli
from sista_lib import experiment as ex
from sista_lib.experiment import ExperimentConfig
from sista_lib.checkpoints import load_parameters

MICRO = ["--n-train", "4", "--n-val", "2", "--n-test", "2", "--epochs", "2",
         "--batch-size", "2", "--no-progress"]
MICRO_CONFIG = ExperimentConfig(preset="micro", n_train=4, n_val=2, n_test=2, epochs=2,
                                batch_size=2)


@pytest.fixture(scope="module")
def cli_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "micro"
    # the book's baselines: their untrained SISTA is exactly the untrained SISTA-RNN
    status = cli.main(["--preset", "quick", "--out", str(out), "--dtype", "float64",
                       "--baselines", "book", *MICRO])
    assert status == 0
    return out


def test_cli_writes_a_complete_results_file(cli_study):
    res = ex.load_results(cli_study)
    assert res["models"] == list(ex.MODEL_NAMES) and res["seeds"] == [0]
    assert res["config"]["n_train"] == 4 and res["config"]["dtype"] == "float64"
    assert res["data"]["sizes"] == {"train": 4, "val": 2, "test": 2}
    for name in ex.MODEL_NAMES:
        run = res["runs"][name]["0"]
        assert len(run["train"]["train_loss"]) == len(run["train"]["val_loss"]) == 2
        assert len(run["train"]["snapshots"]) == 3  # epoch 0, 1, 2
        assert run["train"]["steps"] == 4
        assert 0 <= run["train"]["best_epoch"] <= 2
        assert run["test"]["summary"]["psnr"]["n"] == 2
        assert len(run["test"]["per_image"]["ssim"]) == 2
        assert run["n_parameters"] > 0
        state, meta = load_parameters(cli_study / run["checkpoint"])
        assert meta["model"] == name and meta["best_epoch"] == run["train"]["best_epoch"]
        summary = res["summary"][name]
        assert summary["psnr"]["mean"] == run["test"]["summary"]["psnr"]["mean"]
    # the SISTA-RNN's scalar parameters are tracked per epoch
    snaps = res["runs"]["sista_rnn"]["0"]["train"]["snapshots"]
    assert snaps[0]["scalars"] == {"alpha": 1.0, "lam1": 0.5, "lam2": 1.0}
    assert set(res["baselines"]) == {"sista_untrained", "sista_converged", "lasso_converged"}
    prov = res["provenance"]["runs"]["lstm_seed0"]
    for key in ("command", "git_commit", "git_dirty", "versions", "cpu", "torch_threads",
                "start", "end", "wall_time_s"):
        assert key in prov, key
    assert prov["command"].startswith("python -m sista_lib.experiment --preset quick")
    assert prov["versions"]["torch"] and prov["wall_time_s"] > 0
    assert "merge" in res["provenance"]
    assert (cli_study / ".gitignore").read_text().strip().endswith("train_state/")


def test_untrained_sista_rnn_scores_as_the_untrained_sista_baseline(cli_study):
    # Before training the SISTA-RNN *is* 3 iterations of SISTA (float64 here): the two
    # independent code paths (network + evaluate, sista + evaluate_baselines) must agree.
    res = ex.load_results(cli_study)
    initial = res["runs"]["sista_rnn"]["0"]["test_initial"]["per_image"]
    baseline = res["baselines"]["sista_untrained"]["per_image"]
    for metric in ("mse", "psnr", "ssim"):
        np.testing.assert_allclose(initial[metric], baseline[metric], rtol=1e-9)


def test_table_and_curves(cli_study):
    res = ex.load_results(cli_study / "results.json")
    rows = ex.results_table(res, fmt="rows")
    assert [r["method"] for r in rows] == ["sista_untrained", "sista_converged",
                                           "lasso_converged", *ex.MODEL_NAMES]
    lstm = rows[-1]
    assert lstm["psnr"] == res["summary"]["lstm"]["psnr"]["mean"] and lstm["psnr_std"] is None
    md = ex.results_table(res)
    assert md.count("\n") == len(rows) + 1 and "| LSTM | 4 |" in md
    html = ex.results_table(res, fmt="html", metrics=("psnr",))
    assert html.startswith("<table>") and html.count("<tr>") == len(rows) + 1
    curves, bands = ex.learning_curves(res)
    assert set(curves) == {ex.MODEL_LABELS[m] for m in ex.MODEL_NAMES}
    label = ex.MODEL_LABELS["sista_rnn"]
    assert curves[label] == res["runs"]["sista_rnn"]["0"]["train"]["val_loss"]
    assert bands[label][0] == bands[label][1] == curves[label]  # one seed: no spread
    with pytest.raises(ValueError, match="metrics"):
        ex.results_table(res, metrics=("snr",))
    with pytest.raises(ValueError, match="fmt"):
        ex.results_table(res, fmt="latex")


def test_parallel_runs_merge_into_one_study(tmp_path):
    out = tmp_path / "par"
    # two "processes": different models and seeds into the same folder, merged afterwards
    ex.run_experiment(MICRO_CONFIG, out, models=["sista_rnn"], seeds=[0, 1], progress=False,
                      do_merge=False)
    ex.run_experiment(MICRO_CONFIG, out, models=["stacked_rnn"], seeds=[1], baselines=False,
                      progress=False, do_merge=False)
    assert not (out / "results.json").exists()
    res = ex.merge(out)
    assert res["models"] == ["sista_rnn", "stacked_rnn"] and res["seeds"] == [0, 1]
    assert list(res["runs"]["sista_rnn"]) == ["0", "1"] and list(res["runs"]["stacked_rnn"]) == ["1"]
    s = res["summary"]["sista_rnn"]
    per_seed = [res["runs"]["sista_rnn"][k]["test"]["summary"]["psnr"]["mean"] for k in ("0", "1")]
    assert s["psnr"]["per_seed"] == per_seed
    assert s["psnr"]["mean"] == pytest.approx(np.mean(per_seed))
    assert s["psnr"]["std"] == pytest.approx(np.std(per_seed))
    # different seeds shuffle differently
    r0, r1 = (res["runs"]["sista_rnn"][k]["train"]["train_loss"] for k in ("0", "1"))
    assert r0 != r1
    assert ex.load_results(out) == json.loads((out / "results.json").read_text())

    # a process with another configuration may not write into the same study ...
    other = ExperimentConfig(**{**MICRO_CONFIG.to_dict(), "lr": 1e-3})
    with pytest.raises(ValueError, match="another configuration"):
        ex.run_experiment(other, out, models=["lstm"], progress=False)
    # ... and a foreign run file is refused by merge
    rec = json.loads((out / "runs" / "stacked_rnn_seed1.json").read_text())
    rec["config"]["lr"] = 1e-3
    (out / "runs" / "stacked_rnn_seed1.json").write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="another configuration"):
        ex.merge(out)


def test_resume_skips_finished_runs_and_continues_unfinished(tmp_path):
    out = tmp_path / "res"
    ex.run_experiment(MICRO_CONFIG, out, models=["sista_rnn"], seeds=[0], baselines=False,
                      progress=False)
    first = json.loads((out / "runs" / "sista_rnn_seed0.json").read_text())
    mtime = (out / "runs" / "sista_rnn_seed0.json").stat().st_mtime_ns
    ex.run_experiment(MICRO_CONFIG, out, models=["sista_rnn"], seeds=[0], baselines=False,
                      progress=False, resume=True)
    assert (out / "runs" / "sista_rnn_seed0.json").stat().st_mtime_ns == mtime  # skipped

    # an interrupted run: the record is missing, the training state is at its last epoch
    (out / "runs" / "sista_rnn_seed0.json").unlink()
    ex.run_experiment(MICRO_CONFIG, out, models=["sista_rnn"], seeds=[0], baselines=False,
                      progress=False, resume=True)
    again = json.loads((out / "runs" / "sista_rnn_seed0.json").read_text())
    assert again["train"]["resumed_from_epoch"] == 2
    # the run names both processes that trained it, each with its commit
    segments = again["train"]["segments"]
    assert [(seg["from_epoch"], seg["to_epoch"]) for seg in segments] == [(0, 2), (2, 2)]
    assert all(set(ex._SEGMENT_FIELDS) <= set(seg) for seg in segments)
    for key in ("train_loss", "val_loss", "best_epoch", "snapshots"):
        assert again["train"][key] == first["train"][key]
    assert again["test"] == first["test"]


def test_merge_via_the_module_entry_point(cli_study):
    proc = subprocess.run([sys.executable, "-m", "sista_lib.experiment", "--merge", "--out",
                           str(cli_study)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| SISTA-RNN (paper) | 3 |" in proc.stdout
    res = ex.load_results(cli_study)
    assert res["provenance"]["merge"]["command"].endswith(f"--merge --out {cli_study}")


@pytest.mark.parametrize("args, message", [
    (["--models", "gru"], "invalid choice: 'gru'"),
    (["--epochs", "-3"], "expected an integer >= 0, got -3"),
    (["--n-train", "0"], "expected an integer >= 1"),
    (["--lr", "nan"], "expected a finite number > 0"),
    (["--seeds", "x"], "expected an integer"),
    (["--preset", "huge"], "invalid choice: 'huge'"),
])
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        cli.main(["--out", str(tmp_path / "x"), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_api_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        ex.run_experiment(MICRO_CONFIG, tmp_path, models=["gru"])
    with pytest.raises(ValueError, match="seeds"):
        ex.run_experiment(MICRO_CONFIG, tmp_path, seeds=[-1])
    with pytest.raises(TypeError, match="config"):
        ex.run_experiment({"epochs": 1}, tmp_path)
    with pytest.raises(ValueError, match="epochs"):
        ExperimentConfig(epochs=-1)
    with pytest.raises(ValueError, match="dtype"):
        ExperimentConfig(dtype="float16")
    with pytest.raises(ValueError, match="unknown ExperimentConfig"):
        ExperimentConfig.from_dict({"epochs": 1, "momentum": 0.9})
    with pytest.raises(FileNotFoundError, match="no runs"):
        ex.merge(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="results.json"):
        ex.load_results(tmp_path)
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ValueError, match="not a sista_lib.experiment/1"):
        ex.load_results(bad)


def test_presets_are_valid_and_paper_keeps_the_protocol():
    paper = ex.PRESETS["paper"]["config"]
    assert (paper.epochs, paper.batch_size, paper.lr) == (100, 50, 1e-4)
    assert ex.PRESETS["paper"]["seeds"] == (0, 1, 2)
    tc = paper.train_config(seed=2)
    assert (tc.optimizer, tc.seed, tc.keep_best, tc.clip_grad_norm) == ("rmsprop", 2, True, None)
    assert ex.PRESETS["quick"]["seeds"] == (0,)


def test_cli_runs_on_a_local_caltech256_folder(tmp_path):
    from PIL import Image

    root = tmp_path / "caltech"
    rng = np.random.default_rng(0)
    for c, name in enumerate(["001.ak47", "002.american-flag", "257.clutter"]):
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, size=(140 + 10 * i, 170, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{c:03d}_{i:04d}.jpg")
    out = tmp_path / "study"
    status = cli.main(["--out", str(out), "--models", "sista_rnn", "--source", "caltech256",
                      "--caltech-root", str(root), "--no-baselines", *MICRO])
    assert status == 0
    results = ex.load_results(out)
    assert results["config"]["source"] == "caltech256"
    assert results["data"]["source"] == "caltech256"


def test_caltech_source_needs_a_root_and_old_configs_still_load():
    with pytest.raises(ValueError, match="needs caltech_root"):
        ExperimentConfig(source="caltech256")
    with pytest.raises(ValueError, match="source must be 'bundled' or 'caltech256'"):
        ExperimentConfig(source="imagenet")
    old = MICRO_CONFIG.to_dict()
    del old["caltech_root"]  # experiment.json files written before the field existed
    assert ExperimentConfig.from_dict(old) == MICRO_CONFIG


# --- the authors' protocol ------------------------------------------------------------------

def test_paper_preset_is_the_authors_protocol_at_the_papers_scale():
    config = ex.PRESETS["paper"]["config"]
    assert (config.n_train, config.n_val, config.n_test) == (24500, 3060, 3060)
    assert config.n_train // config.batch_size * config.epochs == 49_000
    rnn, lstm = config.train_config(0, "sista_rnn"), config.train_config(0, "lstm")
    assert (rnn.eps, rnn.rms_init, rnn.clip_grad_norm, rnn.keep_best) == (0.0, 1e-3, None, True)
    assert (lstm.eps, lstm.rms_init, lstm.clip_grad_norm, lstm.keep_best) == (1e-8, 0.0, 1.0,
                                                                                False)
    assert not rnn.select_last_epoch and not lstm.select_last_epoch
    assert (config.stacked_init, config.lstm_init, config.ssim, config.baselines) == (
        "authors", "keras1", "matlab", "authors")


def test_a_config_written_before_the_protocol_fields_reads_as_the_old_protocol():
    old = {"preset": "paper", "n_train": 750, "n_val": 100, "n_test": 100}
    config = ExperimentConfig.from_dict(old, legacy=True)
    assert config.to_dict() == {**ex.PRESETS["small-v1"]["config"].to_dict(), "preset": "paper"}
    assert config.train_config(0, "lstm").clip_grad_norm is None
    assert ExperimentConfig.from_dict(old).rms_init == 1e-3      # without legacy: the defaults
    with pytest.raises(ValueError, match="lstm_gate must be one of"):
        ExperimentConfig(lstm_gate="tanh")
    with pytest.raises(TypeError, match="test_photos must be a sequence"):
        ExperimentConfig(test_photos="china")


def test_a_diverging_run_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    from sista_lib.train import TrainingDivergedError

    real_run_one = ex.run_one

    def run_one(name, seed, *args, **kw):
        if name == "stacked_rnn":
            raise TrainingDivergedError(2, 7, float("nan"))
        return real_run_one(name, seed, *args, **kw)

    monkeypatch.setattr(ex, "run_one", run_one)
    res = ex.run_experiment(MICRO_CONFIG, tmp_path / "s", models=("sista_rnn", "stacked_rnn",
                                                                   "lstm"),
                            baselines=False, progress=False)
    assert res["failed_runs"] == ["stacked_rnn_seed0"] and res["models"] == ["sista_rnn", "lstm"]
    failed = json.loads((tmp_path / "s" / "failed" / "stacked_rnn_seed0.json").read_text())
    assert failed["model"] == "stacked_rnn" and failed["epoch"] == 2 and failed["step"] == 7


# --- the command line refuses bad input before it writes anything ---------------------------

@pytest.mark.parametrize("extra, message", [
    (["--source", "caltech256", "--caltech-root", "/nope/256_ObjectCategories"], "nope"),
    (["--caltech-root", "/somewhere"], "caltech_root is only used with source='caltech256'"),
    (["--models", "lstm", "lstm"], "must not repeat a model"),
    (["--seeds", "1", "1"], "must not repeat a seed"),
    (["--n-train", "1000000000"], "use fewer images"),
    (["--device", "gpu7"], "device must name a torch device"),
])
def test_bad_commands_fail_in_one_line_and_leave_no_folder(tmp_path, capsys, extra, message):
    out = tmp_path / "study"
    status = cli.main(["--preset", "quick", "--out", str(out), *MICRO, *extra])
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    # the corrected command then works in the same folder
    assert cli.main(["--preset", "quick", "--out", str(out), *MICRO, "--models",
                     "sista_rnn", "--no-baselines", "--epochs", "1"]) == 0


def test_empty_out_and_debug_traceback(tmp_path, capsys):
    assert cli.main(["--preset", "quick", "--out", "", *MICRO]) == 2
    assert "out must name a folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must not repeat a model"):
        cli.main(["--preset", "quick", "--out", str(tmp_path / "s"), "--models", "lstm",
                  "lstm", "--debug"])


def test_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_experiment", interrupted)
    assert cli.main(["--preset", "quick", "--out", str(tmp_path / "s"), *MICRO]) == 130
    assert "--resume" in capsys.readouterr().err


def test_help_lists_the_presets_and_explains_resume(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "n_train=24500 n_val=3060 n_test=3060" in text and "small-v1" in text
    assert "bit-identically" in text and "--lstm-gate" in text


def test_plateau_criterion():
    from sista_lib.experiment import plateaued

    # 10 epochs: the tail is epochs 9-10; before them the best is 1.0
    flat = [2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.0, 0.995, 0.992]
    assert plateaued(flat, 3.0)                          # 0.8 % better in the tail
    falling = flat[:-1] + [0.98]
    assert not plateaued(falling, 3.0)                   # 2 % better in the tail
    assert plateaued([1.0, 1.0], None) and not plateaued([1.0, 0.5], None)
    from sista_lib.experiment import tail_improvement
    assert tail_improvement(flat, 3.0) == pytest.approx(0.008)      # 0.992 against 1.0
    assert tail_improvement(falling, 3.0) == pytest.approx(0.02)
    assert tail_improvement([1.0, 1.2], None) == pytest.approx(-0.2)  # a worse tail: negative
    with pytest.raises(ValueError, match="too short"):
        plateaued([1.0])
    with pytest.raises(ValueError, match="tail must be in"):
        plateaued(flat, tail=1.5)


def test_table_reports_steps_and_plateaus(cli_study):
    res = ex.load_results(cli_study)
    rows = ex.results_table(res, fmt="rows")
    lstm = [r for r in rows if r["method"] == "lstm"][0]
    assert lstm["steps"] == 4 and lstm["plateaued"][1] == 1
    text = ex.results_table(res, convergence=True)
    assert text.splitlines()[0].endswith("| steps | plateaued |")
    assert text.splitlines()[-1].endswith("| 4 | 1 of 1 |") or text.splitlines()[-1].endswith(
        "| 4 | 0 of 1 |")
    assert "plateaued" not in ex.results_table(res)


def test_protocol_table_marks_each_departure_from_the_authors():
    rows = {r["field"]: r for r in ex.protocol_table(ex.PRESETS["paper"]["config"])}
    assert all(r["same"] for f, r in rows.items() if f != "lstm_gate")
    assert not rows["lstm_gate"]["same"] and rows["lstm_gate"]["here"] == "sigmoid"
    old = {r["field"]: r["same"] for r in ex.protocol_table(ex.PRESETS["small-v1"]["config"])}
    assert not old["rms_init"] and not old["stacked_init"] and not old["ssim"]
    assert old["clip_grad_norm"]   # neither clips the soft-threshold RNNs
    with pytest.raises(TypeError, match="config must be an ExperimentConfig"):
        ex.protocol_table({"lr": 1e-4})


def test_skip_bad_images_reaches_the_caltech_loader(tmp_path):
    from test_data import _write_caltech

    from sista_lib.data import BadImageWarning

    root = _write_caltech(tmp_path / "caltech")
    (root / "001.ak47" / "001_0099.jpg").write_bytes(b"\xff\xd8 truncated")
    strict = ExperimentConfig(source="caltech256", caltech_root=str(root), n_train=4, n_val=1,
                              n_test=1, epochs=0)
    with pytest.raises(ValueError, match="001_0099.jpg"):
        ex._problem(strict)
    lenient = ExperimentConfig(**{**strict.to_dict(), "skip_bad_images": True})
    with pytest.warns(BadImageWarning, match="skipped 1"):
        problem = ex._problem(lenient)
    assert len(problem.train_set) == 4


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "holds a JSON list"),
    ('{"schema": "sista_lib.experiment/1", "kind": "run", "config": {}, "provenance": {}}',
     "lacks the field"),
])
def test_garbage_files_are_named_in_the_error(tmp_path, content, message):
    (tmp_path / "runs").mkdir()
    bad = tmp_path / "runs" / "lstm_seed0.json"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        ex.merge(tmp_path)
    assert str(bad) in str(info.value)
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ValueError, match="results.json") as info:
        ex.load_results(tmp_path)
    (tmp_path / "experiment.json").write_text("{oops")
    with pytest.raises(ValueError, match="experiment.json is not valid JSON"):
        ex.run_experiment(MICRO_CONFIG, tmp_path, progress=False)


def test_status_of_a_study_in_progress(tmp_path):
    import shutil

    out = tmp_path / "res"
    # one run finished, one interrupted after its first epoch, one never started
    ex.run_experiment(MICRO_CONFIG, out, models=["sista_rnn", "lstm"], seeds=[0],
                      baselines=False, progress=False)
    half = ExperimentConfig(**{**MICRO_CONFIG.to_dict(), "epochs": 1})
    ex.run_one("lstm", 1, half, tmp_path / "half", progress=False)
    (out / "train_state").mkdir(exist_ok=True)
    shutil.copy(tmp_path / "half" / "train_state" / "lstm_seed1.safetensors",
                out / "train_state" / "lstm_seed1.safetensors")
    (out / "runs" / "lstm_seed0.json").unlink()
    (out / "train_state" / "lstm_seed0.safetensors").unlink()

    status = ex.study_status(out, models=["sista_rnn", "lstm"], seeds=[0, 1])
    rows = {(r["model"], r["seed"]): r for r in status["runs"]}
    done = json.loads((out / "runs" / "sista_rnn_seed0.json").read_text())
    assert rows["sista_rnn", 0]["state"] == "finished"
    assert rows["sista_rnn", 0]["test_psnr"] == done["test"]["summary"]["psnr"]["mean"]
    assert rows["sista_rnn", 0]["mean_epoch_s"] == pytest.approx(
        np.mean(done["train"]["epoch_seconds"]))
    lstm1 = rows["lstm", 1]
    assert (lstm1["state"], lstm1["epoch"], lstm1["epochs"]) == ("training", 1, 2)
    assert lstm1["remaining_s"] == pytest.approx(lstm1["mean_epoch_s"])   # 1 epoch left
    assert [(s["from_epoch"], s["to_epoch"]) for s in lstm1["segments"]] == [(0, 1)]
    # a run not started is estimated from the other runs of its model
    assert rows["lstm", 0]["state"] == rows["sista_rnn", 1]["state"] == "not started"
    assert rows["lstm", 0]["remaining_s"] == pytest.approx(2 * lstm1["mean_epoch_s"])
    assert rows["sista_rnn", 1]["remaining_s"] == pytest.approx(
        2 * rows["sista_rnn", 0]["mean_epoch_s"])
    assert status["remaining_s"] == pytest.approx(
        lstm1["remaining_s"] + rows["lstm", 0]["remaining_s"] + rows["sista_rnn", 1]["remaining_s"])
    assert status["baselines"] is False
    # seeds found from the files, a killed writer's temporary file among them
    (out / "train_state" / ".lstm_seed1.safetensors.abcd1234.tmp").write_bytes(b"")
    found = ex.study_status(out, models=["lstm"])
    assert [(r["seed"], r["state"]) for r in found["runs"]] == [(0, "not started"), (1, "training")]

    table = ex.status_table(status)
    assert "| sista_rnn_seed0 | finished | 2/2 |" in table
    assert "| lstm_seed1 | training | 1/2 |" in table
    assert table.endswith("1 of 4 runs finished; baselines not scored; about "
                          f"{status['remaining_s'] / 3600:.1f} h of single-core training left.")
    # the command line prints the same table and writes nothing
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert cli.main(["--status", "--out", str(out), "--models", "sista_rnn", "lstm",
                     "--seeds", "0", "1"]) == 0
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_a_study_whose_every_run_diverged_still_merges(tmp_path):
    out = tmp_path / "res"
    config = ExperimentConfig(**{**MICRO_CONFIG.to_dict(), "lr": 10.0})
    results = ex.run_experiment(config, out, models=["sista_rnn"], seeds=[0], baselines=False,
                                progress=False)
    assert results["models"] == [] and results["failed_runs"] == ["sista_rnn_seed0"]
    saved = ex.load_results(out)
    assert saved["config"]["lr"] == 10.0
    assert saved["failed"]["sista_rnn_seed0"]["model"] == "sista_rnn"
    assert ex.study_status(out, models=["sista_rnn"])["runs"][0]["state"] == "failed"
    # it diverged in its first epoch: the best validated parameters are the initial ones, SISTA,
    # and they are scored and saved as the authors' code would report the run
    rec = saved["failed"]["sista_rnn_seed0"]
    assert rec["epochs_trained"] == 0 and rec["best_epoch"] == 0 and rec["val_loss"] == []
    assert rec["best_val_loss"] == rec["initial_val_loss"]
    state, meta = load_parameters(out / rec["checkpoint"])
    assert meta["best_epoch"] == 0 and meta["seed"] == 0
    problem = ex._problem(config)
    sista = ex.build_network("sista_rnn", problem.A, problem.D, config, 0)
    expected = ex.evaluate(sista, problem.splits.test, problem.A, problem.normalizer)
    assert np.allclose(rec["best_test"]["per_image"]["psnr"], expected["psnr"], rtol=0, atol=1e-9)
    assert all(torch.equal(v, sista.state_dict()[k]) for k, v in state.items())


def test_status_refuses_a_folder_that_is_no_study(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a study folder"):
        ex.study_status(tmp_path)
    assert cli.main(["--status", "--out", str(tmp_path / "nothing")]) == 2


@pytest.fixture(scope="module")
def micro_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for lr in (1e-5, 1e-4):
        config = ExperimentConfig(**{**MICRO_CONFIG.to_dict(), "lr": lr})
        ex.run_experiment(config, root / f"lr_{lr:g}", models=["sista_rnn", "stacked_rnn"],
                          seeds=[0], baselines=False, progress=False)
    # the stacked RNN "diverged" at the larger rate: its record moves to failed/
    out = root / "lr_0.0001"
    (out / "runs" / "stacked_rnn_seed0.json").unlink()
    (out / "failed").mkdir()
    (out / "failed" / "stacked_rnn_seed0.json").write_text(json.dumps(
        {"model": "stacked_rnn", "seed": 0, "error": "loss nan", "epoch": 2, "step": 3}))
    ex.merge(out)
    return root


def test_learning_rate_sweep_compares_the_networks_across_rates(micro_sweep):
    studies = ex.load_sweep(micro_sweep)
    assert list(studies) == [1e-5, 1e-4]
    sweep = ex.learning_rate_sweep(studies)
    assert sweep["lrs"] == [1e-5, 1e-4] and sweep["models"] == ["sista_rnn", "stacked_rnn"]
    for lr in (1e-5, 1e-4):
        assert sweep["score"]["sista_rnn"][lr] == studies[lr]["summary"]["sista_rnn"]["psnr"]["mean"]
        assert sweep["best_val"]["sista_rnn"][lr] == \
            studies[lr]["runs"]["sista_rnn"]["0"]["train"]["best_val_loss"]
    assert sweep["score"]["stacked_rnn"][1e-4] is None
    assert sweep["initial"]["sista_rnn"] == studies[1e-5]["summary"]["sista_rnn"]["psnr"]["initial_mean"]
    assert sweep["diverged"]["stacked_rnn"] == {1e-5: None, 1e-4: 3}
    assert sweep["ranking"][1e-4] == ["sista_rnn"]
    s_lo, t_lo = sweep["score"]["sista_rnn"][1e-5], sweep["score"]["stacked_rnn"][1e-5]
    assert sweep["ranking"][1e-5] == (["sista_rnn", "stacked_rnn"] if s_lo > t_lo
                                      else ["stacked_rnn", "sista_rnn"])
    assert sweep["best_lr"]["stacked_rnn"] == 1e-5
    s = sweep["score"]["sista_rnn"]
    assert sweep["best_lr"]["sista_rnn"] == max(s, key=s.get)
    assert sweep["same_ranking"] is True     # only one rate at which both trained
    # MSE ranks the other way round
    by_mse = ex.learning_rate_sweep(studies, metric="mse")
    m = by_mse["score"]["sista_rnn"]
    assert by_mse["best_lr"]["sista_rnn"] == min(m, key=m.get)

    table = ex.sweep_table(sweep, fmt="markdown")
    assert table.splitlines()[0] == "| network | lr = 1e-05 | lr = 0.0001 |"
    assert "| generic stacked RNN | **" in table and "diverged (step 3)" in table
    assert "<td>diverged (step 3)</td>" in ex.sweep_table(sweep)


def test_learning_rate_sweep_refuses_studies_that_differ_in_more_than_lr(micro_sweep):
    studies = ex.load_sweep(micro_sweep)
    studies[1e-4] = {**studies[1e-4], "config": {**studies[1e-4]["config"], "epochs": 7}}
    with pytest.raises(ValueError, match=r"differ only in lr; the study at lr=0.0001 also "
                                         r"differs in \['epochs'\]"):
        ex.learning_rate_sweep(studies)
    with pytest.raises(ValueError, match="was run with lr=1e-05"):
        ex.learning_rate_sweep({0.5: studies[1e-5]})
    with pytest.raises(ValueError, match="metric must be among"):
        ex.learning_rate_sweep(studies, metric="accuracy")
    with pytest.raises(FileNotFoundError, match="holds no study"):
        ex.load_sweep(micro_sweep / "lr_0.0001" / "runs")


def test_outputs_inside_the_repository_do_not_make_the_provenance_dirty(tmp_path, monkeypatch):
    from sista_lib import provenance as pv

    repo = tmp_path / "repo"
    (repo / "results" / "study").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results" / "study" / "state.txt").write_text("epoch 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "start"]):
        subprocess.run(git + args, check=True, capture_output=True)
    monkeypatch.setattr(pv, "_ROOT", repo)
    study = repo / "results" / "study"
    assert pv.provenance("c", output=study)["git_dirty"] is False
    (study / "state.txt").write_text("epoch 2\n")          # a run continues the study
    assert pv.provenance("c", output=study)["git_dirty"] is False
    assert pv.provenance("c")["git_dirty"] is True
    assert pv.provenance("c", output=tmp_path / "elsewhere")["git_dirty"] is True
    (repo / "code.py").write_text("x = 2\n")                # the code changed: dirty
    assert pv.provenance("c", output=study)["git_dirty"] is True


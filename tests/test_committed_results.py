"""The committed studies under results/: each is complete (its results.json merges its runs and
matches its experiment.json) or, committed part-way, resumable (every training state loads and
STATUS.md is exactly what ``--status`` prints for the folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sista_lib import experiment as ex
from sista_lib.checkpoints import load_checkpoint

RESULTS = Path(__file__).resolve().parents[1] / "results"
STUDIES = sorted(p.parent for p in RESULTS.rglob("experiment.json"))


def test_the_committed_studies_are_found():
    names = {p.relative_to(RESULTS).as_posix() for p in STUDIES}
    assert {"quick", "paper"} <= names


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_a_committed_study_is_complete_or_resumable(study):
    manifest = json.loads((study / "experiment.json").read_text())
    config = ex.ExperimentConfig.from_dict(manifest["config"], legacy=True).to_dict()
    if (study / "results.json").exists():
        results = ex.load_results(study)
        assert ex.ExperimentConfig.from_dict(results["config"], legacy=True).to_dict() == config
        for model in results["models"]:
            for seed, run in results["runs"][model].items():
                assert (study / run["checkpoint"]).exists(), (model, seed)
        assert not (study / "STATUS.md").exists(), "a complete study has no STATUS.md"
        return
    status = ex.study_status(study)
    for row in status["runs"]:
        state = study / "train_state" / f"{row['model']}_seed{row['seed']}.safetensors"
        if row["state"] == "training":
            assert load_checkpoint(state)["history"]["config"]["epochs"] == config["epochs"]
    assert (study / "STATUS.md").read_text() == ex.status_table(status) + "\n"

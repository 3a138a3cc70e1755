"""A chapter runs on Colab: executed the way Colab would run it, from a folder holding only the notebook.

Each chapter's install cell (cell 2, tagged ``remove-cell``) clones the repository next to the
notebook on Colab and moves into the clone's ``chapters/`` folder, so that ``../results`` and
``../benchmarks/results`` resolve as in the repository. Here, offline:

- a fake ``google.colab`` package is put on the kernel's ``PYTHONPATH`` and imported by an IPython
  startup file (``IPYTHONDIR``), so that ``"google.colab" in sys.modules`` holds, as on Colab;
- the clone comes from a local copy of this repository (``SISTA_BOOK_REPO``), its branch named
  as in ``_config.yml`` pointing at this checkout's commit;
- ``pip install`` is skipped (``SISTA_BOOK_SKIP_PIP=1``): the kernel already has everything.

Two notebooks only (chapter 6 reads ``../results``; chapter 2 is light): each takes 20-60 s.
``SISTA_SKIP_COLAB_TEST=1`` skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
CLONE = REPOSITORY["url"].rstrip("/").split("/")[-1]  # the folder the install cell clones into

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.skipif(bool(os.environ.get("SISTA_SKIP_COLAB_TEST")),
                       reason="SISTA_SKIP_COLAB_TEST is set"),
]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def colab_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a kernel that looks like Colab's and clones from a local repository."""
    base = tmp_path_factory.mktemp("colab")
    # the repository as the install cell will clone it: this checkout's commit on the named branch
    source = base / "source.git"
    _git("clone", "-q", "--bare", str(ROOT), str(source))  # local: every object, HEAD too
    _git("-C", str(source), "update-ref", f"refs/heads/{REPOSITORY.get('branch', 'main')}",
         _git("-C", str(ROOT), "rev-parse", "HEAD"))
    # google.colab, importable (a namespace package "google" with a colab module) and imported
    fake = base / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    startup = base / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text("import google.colab\n")
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(fake), *filter(None, [env.get("PYTHONPATH")])]),
        IPYTHONDIR=str(base / "ipython"),
        SISTA_BOOK_REPO=source.as_uri(),
        SISTA_BOOK_SKIP_PIP="1",
        OMP_NUM_THREADS="1",
    )
    return env


@pytest.mark.parametrize("name", ["02_ista_fista", "06_reading_the_network"])
def test_chapter_runs_as_on_colab(name, colab_env, tmp_path):
    notebook = tmp_path / f"{name}.ipynb"
    shutil.copy(ROOT / "chapters" / notebook.name, notebook)  # alone: no ../results, no library
    executed = tmp_path / "executed.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=300", "--output", str(executed), str(notebook)],
        env=colab_env, cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    # the install cell did clone, next to the notebook, and printed nothing
    assert (tmp_path / CLONE / "chapters" / notebook.name).is_file()
    assert (tmp_path / CLONE / "results" / "paper").is_dir()
    cells = json.loads(executed.read_text())["cells"]
    assert cells[1]["outputs"] == []
    errors = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]
              if o["output_type"] == "error"]
    assert not errors

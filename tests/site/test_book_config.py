"""Consistency of the book's configuration with the pages and files it points at.

These run without building the book (the build itself runs in CI: .ci/run).
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SPHINX = CONFIG["sphinx"]["config"]
MACROS = SPHINX["mathjax3_config"]["tex"]["macros"]
NOTATION = (ROOT / "chapters" / "notation.md").read_text()


def _macro(value) -> tuple[str, int]:
    """(body, number of arguments) of a MathJax macro definition."""
    return (value[0], value[1]) if isinstance(value, list) else (value, 0)


def test_notation_page_lists_exactly_the_configured_macros():
    rows = re.findall(r"^\| `\\(\w+)(?:\{\w+\})?` \| `([^`]*)`", NOTATION, flags=re.MULTILINE)
    assert [name for name, _ in rows] == list(MACROS), "notation.md table vs _config.yml"
    for name, shown in rows:
        body, nargs = _macro(MACROS[name])
        arg = re.search(r"`\\%s\{(\w+)\}`" % name, NOTATION)
        expected = body.replace("#1", arg.group(1)) if nargs else body
        assert shown == expected, name


def test_notation_page_newcommand_block_matches_the_configuration():
    block = re.search(r"```latex\n\$\$\n(.*?)\n\$\$\n```", NOTATION, flags=re.DOTALL).group(1)
    defined = {}
    for line in block.splitlines():
        m = re.fullmatch(r"\\newcommand\{\\(\w+)\}(?:\[(\d)\])?\{(.*)\}", line)
        assert m, f"not a \\newcommand line: {line!r}"
        defined[m.group(1)] = (m.group(3), int(m.group(2) or 0))
    assert defined == {name: _macro(value) for name, value in MACROS.items()}


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_toc_entry_exists_and_every_chapter_is_in_the_toc():
    files = _toc_files()
    assert len(files) == len(set(files))
    missing = [f for f in files if not any((ROOT / (f + ext)).exists() for ext in (".md", ".ipynb"))]
    assert not missing, f"in _toc.yml but not in the repository: {missing}"
    pages = {p.relative_to(ROOT).with_suffix("").as_posix()
             for ext in ("*.md", "*.ipynb") for p in (ROOT / "chapters").glob(ext)}
    assert not pages - set(files), "chapters missing from _toc.yml"


def test_api_page_documents_every_public_module():
    api = (ROOT / "chapters" / "api.md").read_text()
    documented = re.findall(r"^\.\. automodule:: sista_lib\.(\w+)$", api, flags=re.MULTILINE)
    modules = sorted(p.stem for p in (ROOT / "sista_lib").glob("*.py")
                     if not p.stem.startswith("_"))
    assert sorted(documented) == modules
    assert len(documented) == len(set(documented))


def _site_path(sphinx_path: str) -> Path:
    """The file behind a path Sphinx resolves against _static/ (see _config.yml)."""
    rel = posixpath.normpath(posixpath.join("_static", sphinx_path))
    return ROOT / SPHINX["html_extra_path"][0] / rel


def test_vendored_scripts_exist_with_their_licences():
    scripts = [SPHINX["mathjax_path"], *SPHINX["nb_ipywidgets_js"], *SPHINX["html_css_files"]]
    for path in scripts:
        assert "://" not in path, f"{path} would load from the network"
        assert _site_path(path).is_file(), path
    vendor = ROOT / "book_static" / "site" / "vendor"
    for package in ("mathjax", "requirejs", "html-manager"):
        assert (vendor / package / "LICENSE").is_file(), package
    # MathJax finds its fonts and TeX extensions next to the component
    mathjax = _site_path(SPHINX["mathjax_path"]).parent
    assert any((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mathjax / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()


def _requirements(path: Path) -> dict[str, str]:
    reqs = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", line).group(0)
        reqs[re.sub(r"[-_.]+", "-", name).lower()] = line
    return reqs


def test_binder_installs_cpu_torch_and_the_runtime_dependencies():
    binder = _requirements(ROOT / "binder" / "requirements.txt")
    main = _requirements(ROOT / "requirements.txt")
    torch_version = re.fullmatch(r"torch==([\d.]+)", main["torch"]).group(1)
    assert binder["torch"] == f"torch=={torch_version}+cpu"
    assert "download.pytorch.org/whl/cpu" in (ROOT / "binder" / "requirements.txt").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", dep).group(0)).lower()
        assert name in binder, f"binder/requirements.txt lacks {name}"
    # the chapters glue numbers (myst_nb) and show widgets (ipywidgets)
    assert {"myst-nb", "ipywidgets"} <= set(binder)
    assert "jupyter-book" not in binder and "pytest" not in binder  # keep the image small


@pytest.mark.parametrize("name", ["student/", "_build/"])
def test_generated_folders_are_ignored_by_git(name):
    assert name in (ROOT / ".gitignore").read_text().split()


# --- every chapter runs on Colab: its install cell clones the one repository of _config.yml ---
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _install_cell(path: Path) -> dict:
    """Cell 2 of a chapter (after the title): the hidden cell that sets the chapter up on Colab."""
    return json.loads(path.read_text())["cells"][1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_clones_the_configured_repository(path):
    cell = _install_cell(path)
    source = "".join(cell["source"])
    assert cell["cell_type"] == "code" and "remove-cell" in cell["metadata"].get("tags", []), \
        "cell 2 must be the Colab install cell, tagged remove-cell"
    assert source.startswith("import os, sys\nif \"google.colab\" in sys.modules"), \
        "the cell must act only on Colab"
    assert cell["outputs"] == [], "outside Colab the cell prints nothing"
    repository = CONFIG["repository"]
    urls = re.findall(r"(?:https?|git|ssh)://[^\s\"'{}]+|git@[^\s\"'{}]+", source)
    assert urls == [repository["url"]], f"{path.name}: {urls} instead of _config.yml's URL"
    assert re.search(r'os\.environ\.get\("SISTA_BOOK_REPO", "%s"\)' % re.escape(repository["url"]),
                     source), "the URL is the default of the SISTA_BOOK_REPO override"
    clone = re.search(r"^\s*!git clone .*$", source, flags=re.MULTILINE)
    assert clone, "the cell clones the repository"
    if "branch" in repository:
        assert re.search(r"--branch %s\s" % re.escape(repository["branch"]), clone.group(0)), \
            "the clone takes the branch named in _config.yml"
    folder = repository["url"].rstrip("/").split("/")[-1]
    assert re.search(r'os\.chdir\("%s/chapters"\)' % re.escape(folder), source), \
        "the cell moves into the clone's chapters/ folder (relative paths as in the repository)"

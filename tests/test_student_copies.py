"""Tests for scripts/make_student_copies.py on small generated notebooks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_student_copies",
                                               ROOT / "scripts" / "make_student_copies.py")
msc = importlib.util.module_from_spec(_spec)
sys.modules["make_student_copies"] = msc
_spec.loader.exec_module(msc)

EXERCISE = "```{exercise}\n:label: ex-a\n\nShow that EXERCISE-TEXT holds.\n```"
SOLUTION_3 = "```{solution} ex-a\n:class: dropdown\n\nSECRET-ONE: by definition.\n```"
SOLUTION_4 = ("````{solution} ex-b\n:class: dropdown\n\nSECRET-TWO, in code:\n\n"
              "```python\nprint('SECRET-CODE')\n```\n\nSECRET-AFTER-NESTED\n````")
SOLUTION_COLON = ":::{solution} ex-c\n:class: dropdown\nSECRET-COLON\n:::"


def _notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [
        new_markdown_cell("# Title\n\nIntro text with $x_t$."),
        new_code_cell("x = 1\nprint(x)", execution_count=1,
                      outputs=[new_output("stream", name="stdout", text="1\n")]),
        new_markdown_cell(f"## Exercises\n\n{EXERCISE}\n\n{SOLUTION_3}\n\nText after one.\n\n"
                          f"{SOLUTION_4}\n\nText after two."),
        new_markdown_cell(SOLUTION_COLON),  # a cell holding only a solution
        new_code_cell("print('SECRET-TAGGED')", metadata={"tags": ["solution"]}),
        new_markdown_cell("Before the gate.\n\n```{solution-start} ex-d\n:class: dropdown\n```\n"
                          "SECRET-GATED-TEXT"),
        new_code_cell("print('SECRET-GATED-CODE')"),
        new_markdown_cell("SECRET-GATED-MORE\n\n```{solution-end}\n```\n\nAfter the gate."),
        new_code_cell("y = 2", metadata={"tags": ["remove-cell"]}),
    ]
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells)


def test_removes_every_kind_of_solution_and_keeps_the_rest():
    nb = _notebook()
    out, removed = msc.strip_notebook(nb)
    text = _text(out)
    assert "SECRET" not in text
    assert "{solution" not in text
    # fenced (3 and 4 backticks), colon-fenced, tagged cell, gated pair
    assert removed == 5
    for kept in ["# Title", "Intro text with $x_t$.", "EXERCISE-TEXT", "Text after one.",
                 "Text after two.", "Before the gate.", "After the gate.", "x = 1", "y = 2"]:
        assert kept in text, kept
    # the markdown cell that held only a solution, the tagged cell and the gated code cell go
    assert len(out.cells) == len(nb.cells) - 3
    assert out.cells[1].outputs[0]["text"] == "1\n"  # outputs kept by default
    assert out.cells[-1].metadata["tags"] == ["remove-cell"]
    nbformat.validate(out)


def test_input_is_not_modified():
    nb = _notebook()
    before = nbformat.writes(nb)
    msc.strip_notebook(nb)
    assert nbformat.writes(nb) == before


def test_no_solutions_leaves_the_notebook_identical():
    nb = new_notebook()
    nb.cells = [new_markdown_cell(f"# T\n\n{EXERCISE}\n\n```python\ncode\n```"),
                new_code_cell("z = 3")]
    out, removed = msc.strip_notebook(nb)
    assert removed == 0
    assert nbformat.writes(out) == nbformat.writes(nb)


def test_blank_lines_around_a_removed_block_collapse():
    text, removed, gate = msc.strip_solutions(f"A\n\n{SOLUTION_3}\n\nB")
    assert (text, removed, gate) == ("A\n\nB", 1, False)


def test_a_shorter_fence_does_not_close_a_longer_one():
    text, removed, _ = msc.strip_solutions(SOLUTION_4 + "\n\nKEPT")
    assert text == "KEPT" and removed == 1


def test_clear_outputs():
    out, _ = msc.strip_notebook(_notebook(), clear_outputs=True)
    code = [c for c in out.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.mark.parametrize("source, message", [
    ("```{solution} ex-a\nnever closed", r"cell 0: the \{solution\} block opened on line 1"),
    ("````{solution} ex-a\ntext\n```\n", r"never closed"),  # 3 backticks cannot close 4
    ("```{solution-end}\n```", r"has no \{solution-start\}"),
])
def test_unbalanced_blocks_are_errors(source, message):
    nb = new_notebook()
    nb.cells = [new_markdown_cell(source)]
    with pytest.raises(msc.SolutionBlockError, match=message):
        msc.strip_notebook(nb, name="nb")


def test_a_gate_that_never_ends_is_an_error():
    nb = new_notebook()
    nb.cells = [new_markdown_cell("x"), new_markdown_cell("```{solution-start} ex\n```\nsecret"),
                new_code_cell("secret()")]
    with pytest.raises(msc.SolutionBlockError, match=r"cell 1 has no \{solution-end\}"):
        msc.strip_notebook(nb, name="nb")


def test_bad_arguments():
    with pytest.raises(TypeError, match="markdown must be a str"):
        msc.strip_solutions(["not", "a", "string"])
    with pytest.raises(TypeError, match="nb must be a notebook"):
        msc.strip_notebook("not a notebook")
    with pytest.raises(ValueError, match="must be .ipynb"):
        msc.write_student_copies([Path("chapter.md")], Path("unused"))


def test_command_line_writes_copies(tmp_path, capsys):
    src = tmp_path / "chapters"
    src.mkdir()
    nbformat.write(_notebook(), src / "01_demo.ipynb")
    out = tmp_path / "student"
    assert msc.main([str(src / "01_demo.ipynb"), "--out", str(out)]) == 0
    copy = nbformat.read(out / "01_demo.ipynb", as_version=4)
    assert "SECRET" not in _text(copy) and "EXERCISE-TEXT" in _text(copy)
    assert "5 solution(s) removed" in capsys.readouterr().out


def test_command_line_error_writes_nothing(tmp_path, capsys):
    good, bad = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    nbformat.write(_notebook(), good)
    broken = new_notebook()
    broken.cells = [new_markdown_cell("```{solution} x\nopen")]
    nbformat.write(broken, bad)
    out = tmp_path / "student"
    assert msc.main([str(good), str(bad), "--out", str(out)]) == 1
    assert not out.exists()
    assert "b.ipynb, cell 0" in capsys.readouterr().err


def test_site_config_hides_solutions(tmp_path):
    target = tmp_path / "student" / "_config.yml"
    msc.write_site_config(ROOT / "_config.yml", target)
    config = yaml.safe_load(target.read_text())
    original = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert "hide_solutions" not in original["sphinx"]["config"]
    assert config["title"] == original["title"]
    assert config["sphinx"]["config"]["mathjax3_config"] == original["sphinx"]["config"]["mathjax3_config"]
    for name, path in original["sphinx"].get("local_extensions", {}).items():
        moved = (target.parent / config["sphinx"]["local_extensions"][name]).resolve()
        assert moved == (ROOT / path).resolve()


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.skipif(not CHAPTERS, reason="no chapters yet")
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_a_clean_student_copy(path):
    nb = nbformat.read(path, as_version=4)
    out, removed = msc.strip_notebook(nb, name=path.name)
    solutions = sum(c.source.count("{solution}") for c in nb.cells if c.cell_type == "markdown")
    assert removed >= solutions
    assert "{solution" not in _text(out)
    exercises = sum(c.source.count("{exercise}") for c in nb.cells if c.cell_type == "markdown")
    assert sum(c.source.count("{exercise}") for c in out.cells) == exercises

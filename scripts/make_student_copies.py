#!/usr/bin/env python
r"""Write copies of the chapters for students, with the exercise solutions removed.

Usage (from the repository root)::

    .venv/bin/python scripts/make_student_copies.py                  # chapters/*.ipynb -> student/
    .venv/bin/python scripts/make_student_copies.py --clear-outputs  # also drop every output
    .venv/bin/python scripts/make_student_copies.py chapters/02_ista_fista.ipynb --out /tmp/s
    .venv/bin/python scripts/make_student_copies.py --site-config student/_config.yml

What is removed from each notebook:

- every ``{solution}`` directive block in a Markdown cell, fenced with backticks, tildes or
  colons of any length (nested code fences inside it are handled, as MyST does: a fence closes
  only on a line of the same character at least as long as the one that opened it);
- everything from a ``{solution-start}`` block to the end of its ``{solution-end}`` block
  (sphinx-exercise's gated solutions), code cells in between included;
- every cell tagged ``solution``.

Exercises, text, code and (unless ``--clear-outputs``) outputs are kept; a cell left empty is
dropped. The copies are written flat into the output folder (``student/``, git-ignored), which
sits at the same depth as ``chapters/`` so that relative paths such as ``../results/`` still
resolve. A solution block that is never closed is an error: nothing is written for that
notebook, rather than a copy that might leak or lose text.

``--site-config PATH`` also writes a copy of ``_config.yml`` with sphinx-exercise's
``hide_solutions: true``, for a student website without solutions::

    .venv/bin/jupyter-book build . --config student/_config.yml --path-output student/site
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from pathlib import Path

import nbformat

SOLUTION_TAG = "solution"
ROOT = Path(__file__).resolve().parent.parent

# An opening fence of a directive: indentation, 3+ backticks/tildes/colons, {name}, arguments.
_OPEN = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:-]+)\}(?P<rest>.*)$")
_ANY_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,}|:{3,})(?P<rest>.*)$")


class SolutionBlockError(ValueError):
    """A solution block in a notebook is not closed (or a gated one is not ended)."""


def _closes(line: str, fence: str) -> bool:
    """True if ``line`` closes a fence opened with ``fence`` (same character, at least as long)."""
    m = _ANY_FENCE.match(line)
    return bool(m and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence)
                and not m.group("rest").strip())


def _block_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the block opened at ``lines[start]``, or -1."""
    for i in range(start + 1, len(lines)):
        if _closes(lines[i], fence):
            return i
    return -1


def strip_solutions(markdown: str, *, inside_gate: bool = False,
                    where: str = "markdown") -> tuple[str, int, bool]:
    """Remove solution blocks from one Markdown cell.

    Parameters
    ----------
    markdown : str
        The cell's source.
    inside_gate : bool
        True when a ``{solution-start}`` block of an earlier cell is still open: text is dropped
        until the ``{solution-end}`` block.
    where : str
        Names the cell in error messages.

    Returns
    -------
    text : str
        The source without solutions (unchanged when there were none); the blank lines around a
        removed block collapse to one.
    removed : int
        Number of solution blocks removed (a gated pair counts once, in the cell that ends it).
    inside_gate : bool
        Whether a gated solution is still open at the end of the cell.

    Raises
    ------
    SolutionBlockError
        If a ``{solution}`` block, or a ``{solution-start}``/``{solution-end}`` directive
        fence, is not closed within the cell.
    """
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    lines = markdown.split("\n")
    kept: list[str] = []
    removed = 0
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i])
        name = m.group("name") if m else None
        if name in ("solution", "solution-start", "solution-end"):
            end = _block_end(lines, i, m.group("fence"))
            if end < 0:
                raise SolutionBlockError(
                    f"{where}: the {{{name}}} block opened on line {i + 1} is never closed "
                    f"(expected a line of at least {m.group('fence')!r})")
            if name == "solution":
                removed += 0 if inside_gate else 1
            elif name == "solution-start":
                inside_gate = True
            else:  # solution-end
                if not inside_gate:
                    raise SolutionBlockError(
                        f"{where}: {{solution-end}} on line {i + 1} has no {{solution-start}}")
                inside_gate = False
                removed += 1
            i = end + 1
            if kept and not kept[-1].strip():  # the blank line before a block goes with it
                while i < len(lines) and not lines[i].strip():
                    i += 1
            continue
        if not inside_gate:
            kept.append(lines[i])
        elif m is not None:  # skip a whole nested block inside a gated solution
            end = _block_end(lines, i, m.group("fence"))
            if end >= 0:
                i = end
        i += 1
    if len(kept) == len(lines):
        return markdown, removed, inside_gate
    return "\n".join(kept).strip("\n"), removed, inside_gate


def strip_notebook(nb: nbformat.NotebookNode, *, clear_outputs: bool = False,
                   name: str = "notebook") -> tuple[nbformat.NotebookNode, int]:
    """Return a copy of ``nb`` without solutions, and the number of solutions removed.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A notebook read with :func:`nbformat.read` (version 4).
    clear_outputs : bool
        Also drop every code cell's outputs and execution count.
    name : str
        Names the notebook in error messages.

    Raises
    ------
    SolutionBlockError
        If a solution block is not closed, or a ``{solution-start}`` is never ended.
    """
    if not isinstance(nb, dict) or "cells" not in nb:
        raise TypeError(f"nb must be a notebook (a NotebookNode with cells), got {type(nb).__name__}")
    out = copy.deepcopy(nb)
    cells = []
    removed = 0
    inside_gate = False
    gate_cell = None
    for index, cell in enumerate(out.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            removed += 1
            continue
        if cell.cell_type == "markdown":
            was_inside = inside_gate
            text, n, inside_gate = strip_solutions(cell.source, inside_gate=inside_gate,
                                                   where=f"{name}, cell {index}")
            removed += n
            if inside_gate and not was_inside:
                gate_cell = index
            if not text.strip():
                continue
            cell.source = text
        elif inside_gate:
            continue  # a code cell inside a gated solution
        elif clear_outputs and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    if inside_gate:
        raise SolutionBlockError(
            f"{name}: the {{solution-start}} in cell {gate_cell} has no {{solution-end}}")
    out.cells = cells
    return out, removed


def write_student_copies(notebooks: list[Path], out_dir: Path, *,
                         clear_outputs: bool = False) -> dict[Path, int]:
    """Write a solution-free copy of each notebook into ``out_dir``; returns solutions removed.

    Every notebook is checked before anything is written, so an error leaves ``out_dir``
    untouched.
    """
    stripped = {}
    for path in notebooks:
        if path.suffix != ".ipynb":
            raise ValueError(f"notebooks must be .ipynb files, got {path}")
        nb = nbformat.read(path, as_version=4)
        stripped[path] = strip_notebook(nb, clear_outputs=clear_outputs, name=str(path))
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in notebooks]
    if len(set(names)) != len(names):
        raise ValueError(f"two notebooks share a file name: {sorted(names)}")
    counts = {}
    for path, (nb, removed) in stripped.items():
        nbformat.validate(nb)
        nbformat.write(nb, out_dir / path.name)
        counts[path] = removed
    return counts


def write_site_config(source: Path, target: Path) -> None:
    """Copy the book's ``_config.yml`` with ``sphinx.config.hide_solutions: true``.

    Sphinx paths stay relative to the book (the build's source folder); Jupyter Book resolves
    ``sphinx.local_extensions`` against the configuration file's folder, so those are rewritten
    relative to ``target``.
    """
    import yaml  # installed with jupyter-book

    config = yaml.safe_load(source.read_text())
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    for name, path in (sphinx.get("local_extensions") or {}).items():
        folder = (source.parent / path).resolve()
        sphinx["local_extensions"][name] = os.path.relpath(folder, target.parent.resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# Generated by scripts/make_student_copies.py: the book without "
                      "solutions.\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to copy (default: chapters/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student",
                        help="output folder (default: student/ in the repository)")
    parser.add_argument("--clear-outputs", action="store_true",
                        help="drop every output (students run the notebooks themselves)")
    parser.add_argument("--site-config", type=Path, metavar="PATH",
                        help="also write _config.yml with hide_solutions: true to PATH")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks found")
    try:
        counts = write_student_copies(notebooks, args.out, clear_outputs=args.clear_outputs)
    except (SolutionBlockError, ValueError, OSError) as exc:
        print(f"make_student_copies: {exc}", file=sys.stderr)
        return 1
    for path, removed in counts.items():
        print(f"{args.out / path.name}: {removed} solution(s) removed")
    if args.site_config:
        write_site_config(ROOT / "_config.yml", args.site_config)
        print(f"{args.site_config}: _config.yml with hide_solutions: true")
    return 0


if __name__ == "__main__":
    sys.exit(main())

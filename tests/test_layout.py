"""The library's modules form a one-way dependency order: each imports only modules before it
in ``sista_lib.MODULES`` (function-level imports included; the ``__main__`` shim excepted)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sista_lib

PACKAGE = Path(sista_lib.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Names of the sista_lib modules that ``path`` imports, outside ``if __name__ == ...``."""
    tree = ast.parse(path.read_text())
    main_guards = {id(n) for n in ast.walk(tree) if isinstance(n, ast.If)
                   and "__name__" in ast.unparse(n.test)}
    skip: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in main_guards:
            skip |= {id(child) for child in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sista_lib."):
            found.add(node.module.split(".")[1])
    return {m for m in found if not m.startswith("_")}


def test_every_module_is_listed():
    on_disk = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert on_disk == set(sista_lib.MODULES)


@pytest.mark.parametrize("module", sista_lib.MODULES)
def test_imports_only_modules_before_it(module):
    allowed = set(sista_lib.MODULES[:sista_lib.MODULES.index(module)])
    imported = _imported_modules(PACKAGE / f"{module}.py")
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)} from below it"


def test_the_checker_sees_function_level_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from .train import train\n\nif __name__ == '__main__':\n"
                 "    from .cli import main\n")
    assert _imported_modules(f) == {"train"}

"""No control character in the library's source (a docstring written with "\\b" or "\\f" in a
non-raw string turns into one, and breaks the API page's math)."""

from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "sista_lib"


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.py")), ids=lambda p: p.name)
def test_no_control_characters_in_the_source(path):
    text = path.read_text(encoding="utf-8")
    bad = [(n, line) for n, line in enumerate(text.splitlines(), 1)
           if any(ord(ch) < 32 and ch != "\t" for ch in line)]
    assert not bad, f"{path.name}: control characters on lines {[n for n, _ in bad]}"

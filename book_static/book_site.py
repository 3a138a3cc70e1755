"""Sphinx additions for the book's website, loaded by _config.yml (``sphinx.local_extensions``).

**Author-year citations everywhere.** The text cites "(Tibshirani, 1996)"
(``bibtex_reference_style: author_year``); the reference lists use the same "Tibshirani, 1996"
as their labels (the pybtex formatting style ``book``, ``bibtex_default_style``), sorted by
author and year, so that a reader can match a citation with its entry. Two works with the same
authors and year become "2009a" and "2009b", in the text and in the lists alike.

**Repeated scripts.** Jupyter Book 1.0.4 with Sphinx 7.4 writes every inline script that an extension registers while
the documents are read (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
settings) twice into each page: once with the file name ``None`` and once with ``''``, so
Sphinx's own de-duplication misses them. The second ``const`` declaration is a SyntaxError in
every page's console (tests/site/check_site.py fails on console errors). This extension drops
the repeated scripts just before each page is rendered.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from typing import Any, Iterable

import pybtex.plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


def _plain(latex: str) -> str:
    """A BibTeX name part as plain text ("Cand{\\`e}s" -> "Candès")."""
    return Text.from_latex(latex).render_as("text")


def _authors(entry) -> str:
    """The author part of a citation, as sphinxcontrib-bibtex's author-year style writes it."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
    if not names:
        return _plain(entry.fields.get("title", entry.key))
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Author, 2009", "Author and Other, 2009", "Author et al., 2009"."""

    def format_labels(self, sorted_entries: Iterable) -> Iterable[str]:
        for entry in sorted_entries:
            yield f"{_authors(entry)}, {entry.fields.get('year', 'n.d.')}"


class BookStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entries, labelled and sorted by author and year."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


pybtex.plugin.register_plugin("pybtex.style.formatting", "book", BookStyle)

_SUFFIXED = re.compile(r"^(\d{4})[a-z]$")


def disambiguate_years(app: Sphinx) -> None:
    """Give works with the same citation text a year suffix: 2009a, 2009b (ordered by title).

    Runs after sphinxcontrib-bibtex has read ``references.bib`` (its ``builder-inited``
    handler); the suffix goes into the parsed entries' ``year``, so the text citations and the
    reference lists both show it. Idempotent, as the parsed data may come from the cache.
    """
    entries = app.env.get_domain("cite").bibdata.data.entries
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for entry in entries.values():
        year = entry.fields.get("year", "")
        if m := _SUFFIXED.match(year):
            entry.fields["year"] = year = m.group(1)
        groups[(_authors(entry), year)].append(entry)
    for (_, year), same in groups.items():
        if len(same) > 1 and year:
            same.sort(key=lambda e: _plain(e.fields.get("title", "")).lower())
            for letter, entry in zip(string.ascii_lowercase, same):
                entry.fields["year"] = year + letter


def _script_key(js: Any) -> tuple:
    attributes = getattr(js, "attributes", {}) or {}
    return (str(getattr(js, "filename", js) or ""), tuple(sorted(attributes.items())))


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                          doctree: Any) -> None:
    """Keep the first of identical ``<script>`` entries (same source or body, same attributes)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", disambiguate_years, priority=900)  # after sphinxcontrib-bibtex
    # Last of all html-page-context handlers: myst-nb adds the widget scripts in its own handler.
    app.connect("html-page-context", drop_repeated_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}

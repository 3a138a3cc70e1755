"""Sphinx fixes for the book's website, loaded by _config.yml (``sphinx.local_extensions``).

Jupyter Book 1.0.4 with Sphinx 7.4 writes every inline script that an extension registers while
the documents are read (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
settings) twice into each page: once with the file name ``None`` and once with ``''``, so
Sphinx's own de-duplication misses them. The second ``const`` declaration is a SyntaxError in
every page's console (tests/site/check_site.py fails on console errors). This extension drops
the repeated scripts just before each page is rendered.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


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
    # Last of all html-page-context handlers: myst-nb adds the widget scripts in its own handler.
    app.connect("html-page-context", drop_repeated_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}

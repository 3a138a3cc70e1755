"""The browser check (tests/site/check_site.py) fails on what a reader would notice.

A tiny site is written to a temporary folder: a "chapter" page with one defect of each kind the
check looks for (an equation wider than the column, an image upscaled beyond its natural
resolution, an image without a caption, a link to a missing anchor), and a clean page. The
anchor helpers run without a browser; the page checks need Chromium and are skipped without it.
"""

from __future__ import annotations

import base64
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
check_site = pytest.importorskip("check_site")


def _png(width: int, height: int) -> str:
    """A grey PNG of the given size, as a data URI."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 0 }} article.bd-article {{ width: 600px; padding: 0 20px }}
.math {{ overflow-x: auto }} mjx-container {{ display: block; overflow-x: auto }}
mjx-math {{ display: inline-block; height: 20px }}</style></head>
<body><article class="bd-article">{body}</article></body></html>"""

_FIGURE = ('<figure id="fig-ok"><img src="{src}" style="width: 300px">'
           '<figcaption><p>Figure 1.1 A caption.</p></figcaption></figure>')


def _site(tmp_path: Path) -> Path:
    html = tmp_path / "html"
    (html / "chapters").mkdir(parents=True)
    (html / "index.html").write_text(_PAGE.format(title="index", body="<p>home</p>"))
    good = (_FIGURE.format(src=_png(600, 100)) +
            '<div class="math" id="equation-narrow"><mjx-container display="true">'
            '<mjx-math style="width: 300px"></mjx-math></mjx-container></div>'
            '<p id="here"><a href="#here">in-page</a> <a href="bad.html#equation-wide">other page</a></p>')
    (html / "chapters" / "01_good.html").write_text(_PAGE.format(title="good", body=good))
    bad = ('<div class="math" id="equation-wide"><mjx-container display="true">'
           '<mjx-math style="width: 900px"></mjx-math></mjx-container></div>'
           f'<figure><img src="{_png(100, 50)}" style="width: 400px"><figcaption>upscaled'
           f'</figcaption></figure><p><img src="{_png(200, 50)}" style="width: 100px"></p>'
           '<p><a href="01_good.html#nowhere">missing anchor</a> <a href="#absent">missing here</a>'
           ' <a href="01_good.html#here">fine</a></p>')
    (html / "chapters" / "bad.html").write_text(_PAGE.format(title="bad", body=bad))
    (html / "chapters" / "02_bad.html").write_text(_PAGE.format(title="bad", body=bad))
    return html


def test_missing_anchors_are_found_on_this_and_other_pages(tmp_path):
    html = _site(tmp_path)
    origin = "http://127.0.0.1:8000/"
    page = origin + "chapters/bad.html"
    links = [origin + "chapters/01_good.html#nowhere", page + "#absent",
             origin + "chapters/01_good.html#here", page + "#equation-wide",
             origin + "chapters/01_good.html"]
    missing = check_site.missing_anchors(links, origin, html, page, ["equation-wide"])
    assert missing == ["chapters/01_good.html#nowhere", "chapters/bad.html#absent"]
    assert {"here", "fig-ok", "equation-narrow"} <= check_site.anchors_of(html / "chapters" / "01_good.html")


@pytest.mark.skipif(not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
                    reason="needs Chromium (apt-get install -y chromium)")
def test_browser_check_fails_on_wide_math_upscaled_or_uncaptioned_images_and_bad_anchors(tmp_path, capsys):
    html = _site(tmp_path)
    status = check_site.main(["--html", str(html), "--screenshots", str(tmp_path / "shots"),
                              "--widths", "1280", "--timeout", "20",
                              "chapters/01_good.html", "chapters/02_bad.html"])
    out = capsys.readouterr().out
    assert status == 1
    good, bad = out.split("chapters/02_bad.html", 1)
    assert "ok   chapters/01_good.html" in good
    assert "equation too wide: equation-wide" in bad
    assert "image upscaled beyond its natural resolution" in bad and "(400 px shown, 100 px natural)" in bad
    assert bad.count("image without a numbered, captioned figure") == 1     # the one outside a figure
    assert "link to a missing anchor: chapters/01_good.html#nowhere" in bad
    assert "link to a missing anchor: chapters/02_bad.html#absent" in bad
    assert "01_good.html#here" not in bad
    assert (tmp_path / "shots" / "chapters" / "02_bad.png").is_file()

#!/usr/bin/env python
r"""Open every page of the built website in headless Chromium and check what a reader would see.

Run after ``jupyter-book build .`` (CI: ``.ci/run``)::

    .venv/bin/python tests/site/check_site.py                  # _build/html -> _build/screenshots
    .venv/bin/python tests/site/check_site.py --full-page      # whole-page screenshots

The site is served from 127.0.0.1 by Python's ``http.server`` and driven through the Chrome
DevTools protocol (``websocket-client``). A page fails when it has

- a console error, an uncaught exception, or a resource that failed to load (HTTP >= 400);
- a request to any other host: the site must work offline (MathJax, RequireJS and the widgets
  manager are vendored under ``book_static/site/vendor/``);
- a math element (Sphinx's ``.math``) that MathJax did not typeset, or a MathJax error such as
  an undefined macro;
- raw TeX in the visible text (``$$``, ``\begin{``, ``\(``, ``\[``, ``$...\cmd...$``), outside
  code blocks;
- a broken image, a saved widget that did not render, a Sphinx "problematic" node, or a link to
  a page of the site that does not exist;
- a link to an anchor (``page.html#id`` or ``#id``) that the target page does not define;
- an equation (display or inline math) wider than its container: hidden behind a scroll bar,
  running past the text column, or overlapping its equation number;
- an image displayed at more than its natural resolution (upscaled, hence blurred); and, on a
  chapter page (``--chapter-pattern``), an image in the text that is not inside a figure with a
  caption.

Every page is opened at each width of ``--widths`` (default 1280 and 768 px); a screenshot of
each page at each width goes to the screenshots folder. Exit status 0 when every page passes.
Needs Chromium (Debian: ``apt-get install -y chromium``) and ``websocket-client``.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

try:
    import websocket  # websocket-client
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("check_site.py needs websocket-client: .venv/bin/pip install websocket-client")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-allow-origins=*",
]
VIEWPORT = (1280, 900)
MAX_SCREENSHOT_HEIGHT = 16000
SETTLE_SECONDS = 0.5
SKIP_DIRS = {"_static", "_sources", "_images", "vendor", "_sphinx_design_static", "_panels_static"}

# Runs in the page once it has loaded: waits for MathJax and the widgets, then reports.
PAGE_PROBE = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  const mathEls = () => [...document.querySelectorAll('.math')];
  const untypeset = () => mathEls().filter(e => !e.querySelector('mjx-container'));
  const widgetScripts = () =>
    [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const unrenderedWidgets = () => widgetScripts().filter(s => {
    const host = s.parentElement;
    return !(host && host.querySelector('.jupyter-widgets, .widget-box, .lm-Widget'));
  });
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) { /* reported below as untypeset math */ }
  }
  while (Date.now() < deadline && (untypeset().length || unrenderedWidgets().length)) {
    await sleep(100);
  }
  // Images: load lazy ones too, then wait for every image to settle.
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r);
                       setTimeout(r, Math.max(0, deadline - Date.now())); })));
  const brokenImages = [];
  for (const i of imgs) {
    let ok = i.complete && i.naturalWidth > 0;
    if (!ok && i.complete) ok = await i.decode().then(() => true, () => false);  // sizeless SVG
    if (!ok) brokenImages.push(i.getAttribute('src'));
  }
  // Visible text outside code, scripts and typeset math: raw TeX must not appear there.
  const skip = 'pre, code, script, style, textarea, kbd, samp, mjx-container, .highlight, ' +
               'mjx-assistive-mml, .MathJax, [aria-hidden="true"] .copybtn';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texPatterns = [/\$\$/, /\\begin\{/, /\\end\{/, /\\\(/, /\\\)/, /\\\[/, /\\\]/,
                       /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/];
  const rawTex = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    const t = n.textContent;
    if (texPatterns.some(p => p.test(t))) rawTex.push(t.trim().slice(0, 80));
  }
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href)
    .filter(h => h.startsWith(location.origin));
  // Equations: every typeset formula must fit the column it sits in.
  const article = document.querySelector('article.bd-article') || document.querySelector('article') ||
                  document.querySelector('main') || document.body;
  const column = (() => {  // the content box of the text column
    const b = article.getBoundingClientRect(), st = getComputedStyle(article);
    const left = b.left + parseFloat(st.paddingLeft), right = b.right - parseFloat(st.paddingRight);
    return {left, right, width: right - left};
  })();
  const describe = c => c.getAttribute('display') === 'true'
    ? ((c.closest('.math') && c.closest('.math').id) ||
       `display math "${c.textContent.trim().slice(0, 50)}"`)
    : `inline math in "${(c.parentElement.textContent || '').trim().slice(0, 50)}"`;
  const wideMath = [];
  for (const c of document.querySelectorAll('mjx-container')) {
    const box = c.getBoundingClientRect();
    if (!box.width || c.closest('.highlight, pre, .sidebar, nav, .bd-sidebar-primary, .bd-sidebar-secondary')) continue;
    const inner = c.querySelector('mjx-math') || c;
    const r = inner.getBoundingClientRect();
    const display = c.getAttribute('display') === 'true';
    let why = null;
    if (c.scrollWidth > c.clientWidth + 1 && display) why = 'scrolls horizontally';
    else if (r.right > column.right + 1 || r.left < column.left - 1) why = 'runs past the text column';
    else if (display) {
      const host = c.closest('.math');
      const eqno = host && host.querySelector('.eqno');
      if (eqno) {
        const e = eqno.getBoundingClientRect();
        if (e.width && e.left < r.right - 1 && e.right > r.left && e.top < r.bottom && e.bottom > r.top)
          why = 'overlaps its equation number';
      }
      if (!why && host && (host.scrollWidth > host.clientWidth + 1)) why = 'scrolls horizontally';
    }
    if (why) wideMath.push(`${describe(c)} (${why}: ${Math.round(r.width)} px in a ${Math.round(column.width)} px column)`);
  }
  // Images: never upscaled; in a chapter, inside a figure with a caption.
  const upscaled = [], uncaptioned = [];
  for (const i of imgs) {
    const box = i.getBoundingClientRect();
    if (!box.width || !i.naturalWidth) continue;
    const src = i.getAttribute('src') || '';
    if (/\.svg($|\?)|^data:image\/svg/.test(src)) continue;
    if (box.width * window.devicePixelRatio > i.naturalWidth + 1)
      upscaled.push(`${src.slice(-60)} (${Math.round(box.width)} px shown, ${i.naturalWidth} px natural)`);
    if (%(chapter)s && article.contains(i)) {
      const fig = i.closest('figure');
      const cap = fig && fig.querySelector('figcaption');
      if (!cap || !cap.textContent.trim()) uncaptioned.push(src.slice(-60));
    }
  }
  const ids = new Set([...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name')));
  return {
    title: document.title,
    nMath: mathEls().length,
    untypeset: untypeset().map(e => e.textContent.trim().slice(0, 80)),
    mathErrors: [...document.querySelectorAll('mjx-merror')]
      .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)),
    rawTex: rawTex.slice(0, 10),
    nImages: imgs.length,
    brokenImages: brokenImages,
    nWidgets: widgetScripts().length,
    unrenderedWidgets: unrenderedWidgets().length,
    problematic: [...document.querySelectorAll('.problematic, .system-message')]
      .map(e => e.textContent.trim().slice(0, 80)),
    links: [...new Set(links)],
    ids: [...ids],
    wideMath: wideMath.slice(0, 20),
    upscaled: upscaled.slice(0, 10),
    uncaptioned: uncaptioned.slice(0, 10),
    height: Math.ceil(document.documentElement.scrollHeight),
  };
})()
"""


class CDP:
    """A minimal Chrome DevTools protocol client over one browser websocket (flat sessions)."""

    def __init__(self, ws_url: str, timeout: float):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True,
                                              enable_multithread=True)
        self.timeout = timeout
        self.next_id = 0
        self.events: dict[str | None, list[dict]] = {}

    def _pump(self) -> dict:
        msg = json.loads(self.ws.recv())
        if "method" in msg:
            self.events.setdefault(msg.get("sessionId"), []).append(msg)
        return msg

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        self.ws.send(json.dumps(request))
        end = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < end:
            msg = self._pump()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
        raise TimeoutError(f"no answer to {method} within {timeout or self.timeout} s")

    def wait_event(self, session: str, method: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(e["method"] == method for e in self.events.get(session, [])):
                return True
            self.ws.settimeout(max(0.05, end - time.monotonic()))
            try:
                self._pump()
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self.ws.settimeout(self.timeout)
        return any(e["method"] == method for e in self.events.get(session, []))

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds`` (late requests, console messages)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try:
                self._pump()
            except websocket.WebSocketTimeoutException:
                break
        self.ws.settimeout(self.timeout)


def find_chromium(explicit: str | None) -> str:
    for name in [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome",
                                             "google-chrome-stable", "chrome"]:
        path = shutil.which(name) if name else None
        if path:
            return path
    sys.exit("check_site.py: no Chromium found (Debian: apt-get install -y chromium); "
             "or pass --chromium PATH")


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # noqa: D401 - silence the access log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def start_browser(chromium: str, profile: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
           f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    port_file = profile / "DevToolsActivePort"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_file.exists() and len(lines := port_file.read_text().split()) >= 2:
            return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            sys.exit(f"check_site.py: Chromium exited with {proc.returncode}:\n{err}")
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"check_site.py: Chromium gave no DevTools port within {timeout} s")


def pages_of(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html")
                  if not SKIP_DIRS.intersection(p.relative_to(html).parts[:-1]))


def network_problems(events: list[dict], origin: str) -> tuple[list[str], list[str]]:
    """Console errors and failed or external requests, from one page's DevTools events."""
    console, network = [], []
    urls = {}
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            console.append(f"console.{p['type']}: {text[:200]}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            console.append(f"uncaught: {desc[:200]}")
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            entry = p["entry"]
            if entry.get("url", "").endswith("/favicon.ico"):
                continue
            console.append(f"log: {entry.get('text', '')[:200]} {entry.get('url', '')}")
        elif m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            urls[p["requestId"]] = url
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(origin):
                network.append(f"external request (the site must work offline): {url}")
        elif m == "Network.responseReceived" and p["response"].get("status", 200) >= 400:
            url = p["response"]["url"]
            if not url.endswith("/favicon.ico"):
                network.append(f"HTTP {p['response']['status']}: {url}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            url = urls.get(p["requestId"], "?")
            if not url.endswith("/favicon.ico"):
                network.append(f"failed to load ({p.get('errorText')}): {url}")
    return console, sorted(set(network))


def redirect_target(page: Path) -> str | None:
    """The target of a ``<meta http-equiv="refresh">`` page (Jupyter Book's index.html)."""
    m = re.search(r'<meta[^>]+http-equiv=["\']refresh["\'][^>]*content=["\'][^"\']*url=([^"\']+)',
                  page.read_text(errors="replace"), flags=re.IGNORECASE)
    return m.group(1).strip() if m else None


def missing_links(links: list[str], origin: str, html: Path) -> list[str]:
    missing = []
    for link in links:
        path = unquote(urlsplit(link).path)
        target = html / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        if not target.exists():
            missing.append(link.removeprefix(origin))
    return missing


_ANCHOR_CACHE: dict[Path, set[str]] = {}


def anchors_of(page: Path) -> set[str]:
    """The ids and ``<a name>`` anchors a built page defines (as served, before any script)."""
    if page not in _ANCHOR_CACHE:
        text = page.read_text(errors="replace")
        _ANCHOR_CACHE[page] = set(re.findall(r'\sid="([^"]+)"', text)) | set(
            re.findall(r'<a\s[^>]*\bname="([^"]+)"', text))
    return _ANCHOR_CACHE[page]


def missing_anchors(links: list[str], origin: str, html: Path, page_url: str,
                    page_ids: list[str]) -> list[str]:
    """Links whose ``#fragment`` the target page does not define."""
    missing = []
    here = urlsplit(page_url).path
    for link in links:
        parts = urlsplit(link)
        fragment = unquote(parts.fragment)
        if not fragment:
            continue
        path = unquote(parts.path)
        if path == here:
            ok = fragment in page_ids
        else:
            target = html / path.lstrip("/")
            if path.endswith("/"):
                target = target / "index.html"
            if not target.exists() or target.suffix != ".html":
                continue  # reported as a missing page, or not a page
            ok = fragment in anchors_of(target)
        if not ok:
            missing.append(link.removeprefix(origin))
    return missing


def check_page(cdp: CDP, url: str, html: Path, origin: str, shot: Path, timeout: float,
               full_page: bool, width: int = VIEWPORT[0], chapter: bool = False
               ) -> tuple[list[str], dict]:
    target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable", session=session)
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": VIEWPORT[1], "deviceScaleFactor": 1,
                  "mobile": False}, session=session)
        cdp.call("Page.navigate", {"url": url}, session=session)
        problems = []
        if not cdp.wait_event(session, "Page.loadEventFired", timeout):
            problems.append(f"no load event within {timeout} s")
        probe = cdp.call("Runtime.evaluate",
                         {"expression": PAGE_PROBE % {"timeout_ms": int(timeout * 1000),
                                                       "chapter": "true" if chapter else "false"},
                          "awaitPromise": True, "returnByValue": True},
                         session=session, timeout=timeout + 10)
        if "exceptionDetails" in probe:
            problems.append(f"probe failed: {probe['exceptionDetails'].get('text')}")
            report = {}
        else:
            report = probe["result"]["value"]
            problems += [f"math not typeset: {t!r}" for t in report["untypeset"][:5]]
            problems += [f"MathJax error: {t}" for t in report["mathErrors"][:5]]
            problems += [f"raw TeX in the text: {t!r}" for t in report["rawTex"]]
            problems += [f"broken image: {s}" for s in report["brokenImages"]]
            if report["unrenderedWidgets"]:
                problems.append(f"{report['unrenderedWidgets']} of {report['nWidgets']} "
                                "saved widgets did not render")
            problems += [f"Sphinx problem node: {t!r}" for t in report["problematic"][:5]]
            problems += [f"link to a missing page: {m}"
                         for m in missing_links(report["links"], origin, html)]
            problems += [f"link to a missing anchor: {m}"
                         for m in missing_anchors(report["links"], origin, html, url, report["ids"])]
            problems += [f"equation too wide: {m}" for m in report["wideMath"]]
            problems += [f"image upscaled beyond its natural resolution: {m}"
                         for m in report["upscaled"]]
            problems += [f"image without a numbered, captioned figure: {m}"
                         for m in report["uncaptioned"]]
        if full_page and report:
            # Grow the viewport to the page, let the layout settle, then capture it all (capturing
            # beyond the viewport instead re-lays the page out during the capture).
            cdp.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": min(report["height"], MAX_SCREENSHOT_HEIGHT),
                      "deviceScaleFactor": 1, "mobile": False}, session=session)
        cdp.drain(SETTLE_SECONDS)  # the theme's CSS transitions, late requests and messages
        console, network = network_problems(cdp.events.get(session, []), origin)
        problems = console + network + problems
        data = cdp.call("Page.captureScreenshot", {"format": "png"}, session=session,
                        timeout=timeout)["data"]
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.write_bytes(base64.b64decode(data))
        return problems, report
    finally:
        cdp.call("Target.closeTarget", {"targetId": target})
        cdp.events.pop(session, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"),
                        help="the built site (default: _build/html)")
    parser.add_argument("--screenshots", type=Path, default=Path("_build/screenshots"),
                        help="where to save one PNG per page (default: _build/screenshots)")
    parser.add_argument("--chromium", help="Chromium executable (default: found on PATH)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page")
    parser.add_argument("--full-page", action="store_true", help="screenshot whole pages")
    parser.add_argument("--widths", default="1280,768",
                        help="comma-separated viewport widths to check each page at "
                             "(default: 1280,768)")
    parser.add_argument("--chapter-pattern", default=r"^chapters/\d\d_",
                        help="regular expression on the page path (under --html) of the pages "
                             "whose images must be captioned figures (default: %(default)s)")
    parser.add_argument("pages", nargs="*", help="only these pages (paths under --html)")
    args = parser.parse_args(argv)

    html = args.html.resolve()
    if not (html / "index.html").exists():
        sys.exit(f"check_site.py: {html}/index.html not found: build the book first")
    pages = [html / p for p in args.pages] if args.pages else pages_of(html)
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    chapter_re = re.compile(args.chapter_pattern)
    server, origin = serve(html)
    profile = Path(tempfile.mkdtemp(prefix="check-site-chromium-"))
    proc, ws_url = start_browser(find_chromium(args.chromium), profile, args.timeout)
    failed = 0
    try:
        cdp = CDP(ws_url, args.timeout)
        for page in pages:
            rel = page.relative_to(html).as_posix()
            if (target := redirect_target(page)) is not None:
                # A redirect page: the browser would leave it at once; check where it points.
                ok = (page.parent / unquote(urlsplit(target).path)).exists()
                failed += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {rel} (redirect to {target}"
                      f"{'' if ok else ': missing'})")
                continue
            problems, stats = [], []
            for width in widths:
                t0 = time.monotonic()
                suffix = "" if width == widths[0] else f"@{width}"
                shot = args.screenshots / (rel.removesuffix(".html") + suffix + ".png")
                try:
                    found, r = check_page(cdp, urljoin(origin, rel), html, origin, shot,
                                          args.timeout, args.full_page, width,
                                          bool(chapter_re.search(rel)))
                except (RuntimeError, TimeoutError, websocket.WebSocketException) as exc:
                    found, r = [f"{type(exc).__name__}: {exc}"], {}
                problems += [f"[{width} px] {p}" for p in found]
                stats.append(f"{width} px: math {r.get('nMath', '?')}, images "
                             f"{r.get('nImages', '?')}, widgets {r.get('nWidgets', '?')}, "
                             f"{time.monotonic() - t0:.1f} s")
            if problems:
                failed += 1
                print(f"FAIL {rel} ({'; '.join(stats)})")
                for p in problems:
                    print(f"     - {p}")
            else:
                print(f"ok   {rel} ({'; '.join(stats)})")
        try:
            cdp.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, websocket.WebSocketException):
            pass
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    print(f"check_site: {len(pages) - failed} of {len(pages)} pages passed; "
          f"screenshots in {args.screenshots}")
    return 1 if failed or not pages else 0


if __name__ == "__main__":
    sys.exit(main())

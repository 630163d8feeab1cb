"""Headless Chromium (Debian's `chromium`, installed by `make lab-deps`) for the report test:
open a file:// URL as a person double-clicking the file would, and read the DOM it rendered.

`--dump-dom` prints the DOM once scripts have run; `--virtual-time-budget` lets the page's
timers run to completion without real waiting. Every name lookup fails (host-resolver rules),
so the page renders from the file alone — as a CI artifact opened offline must.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import tenacity

from lab.wait import polling

RENDER_TIMEOUT_S = 90


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "the report test needs Debian's chromium: `make lab-deps`"
    return found


def dump_dom(path: Path, fragment: str = "") -> str:
    """The rendered DOM of `path` (with `#fragment`), opened from disk, in a fresh profile."""
    url = path.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    with tempfile.TemporaryDirectory(prefix="ossm-chromium-") as profile:
        proc = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", "--dump-dom", url],
            capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}"
    return proc.stdout


def render_until(path: Path, rendered, fragment: str = "") -> "Dom":
    """The DOM once `rendered(dom)` is true: at most three renders, for a page whose scripts
    finished after Chromium's budget on a loaded machine; the last DOM is returned either way,
    so the caller's assertions say what was missing."""
    retrying = polling(attempts=3, every=1, retry=tenacity.retry_if_result(lambda dom: not rendered(dom)),
                       last_result=True)
    return retrying(lambda: Dom(dump_dom(path, fragment)))


class Dom(HTMLParser):
    """Text of the elements carrying a `data-testid` (Allure 3's awesome report marks its parts
    so), and the `id` of each such element."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.found: list[tuple[str, dict, list[str]]] = []   # (testid, attributes, text parts)
        self._open: list[tuple[str, int | None]] = []          # (tag, index into found or None)
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        index = None
        if "data-testid" in attrs:
            index = len(self.found)
            self.found.append((attrs["data-testid"], attrs, []))
        if tag not in self.VOID:
            self._open.append((tag, index))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, index in self._open:
            if index is not None:
                self.found[index][2].append(data)

    def texts(self, testid: str) -> list[str]:
        return [" ".join(" ".join(parts).split()) for t, _, parts in self.found if t == testid]

    def ids(self, testid: str) -> list[str]:
        return [attrs.get("id", "") for t, attrs, _ in self.found if t == testid]

    def leaves(self, status: str) -> list[tuple[str, str]]:
        """(id, title) of the report tree's test leaves with that status icon."""
        out = []
        for i, (testid, attrs, _) in enumerate(self.found):
            if testid == "tree-leaf" and i + 1 < len(self.found) and self.found[i + 1][0] == f"tree-leaf-status-{status}":
                title = next((" ".join(" ".join(p).split()) for t, _, p in self.found[i + 1:] if t == "tree-leaf-title"), "")
                out.append((attrs.get("id", ""), title))
        return out

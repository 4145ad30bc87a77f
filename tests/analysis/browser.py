"""Headless Chromium driven over the DevTools protocol: open a page, read the text it renders.

TensorBoard is a single-page app whose dashboards live in shadow DOMs, which `--dump-dom`
cannot see; the page's own JavaScript can, so `rendered_text` walks every shadow root and
same-origin frame and returns the visible text. Needs Debian's `chromium` and the
`websockets` package; no driver binary whose version must match the browser.
"""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

_DEEP_TEXT = r"""
(() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { const t = node.textContent.trim(); if (t) out.push(t); return; }
    if (['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT'].includes(node.tagName)) return;
    if (node.shadowRoot) walk(node.shadowRoot);
    if (node.tagName === 'IFRAME') { try { walk(node.contentDocument); } catch (e) {} }
    for (const child of node.childNodes) walk(child);
  };
  walk(document);
  return out.join('\n');
})()
"""


def find_chromium() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


def wait_for_text(url: str, done: Callable[[str], bool], timeout: float = 90.0) -> str:
    """Opens `url` in headless Chromium and returns its rendered text once `done(text)` holds (or at timeout)."""
    return _drive(url, done, (), timeout)[0]


def evaluate(url: str, expressions: list[str], timeout: float = 60.0) -> list:
    """Opens `url`, waits until it has rendered text, then evaluates each JavaScript expression in
    turn (a click, a read of the table) and returns their values; a promise's value is awaited."""
    return _drive(url, bool, tuple(expressions), timeout)[1]


def _drive(url: str, done: Callable[[str], bool], expressions: tuple[str, ...], timeout: float) -> tuple[str, list]:
    from websockets.sync.client import connect

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("chromium is not installed")
    profile = Path(tempfile.mkdtemp(prefix="tunelab-chromium-"))
    process = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,2400", f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port = _devtools_port(profile, process)
        page = _page_target(port)
        text = ""
        with connect(page["webSocketDebuggerUrl"], max_size=2 ** 26, open_timeout=20) as socket:
            ids = itertools.count(1)

            def call(method: str, **params: object) -> dict:
                message_id = next(ids)
                socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
                while True:
                    reply = json.loads(socket.recv(timeout=30))
                    if reply.get("id") == message_id:
                        return reply

            call("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                reply = call("Runtime.evaluate", expression=_DEEP_TEXT, returnByValue=True)
                text = reply.get("result", {}).get("result", {}).get("value") or ""
                if done(text):
                    break
                time.sleep(1.0)
            values = [call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
                      .get("result", {}).get("result", {}).get("value") for expression in expressions]
        return text, values
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float = 30.0) -> int:
    """Chromium writes the port it chose to DevToolsActivePort in its profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.2)
    raise RuntimeError("chromium did not open its DevTools port")


def _page_target(port: int) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            pages = [t for t in json.loads(response.read()) if t.get("type") == "page"]
        if pages:
            return pages[0]
        time.sleep(0.2)
    raise RuntimeError("chromium has no page to drive")

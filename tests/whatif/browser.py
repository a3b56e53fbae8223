"""Debian's chromium, headless, driven over the DevTools protocol (aiohttp's websocket client).

Opens a page, evaluates JavaScript in it and takes a screenshot: what a person's browser shows,
not what the HTML text says.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive(timeout=60)).data)
            if msg.get("id") == n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]  # type: ignore[no-any-return]

    async def evaluate(self, js: str) -> Any:
        r = await self.call("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")


def open_page(url: str, js: str, screenshot: Path, width: int = 1200, height: int = 900) -> Any:
    """Load `url` in a fresh headless chromium, return the value of `js`, save a full-page PNG."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                 f"--window-size={width},{height}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ws_url = _devtools_url(proc)
            return asyncio.run(_drive(ws_url, url, js, screenshot))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _devtools_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} before DevTools listened")
        m = re.search(r"DevTools listening on (ws://\S+)", line)
        if m:
            return m.group(1)
    raise RuntimeError("chromium: no DevTools endpoint within 60 s")


async def _drive(browser_ws: str, url: str, js: str, screenshot: Path) -> Any:
    async with aiohttp.ClientSession() as http, http.ws_connect(browser_ws, max_msg_size=0) as bws:
        browser = Page(bws)
        target = await browser.call("Target.createTarget", url="about:blank")
        port = re.search(r":(\d+)/", browser_ws)
        assert port is not None
        page_ws = f"ws://127.0.0.1:{port.group(1)}/devtools/page/{target['targetId']}"
        async with http.ws_connect(page_ws, max_msg_size=0) as pws:
            page = Page(pws)
            await page.call("Page.enable")
            await page.call("Page.navigate", url=url)
            for _ in range(200):  # the load event, by polling readyState (no event plumbing needed)
                if await page.evaluate("document.readyState") == "complete":
                    break
                await asyncio.sleep(0.1)
            value = await page.evaluate(js)
            size = (await page.call("Page.getLayoutMetrics"))["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            return value

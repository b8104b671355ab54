"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no driver to install."""
from __future__ import annotations

import base64
import json
import os
import select
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

CHROMIUM = Path("/usr/bin/chromium")


class BrowserError(Exception):
    pass


class Chromium:
    """One headless browser with one page; records every HTTP response the page receives."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 900):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # DevTools reads commands from fd 3 and writes answers to fd 4, each message ending in NUL.
        command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                   f"--window-size={width},{height}",
                   # every host but 127.0.0.1 unreachable, like CI: the page must need nothing else
                   "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"]
        self.log = profile.parent / "chromium.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", f'exec {shlex.join(command)} 3<&{to_browser_r} 4>&{from_browser_w}'],
                pass_fds=(to_browser_r, from_browser_w), stdout=log, stderr=subprocess.STDOUT)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(f"{domain}.enable")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the protocol ----------------------------------------------------------------------------------

    def send(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def call(self, method: str, **params: Any) -> dict:
        """A command to the page."""
        return self.send(method, session=self.session, **params)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer in time; its log: {self.log}")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited; its log: {self.log}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # --- the page --------------------------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        """Go to a URL and wait for its load event (scripts may still be running)."""
        seen = len(self.events)
        self.call("Page.navigate", url=url)
        self.until(lambda: self.evaluate("0") == 0 and any(
            e["method"] == "Page.loadEventFired" for e in self.events[seen:]), what=f"{url} to load")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Poll until a JavaScript expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {what or expression}")
            time.sleep(0.1)

    def until(self, condition: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
        """Poll a Python condition (over what the page did) until it holds; returns its value."""
        deadline = time.monotonic() + timeout
        while not (value := condition()):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {what}")
            time.sleep(0.1)
        return value

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requests(self, url_prefix: str = "") -> list[dict]:
        """Requests the page sent so far (requestId, url, method, headers, postData), in order."""
        self.evaluate("0")  # drain events that arrived before now
        return [e["params"]["request"] | {"requestId": e["params"]["requestId"]} for e in self.events
                if e["method"] == "Network.requestWillBeSent" and e["params"]["request"]["url"].startswith(url_prefix)]

    def finished(self, request_id: str) -> bool:
        """Whether the response to a request was read whole (or failed)."""
        self.evaluate("0")
        return any(e["method"] in ("Network.loadingFinished", "Network.loadingFailed")
                   and e["params"]["requestId"] == request_id for e in self.events)

    def responses(self, url_prefix: str = "") -> list[dict]:
        """Responses the page received so far (requestId, url, status, …), in order."""
        self.evaluate("0")
        return [e["params"]["response"] | {"requestId": e["params"]["requestId"]} for e in self.events
                if e["method"] == "Network.responseReceived" and e["params"]["response"]["url"].startswith(url_prefix)]

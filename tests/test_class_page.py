"""OUT/class.html in a real browser: Debian's headless chromium loads it, draws every figure and reports no error.

The browser is driven over the DevTools protocol on ``--remote-debugging-pipe`` (JSON
messages ending in a NUL byte, on file descriptors 3 and 4): no Python package, no
chromedriver, no browser download, only Debian's ``chromium``, which ``make
system-packages`` installs. The protocol gives what the page did rather than what a
dump shows: the console's errors, uncaught exceptions and failed loads as they happen,
and each image's ``naturalWidth`` once the page has loaded. Selenium with Debian's
``chromium-driver`` would give the same at the cost of a driver and a pinned package.
``--no-sandbox`` because CI runs as root, where chromium's own sandbox cannot start;
the page is our own file.

The checker is tested too: copies of the page with a corrupted figure, a missing one,
a ``console.error``, an uncaught exception and a failed ``console.assert`` each fail it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import conftest

CONVGRADE = str(Path(sys.executable).parent / "convgrade")
FIGURES = 3  # the scores per assignment, the checks passed least, the mistakes named
IMAGES = """[...document.images].map(image => ({
    alt: image.alt, complete: image.complete, naturalWidth: image.naturalWidth, shownWidth: image.getBoundingClientRect().width}))"""


class Chromium:
    """A headless chromium, driven over the DevTools protocol on a pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        commands, self._commands = os.pipe()  # we write, chromium reads on fd 3
        self._events, events = os.pipe()  # chromium writes on fd 4, we read
        commands, events = _above_4(commands), _above_4(events)  # so that 3<&... 4>&... clobber neither (bash: dash takes one digit)
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-extensions", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]  # fmt: skip
        moved = f'exec "$0" "$@" 3<&{commands} {commands}<&- 4>&{events} {events}>&-'
        self.process = subprocess.Popen(["bash", "-c", moved, executable, *flags], pass_fds=(commands, events),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        os.close(commands), os.close(events)
        self._buffer, self._pending, self._next = b"", [], 0

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._events], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._events, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium closed its pipe (exit status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, timeout: float = 20, **params: object) -> dict:
        """Call ``method`` (in ``session``, else on the browser); its result. Events that arrive meanwhile are kept for ``visit``."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params} | ({"sessionId": session} if session else {})
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while (answer := self._message(deadline)).get("id") != self._next:
            self._pending.append(answer)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def wait_for(self, method: str, session: str, timeout: float = 20) -> None:
        """Read until the event ``method`` has come from ``session``."""
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == method and event.get("sessionId") == session for event in self._pending):
            self._pending.append(self._message(deadline))

    def visit(self, url: str) -> dict:
        """Load ``url`` in a new tab: the navigation's error, the document's title, its images and the errors it reported."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        navigation = self.send("Page.navigate", session, url=url)
        if not navigation.get("errorText"):
            self.wait_for("Page.loadEventFired", session)
        page = self.send("Runtime.evaluate", session, expression=f"({{title: document.title, images: {IMAGES}}})", returnByValue=True)
        self.send("Target.closeTarget", targetId=target)
        errors = [_error(event) for event in self._pending if event.get("sessionId") == session]
        self._pending = [event for event in self._pending if event.get("sessionId") != session]
        return {"error": navigation.get("errorText"), **page["result"].get("value", {}), "errors": [error for error in errors if error]}

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        os.close(self._commands), os.close(self._events)


def _above_4(fd: int) -> int:
    """``fd`` moved to a number above 4."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return moved


def _error(event: dict) -> str:
    """What an event says went wrong, or "" when it is not an error."""
    params = event.get("params", {})
    if event.get("method") == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        return f"console.{params['type']}: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
    if event.get("method") == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return "uncaught: " + details.get("exception", {}).get("description", details.get("text", ""))
    if event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
        return f"log: {params['entry']['text']} {params['entry'].get('url', '')}".strip()
    return ""


def assert_renders(page: dict, figures: int = FIGURES) -> None:
    """The page loaded, each of its figures decoded and is shown, and it reported no error."""
    assert page["error"] is None and page["title"] == "The class at a glance", f"the page did not load: {page}"
    assert not page["errors"], f"the browser reported errors: {page['errors']}"
    broken = [image for image in page["images"] if not (image["complete"] and image["naturalWidth"] > 0 and image["shownWidth"] > 0)]
    assert not broken, f"figures not drawn: {broken}"
    assert len(page["images"]) == figures, f"{len(page['images'])} figures, not {figures}: {[image['alt'] for image in page['images']]}"


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """Debian's chromium, headless; missing, a skip, or a failure under CI (CI=true), where `make test` installs it."""
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Debian's chromium is not installed: `make system-packages` installs it (as root)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(reason)
        pytest.skip(reason)
    browser = Chromium(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def class_html(tmp_path_factory) -> Path:
    """OUT/class.html of the tiny course, graded once: ann hands in the reference, bob returns his input, cy flips the sign (a mistake named)."""
    root = tmp_path_factory.mktemp("class")
    course = conftest.tiny_course.__wrapped__(root)  # conftest's course, built here: its fixture is per test, this grading once per module
    for student, text in (("ann", conftest.TINY_REFERENCE), ("bob", "def double(x):\n    return x\n"), ("cy", "def double(x):\n    return -2 * x\n")):
        (root / "submitted" / student / "01_tiny").mkdir(parents=True)
        (root / "submitted" / student / "01_tiny" / "tiny.py").write_text(text)
    command = [CONVGRADE, "grade", str(root / "submitted"), "--out", str(root / "out"), "--processes", "1", "--root", str(course)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "out" / "class.html"


def test_the_class_page_loads_with_its_figures_and_no_error(chromium, class_html):
    page = chromium.visit(class_html.as_uri())
    assert_renders(page)
    assert [image["alt"] for image in page["images"]] == ["scores per assignment", "01_tiny: the checks passed least", "01_tiny: mistakes named"]


def _broken(class_html: Path, tmp_path: Path, old: str, new: str) -> str:
    """A copy of class.html with its first ``old`` replaced by ``new``; its URL."""
    text = class_html.read_text()
    assert old in text
    copy = tmp_path / "class.html"
    copy.write_text(text.replace(old, new, 1))
    return copy.as_uri()


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('base64,iVBORw0KGgo', 'base64,AAAAAAAAAAA', "figures not drawn"),  # a PNG whose header is gone
        ('<figure id="scores"><img alt="scores per assignment" src="data', '<figure id="scores"><img alt="scores per assignment" src="missing.png" data-was="data', "ERR_FILE_NOT_FOUND"),
        ("</body>", '<script>console.error("x")</script></body>', "console.error: x"),
        ("</body>", '<script>throw new Error("boom")</script></body>', "uncaught: Error: boom"),
        ("</body>", '<script>console.assert(false, "y")</script></body>', "console.assert: y"),
    ],
    ids=["corrupted figure", "missing figure", "console error", "uncaught exception", "failed assertion"],
)
def test_the_checker_fails_a_page_that_breaks(chromium, class_html, tmp_path, old, new, complaint):
    page = chromium.visit(_broken(class_html, tmp_path, old, new))
    with pytest.raises(AssertionError, match=complaint):
        assert_renders(page)

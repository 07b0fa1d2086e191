"""A student's self-check, as a student runs it: concise output, `check NAME` anywhere, nothing heavy imported.

Students run `pytest` in an assignment folder or `convgrade check`; each run here is
a process of its own on a copy of a released assignment, with a module written as a
student would write it. (Speed is shown by `bench/self_check_speed.py`, never timed here.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.checks.tables import report_text
from autograder.grading.results import render_feedback
from autograder.scores import CheckResult, Scoreboard
from tests.test_class_page import chromium  # noqa: F401 - the headless browser, a fixture (skipped where chromium is missing)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REFERENCE = (ROOT / "solutions" / "03_padding" / "padding.py").read_text()
# A student who mirrors with the edge pixel repeated ("symmetric") in reflect mode: pad2d fails 5 checks, conv2d_same 3.
SYMMETRIC = REFERENCE.replace("i = i.abs()", "i = torch.where(i < 0, -i - 1, i)").replace("2 * (size - 1) - i", "2 * size - 1 - i")
BROKEN = REFERENCE.replace("def pad2d(\n", "def pad2d(:\n", 1)  # a syntax error on the line that starts pad2d


def run(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`pytest` as a student runs it inside the assignment folder."""
    return run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, cwd=folder)


def convgrade(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(str(BIN / "convgrade"), *args, cwd=cwd)


def copy_of_padding(tmp_path: Path, module: str | None = None) -> Path:
    """A standalone copy of the released 03_padding (no course around it), its module replaced by ``module``."""
    folder = tmp_path / "03_padding"
    shutil.copytree(ROOT / "assignments" / "03_padding", folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    if module is not None:
        (folder / "padding.py").write_text(module)
    return folder


def summary(output: str) -> str:
    """What follows pytest's `convgrade score` line."""
    return output.split(" convgrade score ", 1)[1]


def function_rows(text: str) -> list[str]:
    """The lines of the per-function summary that name a function of 03_padding."""
    return [line for line in text.splitlines() if re.match(r"  (pad2d|same_padding|conv2d_same) +\d+/\d+ +[\d.]+/[\d.]+  ", line)]


@pytest.fixture(scope="module")
def symmetric(tmp_path_factory) -> Path:
    return copy_of_padding(tmp_path_factory.mktemp("symmetric"), SYMMETRIC)


def test_pytest_says_one_line_per_function_then_each_functions_first_failure_only(symmetric):
    done = pytest_in(symmetric, "-q")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "FAILURES" not in done.stdout and "FAILED " not in done.stdout, "convgrade's summary replaces pytest's report per failure"
    said = summary(done.stdout)
    rows = function_rows(said)
    assert [row.split()[0] for row in rows] == ["pad2d", "same_padding", "conv2d_same"], said
    assert "9/14" in rows[0] and "FAIL  wrong values" in rows[0] and rows[1].endswith("pass"), said
    flat = " ".join(said.split())  # the summary's lines unwrapped
    assert "FAIL wrong values: 4 of 8 elements differ, the largest by 1 at [0, 0]; likely symmetric padding instead of reflect" in flat
    assert "FAIL this uses your `pad2d`, which fails 5 checks: fix it first;" in flat, "conv2d_same's failures follow from pad2d's"
    headers = [line for line in said.splitlines() if line.startswith("── ")]
    assert [header.split(":")[0] for header in headers] == ["── pad2d"], "pad2d's first failure in full; conv2d_same's only follow"
    assert said.count("  call: ") == 1 and said.count("likely mistake: symmetric padding instead of reflect") == 1
    assert re.search(r"^total: 35/45 points \(25 of 33 checks pass\)$", said, re.M)
    assert re.search(r"^8 failed, 25 passed in ", said, re.M)
    assert len(done.stdout.splitlines()) < 60, done.stdout


def test_details_shows_every_check_and_every_failure_in_full_titles_wrapped_not_cut(symmetric):
    done = pytest_in(symmetric, "-q", "--details")
    said = summary(done.stdout)
    assert "FAILURES" not in done.stdout, "the failures are said once, in convgrade's summary"
    headers = [line for line in said.splitlines() if line.startswith("── ")]
    assert len(headers) == 8 and said.count("likely mistake: symmetric padding instead of reflect") == 8, said
    listed = [line for line in said.splitlines() if re.match(r"  (pass|FAIL) +[\d.]+/", line)]
    assert len(listed) == 33 and sum(line.lstrip().startswith("FAIL") for line in listed) == 8
    flat = " ".join(said.split())
    title = 'equals nn.Conv2d(padding="same", padding_mode=mode) with the same weights'
    assert flat.count(title) == 4 + 1, "every mode's check, and the failing reflect one's header: whole"
    assert "…" not in said
    listing = said.split("\n── ", 1)[0]  # the summary and the list of checks, before the failures' own text
    assert max(len(line) for line in listing.splitlines()) <= 80, listing


def test_convgrade_check_says_the_same_and_details_adds_the_rest(symmetric):
    concise, full = convgrade("check", cwd=symmetric), convgrade("check", "--details", cwd=symmetric)
    assert concise.returncode == full.returncode == 1
    assert concise.stdout.startswith("03_padding: Padding\n")
    assert [row.split()[0] for row in function_rows(concise.stdout)] == ["pad2d", "same_padding", "conv2d_same"]
    assert re.search(r"^visible total: 35/45 points \(25 of 33 checks pass\)$", concise.stdout, re.M)
    assert concise.stdout.count("\n── ") == 1 and full.stdout.count("\n── ") == 8
    assert "55 more points in hidden checks" in concise.stdout


def test_a_module_that_does_not_import_is_said_once_with_its_line(tmp_path):
    assert BROKEN != REFERENCE
    folder = copy_of_padding(tmp_path, BROKEN)
    line = 1 + BROKEN.splitlines().index("def pad2d(:")
    for done in (pytest_in(folder, "-q"), convgrade("check", cwd=folder)):
        assert done.returncode == 1
        assert done.stdout.count("could not be imported") == 1, done.stdout
        assert f"padding.py could not be imported: SyntaxError at line {line}" in done.stdout
        assert f"padding.py, line {line}:\n    def pad2d(:\n" in done.stdout
        assert re.search(r"no check could run; (visible )?total: 0/45 points \(0 of 33 checks pass\)", done.stdout)
        assert "Traceback" not in done.stdout + done.stderr


def test_check_by_name_works_in_a_standalone_copy_and_beside_it(tmp_path):
    folder = copy_of_padding(tmp_path)
    for where in (folder, tmp_path):  # inside the copy, as bare `convgrade check` works; and in the folder holding it
        done = convgrade("check", "03_padding", cwd=where)
        assert done.returncode == 1, (where, done.stdout, done.stderr)
        assert done.stdout.startswith("03_padding: Padding\n") and "not implemented yet: `pad2d`" in done.stdout
    elsewhere = convgrade("check", "04_channels", cwd=folder)
    assert elsewhere.returncode == 2
    assert "no assignment '04_channels' here" in elsewhere.stderr and "this folder is the assignment '03_padding'" in elsewhere.stderr


STUDENT_PATH = """
import contextlib, io, json, sys
import pytest
import autograder.checks.plugin
with contextlib.redirect_stdout(io.StringIO()) as shown:
    code = pytest.main([sys.argv[1], "-q", "-p", "no:cacheprovider"])
print(json.dumps({"code": int(code), "shown": shown.getvalue(), "modules": sorted(sys.modules)}))
"""
HEAVY = ("nbgrader", "jinja2", "jupyter_client", "nbformat", "traitlets", "rich", "typer", "matplotlib", "pandas", "sqlalchemy")


def test_the_student_path_imports_nothing_of_the_grader_nor_heavy_libraries(symmetric):
    done = run(sys.executable, "-c", STUDENT_PATH, str(symmetric), cwd=symmetric)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = json.loads(done.stdout.splitlines()[-1])
    assert ran["code"] == 1 and "total: 35/45 points" in ran["shown"], "the checks ran and the summary was printed"
    modules = ran["modules"]
    assert "torch" in modules and "hypothesis" in modules
    assert [name for name in modules if name.split(".")[0] in HEAVY] == []
    grader = ("autograder.grading", "autograder.release", "autograder.notebook", "autograder.cli", "autograder.sandbox.client", "autograder.checks.batch")
    assert [name for name in modules if name.startswith(grader)] == []


COUNTED_STUB = """
def pad2d(input, padding, mode="zeros", value=0.0):
    with open({calls!r}, "a") as calls:
        calls.write("x")
    raise {error}
"""


@pytest.mark.parametrize(("error", "settled"), [("NotImplementedError", True), ("ValueError('not yet')", False)])
def test_a_property_check_on_a_stub_stops_at_its_first_example(tmp_path, error, settled):
    calls = tmp_path / "calls"
    folder = copy_of_padding(tmp_path, COUNTED_STUB.format(calls=str(calls), error=error))
    done = pytest_in(folder, "-q", "-k", "test_the_input_sits_in_the_middle")
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout
    reason = "not implemented yet: `pad2d`" if settled else "`pad2d` raised ValueError: not yet"
    assert reason in done.stdout
    count = len(calls.read_text())
    # a stub fails alike whatever the example: Hypothesis's search for a simpler one costs seconds and finds nothing
    assert count == 1 if settled else count > 1, count


def result(task: str, passed: bool, reason: str = "", **more) -> CheckResult:
    return CheckResult(nodeid=f"t::{task}", assignment="03_padding", task=task, check=f"a check of {task}", max_points=2.0,
                       passed=passed, reason=reason, details=f"{reason}\n  call: {task}(x=float32[2])" if reason else "", **more)  # fmt: skip


def test_a_functions_line_shows_its_own_failure_that_names_a_mistake_before_an_earlier_one():
    follows = "this uses your `pad2d`, which fails 2 checks: fix it first; wrong values: 3 of 9 elements differ"
    board = Scoreboard([
        result("pad2d", True),
        result("pad2d", False, "wrong dtype: expected torch.float64, got torch.float32"),
        result("pad2d", False, "wrong values: 4 of 8 elements differ; likely symmetric padding instead of reflect"),
        result("same_padding", False, "returned 1, expected 2"),
        result("conv2d_same", False, follows, follows=("pad2d",)),
    ])  # fmt: skip
    text = report_text(board, width=200)
    rows = [line for line in text.splitlines() if line.startswith(("  pad2d", "  same_padding", "  conv2d_same"))]
    assert rows[0].split()[1:3] == ["1/3", "2/6"] and rows[0].endswith("FAIL  wrong values: 4 of 8 elements differ; likely symmetric padding instead of reflect")
    assert rows[1].endswith("FAIL  returned 1, expected 2") and rows[2].endswith(f"FAIL  {follows}")
    headers = [line.split(":")[0] for line in text.splitlines() if line.startswith("── ")]
    assert headers == ["── pad2d", "── same_padding"], "one failure in full per function, none for one that only follows"
    assert "wrong dtype" not in text
    assert report_text(board, width=200, details=True).count("\n── ") == 4


LONG_REASON = "wrong values: 270 of 480 elements differ, the largest by 4.18421 at [0, 2, 5, 8]; likely symmetric padding instead of reflect " * 3
LONG_TOKEN = "raised ValueError: " + "x" * 400
OVERFLOWING = """[...document.querySelectorAll('pre, td, h3')].filter(e => e.scrollWidth > e.clientWidth + 1).length
    + (document.documentElement.scrollWidth > document.documentElement.clientWidth ? 1000 : 0)"""


def overflowing(browser, page: Path) -> int:  # noqa: ANN001 - a tests.test_class_page.Chromium
    """How many of the page's blocks (and the page itself, as 1000) run off their box, drawn 800 px wide."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.send("Page.enable", session)
    browser.send("Emulation.setDeviceMetricsOverride", session, width=800, height=600, deviceScaleFactor=1, mobile=False)
    browser.send("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired", session)
    count = browser.send("Runtime.evaluate", session, expression=OVERFLOWING, returnByValue=True)["result"]["value"]
    browser.send("Target.closeTarget", targetId=target)
    return count


def test_feedback_pages_wrap_long_lines_so_nothing_scrolls_off_the_side(chromium, tmp_path):
    board = Scoreboard([result("pad2d", False, LONG_REASON), result("conv2d_same", False, LONG_TOKEN), result("pad2d", True)])
    page = tmp_path / "feedback.html"
    page.write_text(render_feedback(board, student="ann", assignment="03_padding", title="Padding")["feedback.html"])
    control = tmp_path / "unwrapped.html"  # the same page as if it kept every line whole
    control.write_text(page.read_text().replace("pre-wrap", "pre").replace("overflow-wrap: anywhere", "overflow-wrap: normal"))
    assert overflowing(chromium, page) == 0, "a block of the feedback page runs off the side at 800 px"
    assert overflowing(chromium, control) > 0, "the measure sees a page whose lines do not wrap"

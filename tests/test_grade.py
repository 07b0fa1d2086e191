"""convgrade grade: a small class end to end, resumed after a crash, regraded on change."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")


@pytest.fixture
def submitted(tmp_path) -> Path:
    """ada hands in the reference, dev the untouched stub, fay a zip of the reference; gus nothing."""
    folder = tmp_path / "submitted"
    for student, release in (("ada", "solutions"), ("dev", "assignments")):
        (folder / student / "03_padding").mkdir(parents=True)
        shutil.copy(ROOT / release / "03_padding" / "padding.py", folder / student / "03_padding")
    (folder / "fay").mkdir()
    shutil.make_archive(str(folder / "fay" / "03_padding"), "zip", ROOT / "solutions" / "03_padding", "padding.py")
    (folder / "gus").mkdir()
    return folder


def grade(submitted: Path, out: Path, *extra: str, background: bool = False) -> subprocess.CompletedProcess | subprocess.Popen:
    page = [] if "--class-page" in extra else ["--no-class-page"]  # plotting the class costs seconds: where a test reads it
    command = [CONVGRADE, "grade", str(submitted), "-a", "03_padding", "--out", str(out), "--processes", "1", "--root", str(ROOT), *page, *extra]
    env = {**os.environ, "COLUMNS": "200"}
    if background:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def grades(out: Path) -> list[dict]:
    with open(out / "grades.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_class_is_graded_with_results_feedback_and_a_gradebook(submitted, tmp_path):
    out = tmp_path / "out"
    result = grade(submitted, out, "--class-page")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["student_id"]: row for row in grades(out)}
    assert list(rows) == ["ada", "dev", "fay", "gus"]
    assert rows["ada"]["score"] == rows["ada"]["max_score"] == rows["fay"]["score"]
    assert float(rows["ada"]["score"]) == 100, "every assignment is worth 100 points (its rubric)"
    assert float(rows["dev"]["score"]) == 0 and rows["dev"]["status"] == "graded"
    assert rows["gus"]["status"] == "missing" and float(rows["gus"]["score"]) == 0
    results = json.loads((out / "dev" / "03_padding" / "results.json").read_text())
    assert results["score"] == 0 and {test["status"] for test in results["tests"]} == {"failed"}
    assert all("not implemented yet" in test["output"] for test in results["tests"])
    assert {test["visibility"] for test in results["tests"]} == {"visible", "after_published"}
    feedback = (out / "dev" / "03_padding" / "feedback.md").read_text()
    assert "not implemented yet: `pad2d`" in feedback
    assert (out / "ada" / "03_padding" / "feedback.html").is_file()
    assert "[1/4]" in result.stdout and any(line.strip() == "grades (out of 100)" for line in result.stdout.splitlines()), "the class table"
    page = (out / "class.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2, "the scores per assignment and 03's least-passed checks"
    assert "No known mistake was named." in page, "stubs and references name none"
    attention = page.split('id="attention"')[1].split("</table>")[0]
    assert "<td>gus</td><td>03_padding</td><td>missing</td>" in attention and "<td>ada</td>" not in attention


def test_a_rerun_skips_what_is_graded_and_regrades_a_changed_submission(submitted, tmp_path):
    out = tmp_path / "out"
    assert grade(submitted, out).returncode == 0
    first = grades(out)
    again = grade(submitted, out)
    assert again.stdout.count("already graded") == 4
    assert grades(out) == first
    shutil.copy(ROOT / "solutions" / "03_padding" / "padding.py", submitted / "dev" / "03_padding")
    changed = grade(submitted, out)
    assert changed.stdout.count("already graded") == 3
    rows = {row["student_id"]: row for row in grades(out)}
    assert rows["dev"]["score"] == rows["dev"]["max_score"]
    forced = grade(submitted, out, "--regrade")
    assert "already graded" not in forced.stdout


def test_killing_the_grader_midway_loses_nothing_and_duplicates_nothing(submitted, tmp_path):
    clean = tmp_path / "clean"
    assert grade(submitted, clean).returncode == 0
    crashed = tmp_path / "crashed"
    process = grade(submitted, crashed, background=True)
    deadline = time.monotonic() + 300
    while not list(crashed.glob("*/03_padding/.graded.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (crashed / "grades.csv").exists(), "killed before the end"
    assert grade(submitted, crashed).returncode == 0
    assert grades(crashed) == grades(clean)
    for student in ("ada", "dev", "fay", "gus"):
        ours = json.loads((crashed / student / "03_padding" / "results.json").read_text())
        theirs = json.loads((clean / student / "03_padding" / "results.json").read_text())
        assert [(t["name"], t["score"], t["status"]) for t in ours["tests"]] == [
            (t["name"], t["score"], t["status"]) for t in theirs["tests"]
        ]
    leftovers = [p for p in crashed.rglob("*") if p.name.startswith(".") and p.name not in (".graded.json", ".extracted")]
    assert [p for p in leftovers if ".extracted" not in p.parts] == []


def test_the_grader_refuses_what_it_cannot_grade_in_one_sentence(tmp_path):
    missing = subprocess.run([CONVGRADE, "grade", str(tmp_path / "nowhere"), "--root", str(ROOT)], capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a folder of submissions" in missing.stderr
    unknown = subprocess.run([CONVGRADE, "grade", str(tmp_path), "-a", "99_x", "--root", str(ROOT)], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown assignment 99_x" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr


def test_two_grading_processes_give_the_grades_of_one_and_report_every_submission(submitted, tmp_path):
    one = grade(submitted, tmp_path / "one")
    two = grade(submitted, tmp_path / "two", "--processes", "2")
    assert one.returncode == two.returncode == 0, two.stdout + two.stderr
    assert grades(tmp_path / "two") == grades(tmp_path / "one")
    assert sorted(line.split("]")[0] for line in two.stdout.splitlines() if line.startswith("[")) == ["[1/4", "[2/4", "[3/4", "[4/4"]


def _jobs(count: int, assignment: str = "03_padding") -> list:
    from autograder.grading.jobs import Job
    from autograder.grading.submissions import Submission

    return [
        Job(Submission(student=f"s{i:02d}", assignment=assignment, folder=None, error=None), ROOT / "source" / assignment, Path(f"/nowhere/s{i:02d}/{assignment}"), "")
        for i in range(count)
    ]


def test_chunks_keep_one_assignment_each_share_the_work_and_stay_bounded():
    from autograder.grading.pool import chunks
    from autograder.settings import SUBMISSIONS_PER_CHUNK as CHUNK

    jobs = _jobs(7) + _jobs(3, "01_convolution") + _jobs(50, "02_conv_as_matmul")
    cut = chunks(jobs, processes=2)
    assert sorted(job.out for chunk in cut for job in chunk) == sorted(job.out for job in jobs)
    assert all(len({job.submission.assignment for job in chunk}) == 1 for chunk in cut)
    assert [len(chunk) for chunk in cut] == [4, 2, CHUNK, 3, 1, CHUNK, 50 - 2 * CHUNK]
    assert len({chunk[0].submission.assignment for chunk in cut[:3]}) == 3, "every assignment's first chunk comes first"


def test_when_the_grader_itself_fails_on_a_chunk_its_submissions_get_error_rows(monkeypatch):
    from autograder.grading import chunk as grading_chunk
    from autograder.grading.pool import grade_all
    from autograder.scores import GradeRow

    def broken(chunk, *, call_timeout, report):
        report(chunk[0], GradeRow(chunk[0].submission.student, "03_padding", 1.0, 2.0, "graded"))
        raise RuntimeError("the tests did not collect")

    monkeypatch.setattr(grading_chunk, "grade_chunk", broken)
    rows = grade_all(_jobs(3), processes=1, call_timeout=1, regrade=True, progress=lambda *args: None)
    assert [(row.student_id, row.status) for row in rows] == [
        ("s00", "graded"),
        ("s01", "grader error: RuntimeError: the tests did not collect"),
        ("s02", "grader error: RuntimeError: the tests did not collect"),
    ]


def test_a_free_process_takes_the_costliest_chunk_once_every_assignment_is_measured(monkeypatch):
    from autograder.grading import pool

    clock = [0.0]
    monkeypatch.setattr(pool.time, "monotonic", lambda: clock[0])
    cheap, costly = _jobs(6, "01_convolution"), _jobs(6, "07_kaiming_init")
    schedule = pool.Schedule(pool.chunks(cheap + costly, processes=3))
    assert [len(chunk) for chunk in schedule.waiting] == [2, 2, 2, 2, 2, 2]
    first, second = schedule.next(), schedule.next()  # nothing measured yet: the order given
    assert [first[0].submission.assignment, second[0].submission.assignment] == ["01_convolution", "07_kaiming_init"]
    for chunk, seconds in ((first, 0.1), (second, 0.9)):
        for job in chunk:
            clock[0] += seconds
            schedule.seen(job.out)
    picked = [schedule.next()[0].submission.assignment for _ in range(4)]
    assert picked == ["07_kaiming_init", "07_kaiming_init", "01_convolution", "01_convolution"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            pass
    return found


def _grading_processes(grader: int) -> list[int]:
    """The processes the forkserver forked for a grader: children of its child that runs multiprocessing's forkserver."""
    for child in _children(grader):
        with open(f"/proc/{child}/cmdline", "rb") as cmdline:
            if b"forkserver" in cmdline.read():
                return _children(child)
    return []


def test_a_grading_process_that_dies_costs_rows_marked_as_grader_errors_which_a_rerun_grades(submitted, tmp_path):
    for i in range(6):  # enough for two chunks that are still running when one of their processes is killed
        shutil.copytree(submitted / ("ada" if i % 2 else "dev"), submitted / f"extra{i}")
    both = ("-a", "01_convolution", "--processes", "2")  # a second assignment: chunks still waiting when the process dies
    clean = tmp_path / "clean"
    assert grade(submitted, clean, *both).returncode == 0
    broken = tmp_path / "broken"
    process = grade(submitted, broken, *both, background=True)
    deadline = time.monotonic() + 300
    while not list(broken.glob("*/03_padding/.graded.json")) and time.monotonic() < deadline:
        time.sleep(0.02)
    victims = _grading_processes(process.pid)
    assert victims, "two grading processes, forked by the forkserver"
    os.kill(victims[0], signal.SIGKILL)
    assert process.wait(timeout=300) == 0, "the batch completes: the grader's failure is in the rows"
    rows = grades(broken)
    assert len(rows) == len(grades(clean))
    failed = [row for row in rows if row["status"].startswith("grader error")]
    assert failed, "the killed process's submissions say so"
    assert all(not (broken / row["student_id"] / row["assignment"] / ".graded.json").exists() for row in failed)
    again = grade(submitted, broken, *both)
    assert again.returncode == 0
    assert grades(broken) == grades(clean)
    regraded = [line for line in again.stdout.splitlines() if line.startswith("[") and "(already graded)" not in line]
    assert len(regraded) == len(failed), "only what the failure cost is graded again"


def test_a_sandbox_that_cannot_start_costs_grader_error_rows_never_zeros(submitted, tmp_path, monkeypatch):
    """A grader that cannot run student code says so, and a rerun grades the class; no student gets a silent 0."""
    import socket

    from autograder.grading import chunk
    from autograder.grading.jobs import plan
    from autograder.grading.pool import grade_all
    from autograder.sandbox import client

    def dead_on_arrival(**options):  # a zygote that exits before it says it is ready
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen([sys.executable, "-c", "pass"], stdin=theirs)
        return process, ours

    monkeypatch.setattr(client, "launch", dead_on_arrival)
    monkeypatch.setattr(chunk, "_sandbox", client.Sandbox(bubblewrap=False))
    jobs = plan(submitted, ROOT / "source", ["03_padding"], tmp_path / "out", call_timeout=1, budget=None)
    rows = grade_all(jobs, processes=1, call_timeout=1, regrade=True, progress=lambda *args: None)
    assert {row.student_id for row in rows} == {"ada", "dev", "fay", "gus"}
    assert all(row.status.startswith("grader error: RuntimeError: the grading sandbox did not start") for row in rows)
    assert not list((tmp_path / "out").glob("*/03_padding/.graded.json")), "no marker: a rerun grades them"


def _tiny_class(tmp_path: Path, course: Path) -> Path:
    """ann hands in the reference of the tiny course, bob a module that returns its input."""
    submitted = tmp_path / "submitted"
    for student, text in (("ann", (course / "source" / "01_tiny" / "tiny.py").read_text()), ("bob", "def double(x):\n    return x\n")):
        (submitted / student / "01_tiny").mkdir(parents=True)
        (submitted / student / "01_tiny" / "tiny.py").write_text(text)
    return submitted


def _grade_tiny(submitted: Path, out: Path, course: Path, *extra: str) -> tuple[str, dict[tuple[str, str], dict]]:
    """One `convgrade grade` of the tiny course: its output, and grades.csv by (student, assignment)."""
    command = [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "1", "--root", str(course), "--no-class-page", *extra]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, {(row["student_id"], row["assignment"]): row for row in grades(out)}


def test_a_grade_is_a_function_of_everything_that_decides_it(tiny_course, tmp_path):
    """The tests, assignment.toml and the options that change scores are in the marker's key, besides the hand-in."""
    submitted, out = _tiny_class(tmp_path, tiny_course), tmp_path / "out"

    def skipped(*extra):
        return _grade_tiny(submitted, out, tiny_course, *extra)[0].count("already graded")

    assert skipped() == 0
    assert skipped() == 2, "nothing changed: nothing graded again"
    assert skipped("--timeout", "5") == 0, "another call timeout can change a score"
    toml = tiny_course / "source" / "01_tiny" / "assignment.toml"
    toml.write_text(toml.read_text().replace("points = 20", "points = 40"))
    assert skipped("--timeout", "5") == 0, "the rubric changed"
    assert {float(row["max_score"]) for row in grades(out)} == {40.0}
    hidden = tiny_course / "source" / "01_tiny" / "hidden_tests" / "test_tiny_hidden.py"
    hidden.write_text(hidden.read_text() + "\n# a hidden test changed\n")
    assert skipped("--timeout", "5") == 0, "a hidden test changed"
    assert skipped("--timeout", "5") == 2


def test_grades_csv_keeps_every_graded_row_whatever_a_run_grades(tiny_course, tmp_path):
    """Grade one assignment, then another, then one student: no row is lost, each with its current score."""
    second = tiny_course / "source" / "02_tiny"
    shutil.copytree(tiny_course / "source" / "01_tiny", second)
    toml = second / "assignment.toml"
    toml.write_text("weight = 3\n" + toml.read_text())  # a top-level key: before the [rubric] table
    submitted, out = _tiny_class(tmp_path, tiny_course), tmp_path / "out"
    shutil.copytree(submitted / "ann" / "01_tiny", submitted / "ann" / "02_tiny")
    _, rows = _grade_tiny(submitted, out, tiny_course, "-a", "01_tiny")
    assert set(rows) == {("ann", "01_tiny"), ("bob", "01_tiny")}
    _, rows = _grade_tiny(submitted, out, tiny_course, "-a", "02_tiny")
    assert len(rows) == 4 and rows[("ann", "01_tiny")]["status"] == "graded", "01's rows survive a run of 02"
    assert float(rows[("ann", "02_tiny")]["score"]) == 20 and rows[("bob", "02_tiny")]["status"] == "missing"
    (submitted / "bob" / "01_tiny" / "tiny.py").write_text((tiny_course / "source" / "01_tiny" / "tiny.py").read_text())
    stdout, after = _grade_tiny(submitted, out, tiny_course, "--student", "bob")
    assert "bob/01_tiny: 20/20" in stdout and "ann/" not in stdout
    assert after.keys() == rows.keys()
    assert {key: row for key, row in after.items() if key[0] != "bob"} == {key: row for key, row in rows.items() if key[0] != "bob"}
    assert {key: row["weight"] for key, row in after.items()} == {(s, a): "3" if a == "02_tiny" else "1" for s, a in after}
    bob = next(line.split() for line in stdout.splitlines() if line.split()[:1] == ["bob"])
    assert bob[-1] == "25.0%", f"(1 x 100% + 3 x 0%) / 4, weighted, not an even split's 50%: {bob}"


def test_hand_ins_laid_out_otherwise_are_found_or_explained_first(tmp_path):
    submitted = tmp_path / "submitted"
    (submitted / "hal" / "03_padding").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "03_padding" / "padding.py", submitted / "hal" / "03_padding" / "Padding.py")
    (submitted / "ivy" / "03_padding").mkdir(parents=True)
    (submitted / "ivy" / "03_padding" / "03_padding.ipynb").write_text("{}")
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Student_ID\nHal,hal\nIvy,ivy\nKim,kim\n")
    out = tmp_path / "out"
    done = grade(submitted, out, "--roster", str(roster))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["student_id"]: row for row in grades(out)}
    assert rows["kim"]["status"] == "missing" and float(rows["kim"]["score"]) == 0, "on the roster, no folder: listed"
    assert rows["hal"]["status"] == "graded" and float(rows["hal"]["score"]) == 100
    assert "graded as `padding.py`" in json.loads((out / "hal" / "03_padding" / "results.json").read_text())["output"]
    assert rows["ivy"]["status"] == "bad submission"
    feedback = (out / "ivy" / "03_padding" / "feedback.md").read_text()
    assert "your hand-in: no `padding.py` in the hand-in: found `03_padding.ipynb`" in "\n".join(feedback.splitlines()[:6])
    assert "/tmp" not in feedback and "convgrade-empty" not in feedback

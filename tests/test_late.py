"""Deadlines, late penalties and extensions: worked out from raw scores and hand-in times, never by grading again."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.course import Course, CourseError, LatePolicy, parse_time
from autograder.grading.late import with_late_policy
from autograder.scores import GradeRow

CONVGRADE = str(Path(sys.executable).parent / "convgrade")
DUE = datetime(2026, 12, 8, 23, 59, tzinfo=timezone.utc)


def row(handed_in: datetime | None, score: float = 80.0, status: str = "graded") -> GradeRow:
    return GradeRow("ann", "03_padding", score, 100.0, status, handed_in=handed_in.isoformat() if handed_in else "")


@pytest.mark.parametrize(
    "late, policy, score, status",
    [
        (timedelta(hours=-1), LatePolicy("per-day", percent_per_day=10, max_percent=50), 80, "graded"),
        (timedelta(minutes=3), LatePolicy("per-day", percent_per_day=10, grace_minutes=5), 80, "graded"),
        (timedelta(hours=1), LatePolicy("per-day", percent_per_day=10, max_percent=50), 72, "late"),  # a day begun: 10%
        (timedelta(days=2, hours=1), LatePolicy("per-day", percent_per_day=10, max_percent=50), 56, "late"),  # 3 days: 30%
        (timedelta(days=9), LatePolicy("per-day", percent_per_day=10, max_percent=50), 40, "late"),  # capped at 50%
        (timedelta(hours=1), LatePolicy("cutoff", cutoff_days=1), 80, "late"),  # late, before the cut-off: no penalty
        (timedelta(days=1, hours=1), LatePolicy("cutoff", cutoff_days=1), 0, "late"),
        (timedelta(days=3), LatePolicy("none"), 80, "late"),
    ],
)
def test_the_penalty_follows_the_policy(late, policy, score, status):
    (counted,), problems = with_late_policy([row(DUE + late)], {"03_padding": DUE}, policy)
    assert (counted.score, counted.status, counted.raw_score) == (pytest.approx(score), status, 80) and problems == []


def test_an_extension_moves_the_students_due_date_and_a_missing_time_is_reported_not_guessed():
    late = row(DUE + timedelta(days=1, hours=2))
    policy = LatePolicy("per-day", percent_per_day=10)
    (counted,), _ = with_late_policy([late], {"03_padding": DUE}, policy, {("ann", "03_padding"): 2})
    assert counted.status == "graded" and counted.score == 80
    (counted,), _ = with_late_policy([late], {"03_padding": DUE}, policy, {("ann", ""): 1})  # every assignment
    assert counted.status == "late" and counted.score == pytest.approx(72)
    (counted,), problems = with_late_policy([row(None)], {"03_padding": DUE}, policy)
    assert counted.score == 80 and problems == ["ann/03_padding: no hand-in time, so no late penalty (give one with --times)"]
    (missing,), _ = with_late_policy([row(DUE + timedelta(days=5), score=0, status="missing")], {"03_padding": DUE}, policy)
    assert missing.status == "missing"


def test_times_and_course_files_are_read_or_refused_in_one_sentence(tmp_path):
    assert parse_time("2026-12-01 10:00:00.123456 UTC") == datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert parse_time("2026-12-01T11:00:00+01:00") == datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    with pytest.raises(CourseError, match="no time zone"):
        parse_time("2026-12-01 10:00:00")
    (tmp_path / "course.toml").write_text('[late]\npolicy = "per-week"\n')
    with pytest.raises(CourseError, match="late.policy is one of none, cutoff, per-day"):
        Course.load(tmp_path)


def test_a_deadline_or_an_extension_changed_recomputes_penalties_without_grading_again(tiny_course, tmp_path):
    toml = tiny_course / "source" / "01_tiny" / "assignment.toml"
    toml.write_text(toml.read_text().replace('module = "tiny"', 'module = "tiny"\ndue = 2026-12-08T23:59:00Z'))
    (tiny_course / "course.toml").write_text('[late]\npolicy = "per-day"\npercent_per_day = 10\nmax_percent = 50\n')
    submitted = tmp_path / "submitted"
    for student, stamp in (("ann", "2026-12-08 20:00:00.000000 UTC"), ("ben", "2026-12-10 01:00:00.000000 UTC")):
        (submitted / student / "01_tiny").mkdir(parents=True)
        shutil.copy(tiny_course / "source" / "01_tiny" / "tiny.py", submitted / student / "01_tiny")
        (submitted / student / "01_tiny" / "timestamp.txt").write_text(stamp)
    out = tmp_path / "out"

    def run(*extra):
        done = subprocess.run(
            [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "1", "--root", str(tiny_course), "--no-class-page", *extra],
            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        with open(out / "grades.csv", newline="") as handle:
            return done.stdout, {row["student_id"]: row for row in csv.DictReader(handle)}

    _, rows = run()
    assert rows["ann"]["status"] == "graded" and float(rows["ann"]["score"]) == 20
    assert rows["ben"]["status"] == "late" and float(rows["ben"]["score"]) == 16, "two days begun: 20%"
    assert float(rows["ben"]["raw_score"]) == 20 and float(rows["ben"]["late_days"]) == pytest.approx(1.042, abs=1e-3)
    (tmp_path / "extensions.csv").write_text("student_id,assignment,days\nben,01_tiny,2\n")
    stdout, rows = run("--extensions", str(tmp_path / "extensions.csv"))
    assert stdout.count("already graded") == 2, "an extension grades no code again"
    assert rows["ben"]["status"] == "graded" and float(rows["ben"]["score"]) == 20
    (tiny_course / "course.toml").write_text('[late]\npolicy = "cutoff"\n')
    stdout, rows = run()
    assert stdout.count("already graded") == 2 and float(rows["ben"]["score"]) == 0
    toml.write_text(toml.read_text().replace("due = 2026-12-08T23:59:00Z", "due = 2026-12-12T23:59:00Z"))
    stdout, rows = run()
    assert stdout.count("already graded") == 2, "a new deadline grades no code again"
    assert rows["ben"]["status"] == "graded" and float(rows["ben"]["score"]) == 20

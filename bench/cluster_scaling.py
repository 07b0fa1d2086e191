"""Grading on a dask cluster: one class graded here and on `--cluster local:1` and `local:2`, in one run.

    python bench/cluster_scaling.py [--copies 1] [--processes 2] [-a 03_padding ...]

The class: the bundled one (examples/submitted), or --copies copies of it (its
students renamed per copy), every assignment or those given with -a. It is
graded three times into fresh folders: here by `--processes` grading processes,
then on a LocalCluster of 1 and of 2 dask workers. Each time is the command's
wall time, starting the workers included. The script prints submissions per
minute for each, the speed-up of 2 workers over 1 and per worker, and checks
that all three gave the same grades.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def make_class(folder: Path, copies: int) -> None:
    """``copies`` copies of the bundled class in ``folder``, each student's folder renamed per copy."""
    for copy in range(copies):
        for student in sorted((ROOT / "examples" / "submitted").iterdir()):
            if student.is_dir():
                shutil.copytree(student, folder / (student.name if copies == 1 else f"{student.name}{copy:02d}"), symlinks=True)


def grade(folder: Path, out: Path, assignments: list[str], *how: str) -> tuple[float, dict[tuple[str, str], tuple[str, str]]]:
    """Seconds `convgrade grade` took, and its grades: (student, assignment) -> (score, status)."""
    command = [str(BIN / "convgrade"), "grade", str(folder), "--out", str(out), "--root", str(ROOT), "--no-class-page", *how]
    command += [arg for name in assignments for arg in ("-a", name)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    with open(out / "grades.csv", newline="") as handle:
        return seconds, {(row["student_id"], row["assignment"]): (row["score"], row["status"]) for row in csv.DictReader(handle)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="copies of the bundled class to grade")
    parser.add_argument("--processes", type=int, default=2, help="grading processes of the run here")
    parser.add_argument("-a", "--assignment", action="append", default=[], help="grade only this assignment (repeatable)")
    args = parser.parse_args()
    runs = {f"here, {args.processes} processes": ("--processes", str(args.processes))}
    runs |= {f"local:{n}, {n} dask worker{'s' if n > 1 else ''}": ("--cluster", f"local:{n}") for n in (1, 2)}
    with tempfile.TemporaryDirectory(prefix="convgrade-bench-") as scratch:
        folder = Path(scratch) / "submitted"
        make_class(folder, args.copies)
        results = {name: grade(folder, Path(scratch) / f"out{i}", args.assignment, *how) for i, (name, how) in enumerate(runs.items())}
    grades = [graded for _, graded in results.values()]
    submissions = len(grades[0])  # a missing one is graded too: every check fails, its feedback says why
    print(f"{submissions} submissions, missing ones included ({args.copies} cop{'y' if args.copies == 1 else 'ies'} of the bundled class, {', '.join(args.assignment) or 'every assignment'}); wall time, starting the workers included")
    for name, (seconds, _) in results.items():
        print(f"  {name:<26} {seconds:7.1f} s  {60 * submissions / seconds:7.1f} submissions/min")
    one, two = (results[name][0] for name in list(runs)[1:])
    print(f"2 workers over 1: {one / two:.2f}x ({one / two / 2:.2f} per worker; 1.00 is linear)")
    same = all(graded == grades[0] for graded in grades)
    print("same grades in all three runs" if same else "THE RUNS GAVE DIFFERENT GRADES")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Grading throughput: `convgrade grade` against the naive baseline, in one run.

    python bench/grading_throughput.py [--students 40] [--processes 2]

The class: --students students cycling through the bundled personas ada
(perfect), ben (mistakes), cleo (partial), dev (stubs) and eve (forbidden calls),
each handing in all seven assignments. The baseline is what a course does
without convgrade: one `python -m pytest` process per student and assignment,
with the same visible and hidden tests, --processes at a time, one torch thread
each. Both grade the same class; the script prints submissions per minute for
both, their ratio, and checks that both gave the same scores.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERSONAS = ["ada", "ben", "cleo", "dev", "eve"]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if (p / "assignment.toml").is_file())
BIN = Path(sys.executable).parent


def make_class(folder: Path, students: int) -> list[tuple[str, str]]:
    """Copy the personas' submissions into ``folder`` as ``students`` students."""
    pairs = []
    for i in range(students):
        persona = PERSONAS[i % len(PERSONAS)]
        student = f"{persona}{i:03d}"
        shutil.copytree(ROOT / "examples" / "submitted" / persona, folder / student)
        pairs += [(student, assignment) for assignment in ASSIGNMENTS]
    return pairs


def naive(folder: Path, pairs: list[tuple[str, str]], processes: int) -> dict[tuple[str, str], float]:
    """One pytest process per submission; the score read from the plugin's total line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}

    def one(pair: tuple[str, str]) -> float:
        student, assignment = pair
        source = ROOT / "source" / assignment
        result = subprocess.run(
            [sys.executable, "-m", "pytest", str(source / "tests"), str(source / "hidden_tests"),
             f"--student-dir={folder / student / assignment}", "-q", "-p", "no:cacheprovider", "--tb=no"],
            capture_output=True, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        match = re.search(r"total: ([\d.]+)/([\d.]+) points", result.stdout)
        return float(match.group(1)) if match else float("nan")

    with ThreadPoolExecutor(max_workers=processes) as pool:
        return dict(zip(pairs, pool.map(one, pairs)))


def ours(folder: Path, out: Path, processes: int) -> dict[tuple[str, str], float]:
    subprocess.run(
        [str(BIN / "convgrade"), "grade", str(folder), "--out", str(out), "--processes", str(processes), "--root", str(ROOT), "--no-class-page"],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    with open(out / "grades.csv", newline="") as handle:
        return {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(handle)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="students in the class, each with all seven assignments")
    parser.add_argument("--processes", type=int, default=2, help="processes grading at once, for both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convgrade-bench-") as scratch:
        folder = Path(scratch) / "submitted"
        pairs = make_class(folder, args.students)
        print(f"{args.students} students x {len(ASSIGNMENTS)} assignments = {len(pairs)} submissions, {args.processes} processes")
        started = time.perf_counter()
        convgrade_scores = ours(folder, Path(scratch) / "out", args.processes)
        convgrade_time = time.perf_counter() - started
        started = time.perf_counter()
        naive_scores = naive(folder, pairs, args.processes)
        naive_time = time.perf_counter() - started
    rate_ours, rate_naive = len(pairs) / convgrade_time * 60, len(pairs) / naive_time * 60
    print(f"{'':28} {'seconds':>8} {'submissions/min':>16} {'s per 7-assignment student':>27}")
    for name, seconds, rate in (("naive (pytest per submission)", naive_time, rate_naive), ("convgrade grade", convgrade_time, rate_ours)):
        print(f"{name:28} {seconds:>8.1f} {rate:>16.1f} {seconds / args.students:>27.2f}")
    print(f"ratio: convgrade is {rate_ours / rate_naive:.2f}x the naive baseline (target >= 10x, and < 1 s per student)")
    # the naive side reads pytest's total line, which shows points to two decimals (partial credit can have more)
    differ = [pair for pair in pairs if naive_scores[pair] != round(convgrade_scores.get(pair, float("nan")), 2)]
    print("scores: the same for every submission" if not differ else f"scores differ for {len(differ)} submissions, e.g. {differ[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

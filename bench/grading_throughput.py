"""Grading throughput: `convgrade grade` against the naive baseline, in one run.

    python bench/grading_throughput.py [--students 40] [--processes 2] [-a 03_padding ...]

The class: --students students cycling through the bundled personas ada
(perfect), ben (mistakes), cleo (partial), dev (stubs) and eve (forbidden calls),
each handing in every assignment (or those given with -a) the persona has. The baseline is what a course does
without convgrade: one `python -m pytest` process per student and assignment,
with the same visible and hidden tests, --processes at a time, one torch thread
each. Both grade the same class; the script prints submissions per minute for
both, their ratio, and compares their scores: the hidden checks' inputs differ
(convgrade draws them from the course secret and each student's id, the naive run
from fixed seeds), so a submission that fails only some inputs may score
differently.
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

from autograder.sandbox.cgroup import enter

ROOT = Path(__file__).resolve().parents[1]
PERSONAS = ["ada", "ben", "cleo", "dev", "eve"]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if (p / "assignment.toml").is_file())
BIN = Path(sys.executable).parent


def cpu_cgroup(name: str) -> Path | None:
    """A new cgroup counting the CPU time of every process started in it (v1's cpuacct, or v2), or ``None`` where none can be made.

    The CPU seconds each side uses are the load-independent figure: the wall time
    of both sides grows when something else shares the machine, unevenly.
    """
    for root, counter in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"), (Path("/sys/fs/cgroup"), "cpu.stat")):
        folder = root / f"convgrade-bench-{os.getpid()}-{name}"
        try:
            folder.mkdir()
        except OSError:
            continue
        if (folder / counter).is_file():
            return folder
        folder.rmdir()
    return None


def cpu_seconds(cgroup: Path | None) -> float:
    """The CPU seconds counted in ``cgroup`` so far (NaN without one)."""
    if cgroup is None:
        return float("nan")
    if (cgroup / "cpuacct.usage").is_file():
        return int((cgroup / "cpuacct.usage").read_text()) / 1e9
    usage = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
    return int(usage["usage_usec"]) / 1e6


def remove_cgroup(cgroup: Path | None) -> None:
    if cgroup is not None:
        try:
            cgroup.rmdir()
        except OSError:  # a process is still in it: it goes when the machine does
            pass


def make_class(folder: Path, students: int, assignments: list[str]) -> list[tuple[str, str]]:
    """Copy the personas' submissions of ``assignments`` into ``folder`` as ``students`` students."""
    pairs = []
    for i in range(students):
        persona = PERSONAS[i % len(PERSONAS)]
        student = f"{persona}{i:03d}"
        for assignment in assignments:
            handed_in = ROOT / "examples" / "submitted" / persona / assignment
            if handed_in.is_dir():
                shutil.copytree(handed_in, folder / student / assignment)
                pairs.append((student, assignment))
    return pairs


def naive(folder: Path, pairs: list[tuple[str, str]], processes: int, cgroup: Path | None) -> dict[tuple[str, str], float]:
    """One pytest process per submission; the score read from the plugin's total line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}

    def one(pair: tuple[str, str]) -> float:
        student, assignment = pair
        source = ROOT / "source" / assignment
        result = subprocess.run(
            enter([sys.executable, "-m", "pytest", str(source / "tests"), str(source / "hidden_tests"),
                   f"--student-dir={folder / student / assignment}", "-q", "-p", "no:cacheprovider", "--tb=no"], _procs(cgroup)),
            capture_output=True, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        match = re.search(r"total: ([\d.]+)/([\d.]+) points", result.stdout)
        return float(match.group(1)) if match else float("nan")

    with ThreadPoolExecutor(max_workers=processes) as pool:
        return dict(zip(pairs, pool.map(one, pairs)))


def ours(folder: Path, out: Path, processes: int, assignments: list[str], cgroup: Path | None) -> dict[tuple[str, str], float]:
    chosen = [arg for assignment in assignments for arg in ("-a", assignment)]
    command = [str(BIN / "convgrade"), "grade", str(folder), "--out", str(out), "--processes", str(processes), "--root", str(ROOT), "--no-class-page", *chosen]
    subprocess.run(
        enter(command, _procs(cgroup)),
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    with open(out / "grades.csv", newline="") as handle:
        return {(row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(handle)}


def _procs(cgroup: Path | None) -> Path | None:
    return None if cgroup is None else cgroup / "cgroup.procs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="students in the class, each handing in every assignment their persona has")
    parser.add_argument("--processes", type=int, default=2, help="processes grading at once, for both")
    parser.add_argument("-a", "--assignment", action="append", choices=ASSIGNMENTS, help="grade only these (repeatable; default: every assignment in source/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="convgrade-bench-") as scratch:
        folder = Path(scratch) / "submitted"
        assignments = args.assignment or ASSIGNMENTS
        pairs = make_class(folder, args.students, assignments)
        print(f"{args.students} students x {len(assignments)} assignments = {len(pairs)} submissions, {args.processes} processes")
        cgroups = {"ours": cpu_cgroup("ours"), "naive": cpu_cgroup("naive")}
        started = time.perf_counter()
        convgrade_scores = ours(folder, Path(scratch) / "out", args.processes, assignments, cgroups["ours"])
        convgrade_time = time.perf_counter() - started
        started = time.perf_counter()
        naive_scores = naive(folder, pairs, args.processes, cgroups["naive"])
        naive_time = time.perf_counter() - started
        cpu = {side: cpu_seconds(cgroup) for side, cgroup in cgroups.items()}
        for cgroup in cgroups.values():
            remove_cgroup(cgroup)
    rate_ours, rate_naive = len(pairs) / convgrade_time * 60, len(pairs) / naive_time * 60
    print(f"{'':30} {'seconds':>8} {'CPU seconds':>12} {'submissions/min':>16} {'s per student':>14}")
    for name, seconds, cpu_time, rate in (("naive (pytest per submission)", naive_time, cpu["naive"], rate_naive),
                                         ("convgrade grade", convgrade_time, cpu["ours"], rate_ours)):
        print(f"{name:30} {seconds:>8.1f} {cpu_time:>12.1f} {rate:>16.1f} {seconds / args.students:>14.2f}")
    print(f"ratio: convgrade is {rate_ours / rate_naive:.2f}x the naive baseline (target >= 10x); "
          f"in CPU seconds, {cpu['naive'] / cpu['ours']:.2f}x (what the ratio is on an idle machine, whatever else runs)")
    # the naive side reads pytest's total line, which shows points to two decimals (partial credit can have more)
    differ = [pair for pair in pairs if naive_scores[pair] != round(convgrade_scores.get(pair, float("nan")), 2)]
    print("scores: the same for every submission" if not differ else f"scores differ for {len(differ)} submissions, e.g. {differ[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

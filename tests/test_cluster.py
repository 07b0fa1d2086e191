"""convgrade grade --cluster: a class graded on a dask LocalCluster equals the class graded here, whatever dies on the way.

The tests share one LocalCluster of 2 workers (``cluster.local_cluster``, what
``--cluster local:N`` starts; its workers are killed and restarted as the tests
go), reached at its scheduler's address as a remote one is. Student code cannot reach a dask worker from its sandbox, so the test stands in
for whatever would kill one (a kernel bug, the OOM killer, a node lost): a
submission names its own process (``/proc/self/comm``, which the sandbox allows),
and the test kills the whole process tree of the dask worker that grades it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
ASSIGNMENT = "03_padding"


def _named(name: str) -> str:
    """The reference padding.py, which names its sandboxed process ``name`` when imported."""
    reference = (ROOT / "solutions" / ASSIGNMENT / "padding.py").read_text()
    return f'{reference}\nwith open("/proc/self/comm", "w") as _comm:\n    _comm.write("{name}")\n'


def _hand_in(submitted: Path, student: str, text: str) -> None:
    (submitted / student / ASSIGNMENT).mkdir(parents=True)
    (submitted / student / ASSIGNMENT / "padding.py").write_text(text)


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> Path:
    """ada and cy hand in the reference, dev the stub, vic the reference that names its process cg-victim."""
    folder = tmp_path_factory.mktemp("cluster") / "submitted"
    reference = (ROOT / "solutions" / ASSIGNMENT / "padding.py").read_text()
    for student, text in (("ada", reference), ("cy", reference), ("vic", _named("cg-victim"))):
        _hand_in(folder, student, text)
    _hand_in(folder, "dev", (ROOT / "assignments" / ASSIGNMENT / "padding.py").read_text())
    return folder


def grade(submitted: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [CONVGRADE, "grade", str(submitted), "-a", ASSIGNMENT, "--out", str(out), "--root", str(ROOT), "--no-class-page", *extra]
    done = subprocess.run(command, env={**os.environ, "COLUMNS": "200", **(env or {})}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The scheduler's address of a LocalCluster of 2 workers that retries a task once after a worker died running it."""
    import dask

    from autograder.grading.cluster import local_cluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), local_cluster(2) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def here(submitted, tmp_path_factory) -> Path:
    """The class graded on this machine, by two grading processes: what a cluster must give."""
    out = tmp_path_factory.mktemp("here") / "out"
    grade(submitted, out, "--processes", "2")
    return out


def grades(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def scores(out: Path, student: str) -> list:
    results = json.loads((out / student / ASSIGNMENT / "results.json").read_text())
    return [results["score"], *((test["name"], test["score"], test["status"]) for test in results["tests"])]


def _processes() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent pid, name, command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # ended meanwhile
                continue
            name, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
            found[int(entry)] = (int(rest.split()[1]), name, cmdline)
    return found


def _kill_worker_of(name: str) -> int | None:
    """Kill the process tree of the dask worker whose sandbox runs a process named ``name``; that worker's process id, if any."""
    table = _processes()
    named = [pid for pid, (_, comm, _) in table.items() if comm == name]
    for pid in named:
        while pid in table and "multiprocessing" not in table[pid][2]:  # up to the dask worker (a spawned process)
            pid = table[pid][0]
        if pid in table:
            tree, grown = {pid}, True
            while grown:
                more = {child for child, (parent, _, _) in table.items() if parent in tree} - tree
                tree, grown = tree | more, bool(more)
            for each in tree:
                try:
                    os.kill(each, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return pid
    return None


@contextmanager
def killing(name: str, times: int) -> Iterator[set[int]]:
    """Meanwhile, kill the worker that grades the submission naming its process ``name``, up to ``times`` times; the workers killed."""
    kills: set[int] = set()  # a worker still exiting is seen again: counted once
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05) and len(kills) < times:
            if worker := _kill_worker_of(name):
                kills.add(worker)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield kills
    finally:
        stop.set()
        watcher.join()


def test_a_class_graded_on_a_local_cluster_equals_the_class_graded_here(submitted, here, cluster, tmp_path):
    out = tmp_path / "out"
    done = grade(submitted, out, "--cluster", cluster)
    assert grades(out) == grades(here)
    for student in ("ada", "cy", "dev", "vic"):
        assert scores(out, student) == scores(here, student)
        for name in ("feedback.md", "feedback.html"):
            assert (out / student / ASSIGNMENT / name).read_bytes() == (here / student / ASSIGNMENT / name).read_bytes()
    assert sorted(line.split("]")[0] for line in done.stdout.splitlines() if line.startswith("[")) == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert sorted(path.parent.parent.name for path in out.glob(f"*/{ASSIGNMENT}/.graded.json")) == ["ada", "cy", "dev", "vic"]


def test_a_dask_worker_killed_mid_chunk_has_its_chunk_graded_again_elsewhere(submitted, here, cluster, tmp_path):
    out = tmp_path / "out"
    with killing("cg-victim", times=1) as kills:
        grade(submitted, out, "--cluster", cluster)
    assert kills, "the worker grading vic was killed"
    assert grades(out) == grades(here), "its chunk was retried: every grade as if nothing died"
    for student in ("ada", "cy", "dev", "vic"):
        assert scores(out, student) == scores(here, student)


def test_a_submission_that_kills_every_worker_it_runs_on_costs_only_its_own_row(submitted, here, cluster, tmp_path):
    hostile = tmp_path / "submitted"
    shutil.copytree(submitted, hostile)
    _hand_in(hostile, "mal", _named("cg-hostile"))  # in a chunk with classmates: they must not pay for it
    out = tmp_path / "out"
    with killing("cg-hostile", times=100) as kills:
        grade(hostile, out, "--cluster", cluster)
    rows = grades(out)
    assert rows.pop("mal")["status"] == "grader error: RuntimeError: its grading killed 2 dask workers"
    assert not (out / "mal" / ASSIGNMENT / ".graded.json").exists(), "no marker: a rerun grades it"
    assert rows == grades(here), "every classmate graded, as here"
    for student in ("ada", "cy", "dev", "vic"):
        assert scores(out, student) == scores(here, student)
    assert len(kills) == 4, "twice in its chunk, twice alone (allowed-failures 1)"


@pytest.mark.parametrize(
    ("value", "workers"), [("local:3", 3), ("local", len(os.sched_getaffinity(0))), ("tcp://10.0.0.7:8786", None), ("scheduler:8786", None)]
)
def test_cluster_names_a_local_cluster_or_a_schedulers_address(value, workers):
    from autograder.grading.cluster import local_workers

    assert local_workers(value) == workers


@pytest.mark.parametrize("value", ["local:0", "local:two", "nowhere"])
def test_a_cluster_that_is_neither_is_refused_in_one_sentence(value, submitted, tmp_path):
    command = [CONVGRADE, "grade", str(submitted), "-a", ASSIGNMENT, "--out", str(tmp_path / "out"), "--root", str(ROOT), "--cluster", value]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and f"--cluster {value}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()

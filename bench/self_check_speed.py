"""A student's self-check against `import torch`, measured in one run.

    python bench/self_check_speed.py [--repeat 5]

The floor of any self-check is `python -c "import torch"`: every check calls
torch. The script times, round after round (each round runs every command once,
so all of them see the same load), the commands a student runs:

- `pytest assignments/03_padding` on the released stubs, on the reference
  (`--student-dir solutions/03_padding`), and on a typical mistake (the
  reference with an even kernel's extra pixel of padding on the wrong side, which
  fails property checks: Hypothesis shrinks their example);
- `convgrade check 03_padding` on the stubs, and on the reference (`--path`);
- `convgrade check --path solutions`: all seven assignments.

It prints each command's median wall time over the rounds and its ratio to
the median of `import torch`. Targets: 1.5x for one assignment (both commands),
2.5x for all seven. The load average is printed before and after: other work on
the machine makes every ratio worse, so measure when it is idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
CONVGRADE = [str(BIN / "convgrade"), "check"]

# name, command, target ratio to `import torch` (None: the baseline)
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("python -c 'import torch'", [sys.executable, "-c", "import torch"], None),
    ("pytest assignments/03_padding (stubs)", [*PYTEST, "assignments/03_padding"], 1.5),
    ("pytest assignments/03_padding --student-dir solutions/03_padding", [*PYTEST, "assignments/03_padding", "--student-dir", "solutions/03_padding"], 1.5),
    ("pytest assignments/03_padding --student-dir MISTAKE", [*PYTEST, "assignments/03_padding", "--student-dir", "{mistake}"], 1.5),
    ("convgrade check 03_padding (stubs)", [*CONVGRADE, "03_padding"], 1.5),
    ("convgrade check --path solutions/03_padding", [*CONVGRADE, "--path", "solutions/03_padding"], 1.5),
    ("convgrade check --path solutions (all seven)", [*CONVGRADE, "--path", "solutions"], 2.5),
]  # fmt: skip


def mistaken(folder: Path) -> Path:
    """A copy of the 03_padding reference in ``folder`` whose even kernels get their extra pixel on the wrong side."""
    reference = (ROOT / "solutions" / "03_padding" / "padding.py").read_text()
    wrong = reference.replace("top, left = total_h // 2, total_w // 2", "top, left = total_h - total_h // 2, total_w - total_w // 2")
    assert wrong != reference, "the reference changed: choose another mistake"
    (folder / "padding.py").write_text(wrong)
    return folder


def wall(command: list[str]) -> float:
    """Seconds the command takes, start to exit (its output discarded; a crash stops the benchmark)."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: checks failed, as they do on the stubs
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return took


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each runs every command once (default 5)")
    args = parser.parse_args()
    print(f"load average before: {load()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="convgrade-bench-") as scratch:
        mistake = str(mistaken(Path(scratch)))
        commands = [(name, [arg.format(mistake=mistake) for arg in command], target) for name, command, target in COMMANDS]
        for _, command, _ in commands:  # a warm-up round: files in the page cache, .pyc written
            wall(command)
        samples: dict[str, list[float]] = {name: [] for name, _, _ in commands}
        for _ in range(args.repeat):
            for name, command, _ in commands:
                samples[name].append(wall(command))
    print(f"load average after:  {load()}")
    baseline, fastest = statistics.median(samples[COMMANDS[0][0]]), min(samples[COMMANDS[0][0]])
    width = max(len(name) for name in samples)
    print(f"\n{'command':{width}}  median    min  ratio  (of mins)  target")
    for name, _, target in COMMANDS:
        median, least = statistics.median(samples[name]), min(samples[name])
        verdict = "" if target is None else f"{target:.1f}x {'ok' if median / baseline <= target else 'MISSED'}"
        print(f"{name:{width}}  {median:5.2f}s {least:5.2f}s  {median / baseline:4.2f}x  ({least / fastest:4.2f}x)    {verdict}")
    print(f"\nmedians of {args.repeat} rounds; ratios to the median of `import torch` (and of the fastest runs, less swayed by load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

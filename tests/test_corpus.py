"""The public corpus (``tests/corpus``): code nobody here wrote for the grader, graded as students' work.

Independent implementations of 01-07 in the styles real students use (numpy
loops, einsum, as_strided, ``Tensor.unfold``), and copies of them with one real
misconception each. First they are checked against PyTorch by their own script,
with no part of the grader; then ``convgrade grade`` grades them all as one class:

- a correct implementation, which raises no errors of its own, scores at least 90
  of 100 on every assignment, whatever its style;
- every mistake (the mutant gallery) loses points in a visible check, so the
  student sees it before handing in, and at least 90% of them are named in a
  failure's reason; the fractions caught and named are printed after the run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
CONVGRADE = str(Path(sys.executable).parent / "convgrade")


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_corpus", CORPUS / "check_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_corpus"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


CHECKER = _load_checker()
ENTRIES = CHECKER.load_entries()


def _student(entry) -> str:
    """The corpus entry as a student id: its style, or mistake-<name>."""
    return entry.style if entry.expect == "correct" else f"mistake-{Path(entry.path).parts[1]}"


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on even kernels, expected here
@pytest.mark.parametrize("index, entry", list(enumerate(ENTRIES)), ids=[f"{e.assignment}-{_student(e)}" for e in ENTRIES])
def test_the_corpus_agrees_with_pytorch(index, entry):
    """The oracle, independent of the grader: correct entries equal PyTorch, each mistake differs where it should."""
    outcome = CHECKER.run_entry(entry, index)
    if entry.expect == "correct":
        assert outcome.failures == {}
    else:
        assert set(outcome.failures) & set(entry.functions), "the mistake changes a result"
        assert set(outcome.failures) <= set(entry.functions), "and only those of the functions it names"


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The corpus graded as one class by ``convgrade grade``: OUT/<student>/<assignment>/results.json."""
    submitted, out = tmp_path_factory.mktemp("corpus-class"), tmp_path_factory.mktemp("corpus-out")
    for entry in ENTRIES:
        folder = submitted / _student(entry) / entry.assignment
        folder.mkdir(parents=True)
        shutil.copy(CORPUS / entry.path, folder / Path(entry.path).name)
    done = subprocess.run(
        [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "2", "--root", str(ROOT), "--no-class-page"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _results(out: Path, entry) -> dict:
    return json.loads((out / _student(entry) / entry.assignment / "results.json").read_text())


def test_correct_code_in_other_styles_scores_at_least_90(graded):
    scores = {(e.assignment, _student(e)): _results(graded, e)["score"] for e in ENTRIES if e.expect == "correct"}
    low = {key: score for key, score in scores.items() if score < 90}
    assert low == {}, "correct implementations that raise no errors of their own lose at most the 10 validation points"


def test_the_mutant_gallery_is_caught_in_visible_checks_and_named(graded, request):
    mistakes = [e for e in ENTRIES if e.expect == "mistake"]
    caught, named, problems = 0, 0, []
    for entry in mistakes:
        results = _results(graded, entry)
        failed_visible = [t for t in results["tests"] if t["status"] == "failed" and t["visibility"] == "visible"]
        outputs = "\n".join(t["output"] for t in results["tests"] if t["status"] == "failed")
        name = entry.named
        if results["score"] < 100 and failed_visible:
            caught += 1
        else:
            problems.append(f"{entry.path}: not caught by a visible check (score {results['score']})")
        if name and name in outputs:
            named += 1
        else:
            problems.append(f"{entry.path}: no failure names {name!r}")
    summary = f"mutant gallery: {caught} of {len(mistakes)} mistakes caught in visible checks, {named} of {len(mistakes)} named"
    request.node.user_properties.append(("convgrade_corpus_summary", summary))
    assert caught == len(mistakes), "\n".join(problems)
    assert named >= 0.9 * len(mistakes), "\n".join(problems)

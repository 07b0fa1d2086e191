"""Hidden checks leak nothing learnable: each student's hidden inputs are their own, and hidden reasons carry no student text.

A hostile classmate could learn fixed hidden inputs (make failing submissions
report them, then hand in a table of answers) or read them back from a hidden
check's reason. So hidden inputs derive from the course secret and the student id
(``autograder.grading.secret``, ``autograder.inputs.salted``), reruns give the
same grade, and a hidden check's reason is rebuilt in the grader's words alone
(``autograder.checks.explain.conceal``). Submissions here are real modules graded
by the real grader: in this process to watch what a student's functions receive,
and with ``convgrade grade`` (sandboxed) for what students are shown.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.assignment import Assignment
from autograder.checks.batch import run_batch
from autograder.checks.explain import HIDDEN_FALLBACK, conceal
from autograder.checks.replay import draw_examples, record
from autograder.grading.jobs import Job, plan
from autograder.grading.secret import SECRET_ENV, SecretError, fingerprint, hidden_salt, load_secret
from autograder.inputs import drawn_again, randn, salted

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")
ASSIGNMENT = "03_padding"
SECRET = b"5ec2e7" * 8  # the tests' course secret (hex digits), never the repository's
FUNCTIONS = ("pad2d", "same_padding", "conv2d_same")

# A call as a key, and a value as plain JSON: the same in the recorder and the lookup table.
KEYS = '''def _plain(value):
    if isinstance(value, torch.Tensor):
        return ["T", str(value.dtype), list(value.shape), value.detach().reshape(-1).tolist()]
    if isinstance(value, (tuple, list)):  # alike: a tuple argument may arrive in the sandbox as a list
        return ["seq", [_plain(item) for item in value]]
    return ["V", repr(value)]


def _key(name, args, kwargs):
    return _json.dumps([name, _plain(args), sorted([key, _plain(value)] for key, value in kwargs.items())])
'''

# Appended to the reference: every call's arguments and result (or exception), one JSON line each, in LOG.
RECORDER = '''

import functools as _functools
import json as _json

import torch

_LOG = {log!r}


{keys}


def _recorded(function):
    @_functools.wraps(function)
    def wrapper(*args, **kwargs):
        key = _key(function.__name__, args, kwargs)
        try:
            result = function(*args, **kwargs)
        except Exception as exc:
            answer = ["E", type(exc).__name__, str(exc)]
            raise
        else:
            answer = ["R", _plain(result)]
            return result
        finally:
            with open(_LOG, "a") as log:
                log.write(_json.dumps([key, answer]) + "\\n")
    return wrapper


{wrapped}
'''

# A submission with no implementation: the answers a recorded run saw, looked up by the call's arguments.
LOOKUP = '''import ast
import copy
import json as _json

import torch

TABLE = _json.loads({table!r})


{keys}


def _rebuilt(plain):
    kind = plain[0]
    if kind == "T":
        return torch.tensor(plain[3], dtype=getattr(torch, plain[1].removeprefix("torch."))).reshape(plain[2])
    if kind == "seq":
        return tuple(_rebuilt(item) for item in plain[1])
    return ast.literal_eval(plain[1])


def _answer(name, args, kwargs):
    key = _key(name, args, kwargs)
    if key not in TABLE:
        raise RuntimeError("not in the table")
    answer = TABLE[key]
    if answer[0] == "E":
        raise {{"ValueError": ValueError, "TypeError": TypeError}}.get(answer[1], RuntimeError)(answer[2])
    return _rebuilt(answer[1])


def pad2d(*args, **kwargs):
    return _answer("pad2d", args, kwargs)


def same_padding(*args, **kwargs):
    return _answer("same_padding", args, kwargs)


def conv2d_same(*args, **kwargs):
    return _answer("conv2d_same", args, kwargs)
'''

# Every way a function could carry what it was given back into a reason: its message, a printed line,
# a returned shape, dtype or type name, an exit code. LEAK marks each; the statistics are the arguments'.
LEAKY = '''import sys

import torch

LEAK = "SECRET-TEXT"


def _stats(args):
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return "-".join(f"{t.double().sum().item():.6f}" for t in tensors) or repr(args)


class SecretText4242(torch.Tensor):
    pass


def pad2d(input, padding, mode="zeros", value=0.0):
    print(f"{LEAK}-printed-{_stats([input])}")
    raise ValueError(f"{LEAK}-{_stats([input])} padding mode")


def same_padding(kernel_size, dilation=1):
    if kernel_size == 3:
        sys.exit(4242)
    raise TypeError(f"{LEAK}-{kernel_size}-{dilation} kernel_size dilation")


def conv2d_same(input, weight, bias=None, mode="zeros"):
    if mode == "zeros":
        return torch.zeros(4242, dtype=torch.float16)
    if mode == "reflect":
        return torch.zeros(2, dtype=torch.float64).as_subclass(SecretText4242)
    raise ValueError(f"{LEAK}-{_stats([input, weight])} input weight mode")
'''


def _module_with_recorder(log: Path) -> str:
    """The reference module of 03_padding, every public function recording its calls to ``log``."""
    wrapped = "\n".join(f"{name} = _recorded({name})" for name in FUNCTIONS)
    return (ROOT / "solutions" / ASSIGNMENT / "padding.py").read_text() + RECORDER.format(log=str(log), wrapped=wrapped, keys=KEYS)


def _log(path: Path) -> list[tuple[str, list]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict[str, list[tuple[str, list]]]:
    """What the reference's functions received and returned, graded as ada, ben, ada again, and with no salt at all.

    Graded in this process (``run_batch``, no sandbox) so the module can write down
    its calls; each submission has a folder and a log of its own.
    """
    base = tmp_path_factory.mktemp("recorded")
    runs = {"ada": "ada", "ben": "ben", "ada-again": "ada", "no-salt": None}
    folders = {}
    for run in runs:
        folder = base / run / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "padding.py").write_text(_module_with_recorder(base / f"{run}.jsonl"))
        folders[run] = folder
    source = Assignment.load(ROOT / "source" / ASSIGNMENT)
    boards = {}
    run_batch(
        source, [source.visible_tests, source.hidden_tests], list(folders.items()),
        lambda key, board, seconds: boards.__setitem__(key, board),
        salt_of=lambda run: hidden_salt(SECRET, ASSIGNMENT, runs[run]) if runs[run] else None,
    )  # fmt: skip
    for run, board in boards.items():
        assert board.score == board.max_score, f"{run}: the reference passes every check, whatever its hidden inputs"
    return {run: _log(base / f"{run}.jsonl") for run in runs}


def test_two_students_get_different_hidden_inputs_and_a_rerun_the_same(seen):
    """ada's hidden inputs are hers on every run; ben's are others; the fixed ones (visible) are everyone's."""
    assert seen["ada"] == seen["ada-again"], "the same student, secret and code: the same calls, in the same order"
    fixed = {key for key, _ in seen["no-salt"]}
    ada = {key for key, _ in seen["ada"]} - fixed
    ben = {key for key, _ in seen["ben"]} - fixed
    assert len(ada) > 100 and len(ben) > 100, "the hidden checks' seeded and drawn inputs are salted"
    with_tensors = {key for key in ada | ben if '["T", ' in key}
    assert (ada & with_tensors).isdisjoint(ben), "no salted tensor of ada's is one of ben's"
    sizes_alone = (ada | ben) - with_tensors  # same_padding's property test: drawn for each student
    assert len(sizes_alone) > 20 and len(ada & ben) <= len(sizes_alone) // 4, "sizes alone are drawn for each student too"
    assert len({key for key, _ in seen["ada"]} & fixed) > 50, "the visible checks' inputs stay fixed"


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    """The tests' course secret, in a file of its own (never the repository's)."""
    path = tmp_path_factory.mktemp("secret") / "secret"
    path.write_text(SECRET.decode() + "\n")
    return path


@pytest.fixture(scope="module")
def lookup_class(seen, secret_file, tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """ada's answers (the reference's, on the inputs ada's hidden checks gave) handed in by ada and by ben; graded."""
    table = {key: answer for key, answer in seen["ada"]}
    submitted, out = tmp_path_factory.mktemp("lookup-class"), tmp_path_factory.mktemp("lookup-out")
    for student in ("ada", "ben"):
        folder = submitted / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "padding.py").write_text(LOOKUP.format(table=json.dumps(table), keys=KEYS))
    assert (submitted / "ada" / ASSIGNMENT / "padding.py").stat().st_size < 2**20, "within the sandbox's cap on a module"
    _grade(submitted, out, "--secret", str(secret_file))
    return submitted, {student: _results(out, student) for student in ("ada", "ben")}


def _grade(submitted: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``convgrade grade`` of 03_padding, sandboxed, in one process; it must succeed."""
    command = [CONVGRADE, "grade", str(submitted), "-a", ASSIGNMENT, "--out", str(out), "--processes", "1", "--root", str(ROOT), "--no-class-page", *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=env or {**os.environ, "COLUMNS": "200"}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / ASSIGNMENT / "results.json").read_text())


def _points(results: dict, *, hidden: bool) -> tuple[float, float]:
    """(earned, possible) over the visible or the hidden checks."""
    tests = [test for test in results["tests"] if test["extra_data"]["hidden"] is hidden]
    return sum(test["score"] for test in tests), sum(test["max_score"] for test in tests)


def test_a_lookup_table_learned_as_one_student_fails_for_the_next(lookup_class):
    """The table earns ada the hidden points of the inputs she saw; ben, handing in the same table, loses them."""
    _, results = lookup_class
    assert _points(results["ada"], hidden=False) == _points(results["ben"], hidden=False), "the visible checks' inputs are everyone's"
    ada_hidden, hidden = _points(results["ada"], hidden=True)
    ben_hidden, _ = _points(results["ben"], hidden=True)
    assert ada_hidden == pytest.approx(hidden), "ada's own hidden inputs: the table holds every answer"
    assert ben_hidden < 0.35 * hidden, f"ben earns {ben_hidden} of {hidden} hidden points with ada's table"
    drawn = [test for test in results["ben"]["tests"] if test["extra_data"]["hidden"] and "random" in test["name"]]
    assert drawn and not any(test["score"] for test in drawn), "no hidden property check passes on another student's examples"


def test_the_same_student_secret_and_code_give_the_same_grade(lookup_class, secret_file, tmp_path):
    """Graded again from scratch, ada's and ben's results are the same, check by check."""
    submitted, results = lookup_class
    _grade(submitted, tmp_path / "again", "--secret", str(secret_file))
    for student in ("ada", "ben"):
        again = _results(tmp_path / "again", student)
        assert [(t["name"], t["score"], t["output"]) for t in again["tests"]] == [(t["name"], t["score"], t["output"]) for t in results[student]["tests"]]


@pytest.fixture(scope="module")
def leaky(secret_file, tmp_path_factory) -> Path:
    """A submission whose every failure tries to carry its arguments back (LEAKY), graded: OUT/mallory/03_padding/."""
    submitted, out = tmp_path_factory.mktemp("leaky-class"), tmp_path_factory.mktemp("leaky-out")
    (submitted / "mallory" / ASSIGNMENT).mkdir(parents=True)
    (submitted / "mallory" / ASSIGNMENT / "padding.py").write_text(LEAKY)
    _grade(submitted, out, "--secret", str(secret_file))
    return out / "mallory" / ASSIGNMENT


LEAKS = ("SECRET-TEXT", "4242", "float16", "SecretText")  # its message, printed text, returned shape, dtype and type name, exit code


def test_a_hidden_checks_reason_carries_none_of_the_students_text_or_values(leaky):
    """In results.json and both feedback pages, hidden checks show the grader's words only; visible checks show everything."""
    results = json.loads((leaky / "results.json").read_text())
    hidden = [test for test in results["tests"] if test["extra_data"]["hidden"]]
    visible = [test for test in results["tests"] if not test["extra_data"]["hidden"]]
    assert hidden and all(test["status"] == "failed" for test in hidden)
    for test in hidden:
        assert not [leak for leak in LEAKS if leak in test["output"]], test["output"]
    shown = "\n".join(test["output"] for test in visible)
    assert [leak for leak in LEAKS if leak not in shown] == [], "a visible check shows the student's own message and values"
    for page, row, row_end, section in (("feedback.md", "\n|", "\n", "\n### "), ("feedback.html", "<tr>", "</tr>", "<h3>")):
        text = (leaky / page).read_text()
        rows = [part.split(row_end)[0] for part in text.split(row)[1:]]
        parts = [part for part in rows + text.split(section)[1:] if "(hidden" in part.split("\n")[0]]
        assert len(parts) >= 2 * len(hidden), f"{page}: every hidden check's row and section"
        assert [leak for part in parts for leak in LEAKS if leak in part] == [], page
        assert [leak for leak in LEAKS if leak not in text] == [], f"{page}: the visible checks show everything"


@pytest.mark.parametrize(
    "reason, shown",
    [
        ("wrong values: 270 of 480 elements differ, the largest by 4.18421 at [0, 2, 5, 8]; likely symmetric padding instead of reflect",
         "wrong values; likely symmetric padding instead of reflect"),
        ("item 1: wrong shape: expected (2, 3), got (42, 42)", "item 1: wrong shape: expected (2, 3)"),
        ("wrong dtype: expected float32, got float16", "wrong dtype: expected float32"),
        ("returned a secret_1_5, expected a torch.Tensor", "returned something other than a torch.Tensor"),
        ("returned a Leak_1_5, a subclass of torch.Tensor; return a plain torch.Tensor", "returned a subclass of torch.Tensor; return a plain torch.Tensor"),
        ("returned 1234, expected 7", "returned a wrong number"),
        ("returned 1234 items, expected 4", "returned another number of items, expected 4"),
        ("2 of 3 error cases fail; negative padding: expected ValueError naming `padding`, got TypeError: SECRET 1.5",
         "2 of 3 error cases fail; negative padding: expected ValueError naming `padding`, got TypeError"),
        ("1 of 2 error cases fail; a bad mode: raised ValueError but the message does not name `mode`",
         "1 of 2 error cases fail; a bad mode: raised ValueError but the message does not name `mode`"),
        ("raises for valid input too: pad2d(SECRET_1_5=float32[1, 1, 4, 4], padding=1) raised ValueError", "raises for valid input too: `pad2d` raised ValueError"),
        ("wrong result for valid input: wrong values: 3 of 16 elements differ, the largest by 1.5 at [0, 1]", "wrong result for valid input: wrong values"),
        ("raised Secret15 but the message does not name `padding`", "raised an exception but the message does not name `padding`"),
        ("expected ValueError, but it returned float32[3] [1.5, 2.5, 3.5]", "expected ValueError, but it returned without raising"),
        ("`conv2d_single` raised ValueError: SECRET 1.5; likely window hard-coded to 3x3", "`conv2d_single` raised ValueError"),
        ("pad2d called sys.exit(1234): a function returns its result, it never ends the program", "pad2d called sys.exit: a function returns its result, it never ends the program"),
        ("pad2d modified its input SECRET_1_5 in place: work on a copy (e.g. with .clone())", "pad2d modified an input in place: work on a copy (e.g. with .clone())"),
        ("no time left: the functions of padding.py took 1234 s in all, over the 300 s a submission may use", "no time left: the submission's functions took longer in all than a submission may"),
        ("`SECRET_1_5` is not allowed in this exercise (it does the work of `F.pad`): implement it yourself", "a call this exercise does not allow: implement it yourself"),
        ("padding.py could not be imported: ValueError: SECRET 1.5", "padding.py could not be loaded (the visible checks say why)"),
        ("pad2d did not finish within 10 s: look for a loop that never ends", "pad2d did not finish within 10 s"),
        ("a reason nobody wrote a rule for: SECRET 1.5", HIDDEN_FALLBACK),
    ],
)
def test_a_hidden_reason_keeps_the_graders_words_alone(reason, shown):
    assert conceal(reason) == shown


def test_salted_inputs_are_the_same_for_one_salt_and_differ_for_another():
    """randn under a salt: reproducible, unlike another salt's, unlike the fixed seed's; outside, the fixed seed's."""
    fixed = randn(3, 4, seed=7)
    with salted("a" * 64):
        ada, ada_again = randn(3, 4, seed=7), randn(3, 4, seed=7)
    with salted("b" * 64):
        ben = randn(3, 4, seed=7)
    assert torch.equal(ada, ada_again) and not torch.equal(ada, ben) and not torch.equal(ada, fixed)
    assert torch.equal(randn(3, 4, seed=7), fixed)


def test_a_drawn_tensor_is_drawn_again_under_a_salt_unless_it_was_changed():
    """The class's examples, replayed under a student's salt: randn's tensors take the student's values, same shapes and dtype."""
    case = (randn(2, 3, seed=7), randn(4, seed=8, dtype=torch.float64), 3)
    recorded = copy.deepcopy(case)  # as ``record`` keeps it
    changed = randn(2, 2, seed=9)
    changed[0, 0] = changed[1, 1]  # a strategy making a tie: its values are not the seed's alone
    with salted("a" * 64):
        ada = [drawn_again(t) for t in recorded[:2]]
        assert drawn_again(copy.deepcopy(changed)) is None and drawn_again(torch.zeros(2)) is None
    with salted("b" * 64):
        ben = [drawn_again(t) for t in recorded[:2]]
    for mine, theirs, original in zip(ada, ben, case):
        assert mine.shape == theirs.shape == original.shape and mine.dtype == theirs.dtype == original.dtype
        assert not torch.equal(mine, theirs) and not torch.equal(mine, original)
    with salted("a" * 64):
        assert all(torch.equal(again, drawn_again(t)) for again, t in zip(ada, recorded)), "the same salt: the same values"
    assert torch.equal(drawn_again(recorded[0]), case[0]), "no salt: the seed's own values"


def test_drawn_examples_follow_the_seed_given():
    """``draw_examples``: the test's max_examples examples, the same for one seed, others for another, none a filter rejects."""

    @settings(derandomize=True, database=None, max_examples=12, deadline=None)
    @given(n=st.integers(0, 10**9).filter(lambda n: n % 2 == 0), pair=st.tuples(st.integers(1, 3), st.sampled_from("ab")))
    def check(n, pair):
        pass

    first, first_again, second = draw_examples(check, 1), draw_examples(check, 1), draw_examples(check, 2)
    assert len(first) == len(second) == 12 and first == first_again and first != second
    assert all(example["n"] % 2 == 0 and example["pair"][0] in (1, 2, 3) for example in first + second)
    assert len({example["n"] for example in first}) > 6, "random draws, not one example over and over"
    assert first != record(check, {}), "not the derandomized examples a self-check runs"


def test_salted_examples_follow_the_seed_alone_whatever_the_process_imported(tmp_path, monkeypatch):
    """Hypothesis mixes literals of loaded local modules into its draws; a salted draw does not, so a student's examples stay theirs."""

    @settings(derandomize=True, database=None, max_examples=10, deadline=None)
    @given(values=st.lists(st.integers(0, 10**9), min_size=50, max_size=50))
    def check(values):
        pass

    plain, salted_draw = record(check, {}), draw_examples(check, 3)
    (tmp_path / "many_literals.py").write_text("LITERALS = [" + ", ".join(str(123456789 + i) for i in range(200)) + "]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("many_literals")
    assert record(check, {}) != plain, "an unsalted draw takes in the new module's literals (as Hypothesis does)"
    assert draw_examples(check, 3) == salted_draw


def test_the_secret_is_made_once_private_and_checked(tmp_path):
    path = tmp_path / "course" / ".convgrade" / "secret"
    secret, created = load_secret(path)
    assert created and len(secret) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_secret(path) == (secret, False)
    assert fingerprint(secret) != fingerprint(SECRET) and secret.decode() not in fingerprint(secret)
    salts = {hidden_salt(secret, a, s) for a in ("01_convolution", "03_padding") for s in ("ada", "ben")}
    assert len(salts) == 4
    path.write_text("not hex\n")
    with pytest.raises(SecretError, match="is not a course secret"):
        load_secret(path)


def test_a_new_secret_regrades_and_the_key_holds_its_fingerprint_only(tiny_course, tmp_path):
    """Each job's digest (what a rerun compares) changes with the secret, and its salt is the student's own."""
    submitted = tmp_path / "submitted"
    for student in ("ann", "bob"):
        (submitted / student / "01_tiny").mkdir(parents=True)
        shutil.copy(tiny_course / "source" / "01_tiny" / "tiny.py", submitted / student / "01_tiny")

    def jobs(secret: bytes | None) -> dict[str, Job]:
        planned = plan(submitted, tiny_course / "source", ["01_tiny"], tmp_path / "out", call_timeout=10.0, budget=300.0, secret=secret)
        return {job.submission.student: job for job in planned}

    first, again, other, none = jobs(SECRET), jobs(SECRET), jobs(b"ab" * 32), jobs(None)
    assert {s: j.digest for s, j in first.items()} == {s: j.digest for s, j in again.items()}
    assert all(first[s].digest != other[s].digest != none[s].digest for s in first), "a new secret: every submission graded again"
    assert first["ann"].salt == hidden_salt(SECRET, "01_tiny", "ann") != first["bob"].salt and none["ann"].salt is None
    assert not any(SECRET.decode() in job.digest or fingerprint(SECRET) in job.digest for job in first.values()), "the key is a hash of it"


def test_convgrade_grade_makes_the_course_secret_on_first_use(tiny_course, tmp_path):
    """ROOT/.convgrade/secret, owner-only, made once with a one-line notice; $CONVGRADE_SECRET_FILE or --secret point elsewhere."""
    submitted = tmp_path / "submitted"
    (submitted / "ann" / "01_tiny").mkdir(parents=True)
    shutil.copy(tiny_course / "source" / "01_tiny" / "tiny.py", submitted / "ann" / "01_tiny")
    env = {key: value for key, value in os.environ.items() if key != SECRET_ENV}

    def notice(*extra: str) -> str:
        command = [CONVGRADE, "grade", str(submitted), "--out", str(tmp_path / "out"), "--processes", "1", "--root", str(tiny_course), "--no-class-page", *extra]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return "".join(line for line in done.stderr.splitlines() if "course secret" in line)

    made = tiny_course / ".convgrade" / "secret"
    assert notice() == f"made the course secret {made}: hidden inputs derive from it; keep it, and keep it private"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600 and len(made.read_text().strip()) == 64
    assert notice() == "", "made once"
    elsewhere = tmp_path / "elsewhere" / "secret"
    env[SECRET_ENV] = str(elsewhere)
    assert str(elsewhere) in notice() and elsewhere.is_file()
    given_path = tmp_path / "given"
    given_path.write_text("cd" * 32)
    assert notice("--secret", str(given_path)) == "" and given_path.read_text() == "cd" * 32
    bad = tmp_path / "bad"
    bad.write_text("too short")
    done = subprocess.run([CONVGRADE, "grade", str(submitted), "--out", str(tmp_path / "out"), "--root", str(tiny_course), "--secret", str(bad)],
                          capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert done.returncode == 2 and "is not a course secret" in done.stderr


def test_a_self_check_has_no_secret(tmp_path):
    """`convgrade check --path solutions` runs the visible checks, reads no secret and makes none."""
    env = {**os.environ, SECRET_ENV: str(tmp_path / "secret"), "COLUMNS": "200"}
    done = subprocess.run([CONVGRADE, "check", "--path", str(ROOT / "solutions" / ASSIGNMENT)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (tmp_path / "secret").exists()

"""The static scan of a submission's source: each tampering pattern flagged, honest code never, the flags where instructors look."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading.review import PATTERNS, review_folder, review_source, summary

ROOT = Path(__file__).resolve().parents[1]
CONVGRADE = str(Path(sys.executable).parent / "convgrade")


@pytest.mark.parametrize(
    "source, pattern",
    [
        ("import threading\n", "threading"),
        ("import threading as t\n", "threading"),
        ("from _thread import start_new_thread\n", "_thread"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "concurrent.futures"),
        ("import sys\nsys.setprofile(None)\n", "sys.setprofile"),
        ("import sys as s\ns.settrace(None)\n", "sys.settrace"),
        ("from sys import setprofile\nsetprofile(None)\n", "sys.setprofile"),
        ("from torch.utils._python_dispatch import TorchDispatchMode\n", "torch.utils._python_dispatch"),
        ("import torch\nmode = torch.utils._python_dispatch._get_current_dispatch_mode()\n", "torch.utils._python_dispatch"),
        ("import torch\ntorch._C._dispatch_tls_set_dispatch_key_excluded(1, True)\n", "torch._C"),
        ("import torch\nlib = torch.library.Library('aten', 'IMPL')\n", "torch.library"),
        ("class T:\n    def __torch_function__(self, *args):\n        return 1\n", "__torch_function__"),
        ("import ctypes\n", "ctypes"),
        ("import __main__\n", "__main__"),
        ("import sys\nworker = sys.modules['__main__']\n", "'__main__' in a string"),
        ("import autograder.sandbox.monitor\n", "autograder"),
        ("from autograder.sandbox import call\n", "autograder"),
        ("import gc\nobjects = gc.get_objects()\n", "gc.get_objects"),
        ("from gc import get_referrers as refs\n", "gc.get_referrers"),
        ("import importlib\nimportlib.reload(importlib)\n", "importlib"),
        ("import os\nos.fork()\n", "os.fork"),
        ("import subprocess\n", "subprocess"),
        ("import multiprocessing\n", "multiprocessing"),
        ("import signal\nsignal.alarm(0)\n", "signal"),
        ("import os\nos._exit(0)\n", "os._exit"),
        ("import sys\nsys.modules['torch'] = None\n", "sys.modules"),
        ("import sys\nsys.modules.pop('autograder_monitor')\n", "sys.modules"),
        ("import builtins\nbuiltins.print = len\n", "builtins"),
        ("__builtins__['len'] = max\n", "__builtins__"),
        ("import torch.nn.functional as F\nF.pad = lambda *a: a\n", "torch.nn.functional.pad (assigned)"),
        ("import torch\nsetattr(torch.Tensor, 'equal', lambda *a: True)\n", "torch.Tensor (assigned)"),
        ("import sys\nf = sys._getframe(1)\n", "sys._getframe"),
        ("def f(frame):\n    return frame.f_back.f_globals\n", "f_back"),
        ("x = ().__class__.__subclasses__()\n", "__subclasses__"),
        ("import sys\ngetattr(sys, 'set' 'profile')(None)\n", "'setprofile' in a string"),
        ("exec('import threading')\n", "exec"),
        ("import os\nsecret = os.environ.get('CONVGRADE')\n", "os.environ"),
        ("import glob\nfound = glob.glob('/work/**')\n", "glob"),
        ("text = open('/etc/passwd').read()\n", "open"),
        ("import socket\n", "socket"),
        ("import atexit\n", "atexit"),
    ],
)
def test_each_pattern_is_flagged_with_its_line_and_reason(source, pattern):
    flags = review_source("import torch\n\n" + source, "padding.py")
    assert pattern in [flag.pattern for flag in flags], flags
    flag = next(flag for flag in flags if flag.pattern == pattern)
    assert flag.line >= 3 and flag.file == "padding.py" and flag.why
    assert flag.why in PATTERNS.values()


def test_each_pattern_is_flagged_once_at_its_first_line():
    flags = review_source("import threading\nthreading.Thread(target=print).start()\nthreading.Thread(target=print)\n", "m.py")
    assert [(flag.pattern, flag.line) for flag in flags] == [("threading", 1)]


def test_source_that_does_not_parse_is_searched_as_text():
    source = 'import ctypes\nimport sys\nsys.setprofile(None)\nx = "a signal is convolved"\nif __name__ == "__main__":\n    pass\ndef broken(:\n'
    assert [(flag.pattern, flag.line) for flag in review_source(source, "m.py")] == [("ctypes", 1), ("sys.setprofile", 3)]
    assert [flag.pattern for flag in review_source("import threading\x00\n", "m.py")] == ["threading"], "null bytes: no parse"


def test_docstrings_comments_the_main_guard_and_library_names_are_not_flagged():
    source = '''"""Uses no threading, no ctypes and not the autograder: setprofile is for others."""
import torch
import torch.nn.functional as F


def pad(x):
    """Pads like F.pad; never calls sys.setprofile."""
    # threading would be cheating
    y = torch.compile  # a name, not a call of compile()
    return torch.nn.functional.pad(x, (1, 1))


if __name__ == "__main__":
    print(pad(torch.zeros(2)))
'''
    assert review_source(source, "m.py") == []


def _honest_modules() -> list[Path]:
    """Every module of the honest corpus and of the bundled class but mallory (hostile on purpose)."""
    corpus = [path for path in (ROOT / "tests" / "corpus").rglob("*.py") if path.name != "check_corpus.py"]
    bundled = [path for path in (ROOT / "examples" / "submitted").rglob("*.py") if "mallory" not in path.parts]
    references = [path for folder in ("solutions", "assignments") for path in (ROOT / folder).glob("*/*.py")]
    return sorted(corpus + bundled + references)


def test_no_honest_submission_is_flagged():
    modules = _honest_modules()
    assert len(modules) > 100, "the corpus, the bundled class, the references and the stubs"
    flagged = {str(path.relative_to(ROOT)): summary(review_source(path.read_text(), path.name)) for path in modules}
    assert {path: flags for path, flags in flagged.items() if flags} == {}


def test_mallory_is_flagged_in_every_assignment_she_tampers_with():
    bundled = ROOT / "examples" / "submitted" / "mallory"
    modules = {"01_convolution": "convolution", "03_padding": "padding", "04_channels": "channels", "06_stride": "stride", "07_kaiming_init": "kaiming"}
    patterns = {name: [flag.pattern for flag in review_folder(bundled / name, module)] for name, module in modules.items()}
    assert "open" in patterns["01_convolution"] and "torch.allclose (assigned)" in patterns["03_padding"]
    assert "os._exit" in patterns["04_channels"] and "os.fork" in patterns["06_stride"] and "ctypes" in patterns["07_kaiming_init"]


def test_helpers_are_scanned_and_links_are_not_read(tmp_path):
    (tmp_path / "tiny.py").write_text("from helpers import double\n")
    (tmp_path / "helpers.py").write_text("import ctypes\n\ndef double(x):\n    return 2 * x\n")
    (tmp_path / "planted.py").symlink_to(ROOT / "autograder" / "grading" / "review.py")
    os.mkfifo(tmp_path / "pipe.py")
    flags = review_folder(tmp_path, "tiny")
    assert [(flag.pattern, flag.file, flag.line) for flag in flags] == [("ctypes", "helpers.py", 1)]


def test_a_flag_is_in_results_json_grades_csv_and_the_class_page_and_changes_no_score(tiny_course, tmp_path):
    """ann hands in the reference; tess the reference plus an unused thread and a profiler hook: the same score, flagged."""
    reference = (tiny_course / "source" / "01_tiny" / "tiny.py").read_text()
    submitted = tmp_path / "submitted"
    tampered = "import sys\nimport threading\n\n" + reference + "\nsys.setprofile(None)\n"
    for student, text in (("ann", reference), ("tess", tampered)):
        (submitted / student / "01_tiny").mkdir(parents=True)
        (submitted / student / "01_tiny" / "tiny.py").write_text(text)
    out = tmp_path / "out"
    command = [CONVGRADE, "grade", str(submitted), "--out", str(out), "--processes", "1", "--root", str(tiny_course), "--class-page"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["ann"]["score"] == rows["tess"]["score"] == "20.0", "the scan flags, it never scores"
    assert rows["ann"]["review"] == "" and rows["tess"]["review"] == "threading, sys.setprofile"
    columns = list(rows["tess"])
    assert columns.index("review") == columns.index("handed_in") + 1, "appended: the columns before it keep their order"
    review = json.loads((out / "tess" / "01_tiny" / "results.json").read_text())["extra_data"]["review"]
    assert [(flag["pattern"], flag["line"], flag["file"]) for flag in review] == [("threading", 2, "tiny.py"), ("sys.setprofile", len(tampered.splitlines()), "tiny.py")]
    assert all(flag["why"] for flag in review)
    assert json.loads((out / "ann" / "01_tiny" / "results.json").read_text())["extra_data"]["review"] == []
    attention = (out / "class.html").read_text().split('id="attention"')[1].split("</table>")[0]
    assert "<td>tess</td>" in attention and "flagged for review: threading, sys.setprofile" in attention
    assert "<td>ann</td>" not in attention
    assert "flagged for review: tess (01)" in " ".join(done.stdout.split()), "the class table's notes"
    assert "threading" not in (out / "tess" / "01_tiny" / "feedback.md").read_text(), "a flag is for instructors"

"""The project's own test suite: a small course for the grader's bookkeeping, and a line after the run for what a test measured."""

from __future__ import annotations

import pytest

_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SUMMARIES.extend(value for key, value in report.user_properties if key == "convgrade_corpus_summary" and report.when == "call")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    for line in dict.fromkeys(_SUMMARIES):
        terminalreporter.write_line(line)


TINY_TESTS = '''
import pytest
import torch

from autograder.compare import assert_same, error_cases


class TestDouble:
    @pytest.mark.points(9)
    def test_doubles(self, student):
        """doubles every value"""
        x = torch.arange(4.0)
        assert_same(student.double(x), 2 * x)

    @pytest.mark.points(2)
    @pytest.mark.category("errors")
    def test_bad_arguments(self, student):
        """a list raises TypeError naming `x`"""
        x = torch.arange(4.0)
        with error_cases(valid=lambda: student.double(x), expected=2 * x) as case:
            with case(TypeError, mentions="x", case="a list"):
                student.double([1.0])
'''

TINY_HIDDEN = '''
import pytest
import torch

from autograder.compare import assert_same


class TestDouble:
    @pytest.mark.points(9)
    def test_doubles_float64(self, student):
        """doubles float64 values"""
        x = torch.arange(3.0, dtype=torch.float64)
        assert_same(student.double(x), 2 * x)
'''

TINY_REFERENCE = "import torch\n\n\ndef double(x):\n    if not isinstance(x, torch.Tensor):\n        raise TypeError('x must be a tensor')\n    return 2 * x\n"


@pytest.fixture
def tiny_course(tmp_path):
    """A course of one small assignment, ``source/01_tiny`` (module ``tiny``, 20 points in three checks), for the grader's bookkeeping."""
    folder = tmp_path / "course" / "source" / "01_tiny"
    (folder / "tests").mkdir(parents=True)
    (folder / "hidden_tests").mkdir()
    (folder / "assignment.toml").write_text('title = "Tiny"\nmodule = "tiny"\n\n[rubric]\npoints = 20\n')
    (folder / "tiny.py").write_text(TINY_REFERENCE)
    (folder / "tests" / "test_tiny.py").write_text(TINY_TESTS)
    (folder / "hidden_tests" / "test_tiny_hidden.py").write_text(TINY_HIDDEN)
    return folder.parent.parent


@pytest.fixture(scope="session")
def sandbox():
    """One bubblewrap sandbox for the tests that run student code in it (`make test` installs bubblewrap)."""
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox.launch import bubblewrap_available

    assert bubblewrap_available(), "bubblewrap (bwrap) is needed: `make test` installs it (apt-get install bubblewrap)"
    started = Sandbox(bubblewrap=True)
    yield started
    started.stop()

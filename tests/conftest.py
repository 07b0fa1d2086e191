"""The project's own test suite: a line after the run for what a test measured (the mutant gallery's fractions)."""

from __future__ import annotations

import pytest

_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SUMMARIES.extend(value for key, value in report.user_properties if key == "convgrade_corpus_summary" and report.when == "call")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    for line in dict.fromkeys(_SUMMARIES):
        terminalreporter.write_line(line)

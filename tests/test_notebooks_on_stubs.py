"""Notebooks that work before the code does: every released notebook runs top to bottom on the stubs.

A cell that shows a student's function at work wraps it in ``until_implemented()``
(autograder/notebook.py): on a stub it prints "implement `pad2d` to see this
figure" and draws nothing, and the notebook goes on; a student's real bug keeps
its traceback. The released notebooks are run as a student first opens them,
beside the released stubs, in a copy of each assignment folder.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.notebook import until_implemented
from tests.test_notebooks import KERNEL, NOTEBOOKS, ROOT, kernel_environment

IMPLEMENT = re.compile(r"^implement `(\w+)` to see (this|these) \w+$", re.MULTILINE)  # this figure, this table, these results...


def _module(folder: Path, name: str, source: str):  # noqa: ANN202 - a module
    """``source`` written to ``folder/name.py`` and imported from there, as a student's file is."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"stubs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the helper, in this process ----------------------------------------------------------


@pytest.fixture
def pyplot():  # noqa: ANN201 - matplotlib.pyplot, drawing nowhere
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def test_a_stub_stops_the_block_names_itself_and_leaves_no_figure(tmp_path, pyplot, capsys):
    padding = _module(tmp_path, "padding", (ROOT / "assignments" / "03_padding" / "padding.py").read_text())  # the released stubs
    kept = pyplot.figure()  # a figure from before the block stays
    after = []
    with until_implemented():
        fig, axes = pyplot.subplots(1, 4)
        axes[0].imshow([[0.0, 1.0]])
        padding.pad2d(padding.torch.zeros(1, 4, 4), 2, mode="reflect")
    after.append("the cell goes on")
    assert capsys.readouterr().out == "implement `pad2d` to see this figure\n"
    assert pyplot.get_fignums() == [kept.number] and after == ["the cell goes on"]
    with until_implemented("this table"):
        padding.same_padding(3)
    assert capsys.readouterr().out == "implement `same_padding` to see this table\n"


def test_a_finished_function_that_calls_a_stub_names_the_stub(tmp_path, capsys):
    stubs = _module(
        tmp_path, "padding_half_done",
        '''
        def pad2d(input, padding, mode="zeros", value=0.0):
            # YOUR CODE HERE
            raise NotImplementedError("pad2d")

        def conv2d_same(input, weight, bias=None, mode="zeros"):
            return pad2d(input, 1, mode=mode)
        ''',
    )  # fmt: skip
    with until_implemented():
        stubs.conv2d_same([[1.0]], [[1.0]])
    assert capsys.readouterr().out == "implement `pad2d` to see this figure\n"


@pytest.mark.parametrize(
    "body, error",
    [
        ("return input[len(input)]", IndexError),
        ('raise NotImplementedError("circular mode: not yet")', NotImplementedError),  # the student's own words
        ('return _rows(input)\n\ndef _rows(input):\n    raise NotImplementedError("pad2d")', NotImplementedError),  # not pad2d's stub
        ("import torch\n    return torch.zeros(2, 3) @ torch.zeros(2, 3)", RuntimeError),
    ],
    ids=["index-error", "own-not-implemented", "a-helper-raises-the-name", "shape-bug"],
)
def test_a_bug_in_a_students_function_keeps_its_traceback(tmp_path, pyplot, capsys, body, error):
    buggy = _module(tmp_path, "padding_buggy", f'def pad2d(input, padding=1, mode="zeros", value=0.0):\n    {body}\n')
    with pytest.raises(error) as raised, until_implemented():
        pyplot.subplots()
        buggy.pad2d([1.0, 2.0])
    frames = [frame.name for frame in raised.traceback]
    assert "pad2d" in frames, "the student's frame is in the traceback"
    assert capsys.readouterr().out == ""


# -- the released notebooks, on the stubs -------------------------------------------------


def _fresh_start(folder: Path, module: str) -> str:
    """A cell giving a reused kernel what a new one has: an empty namespace, the notebook's folder, no student module."""
    return (
        "%reset -f\n"
        f"__import__('os').chdir({str(folder)!r})\n"
        f"__import__('sys').path.insert(0, {str(folder)!r})\n"
        f"__import__('sys').modules.pop({module!r}, None)\n"
    )


async def _run_in_one_kernel(folders: list[Path], modules: list[str]) -> dict[str, object]:
    """Each folder's notebook, in turn, in one kernel (a fresh start between them): the kernel's imports are paid once."""
    from nbclient import NotebookClient

    results: dict[str, object] = {}
    client = NotebookClient(
        new_notebook(), kernel_name=KERNEL, timeout=600, allow_errors=True, resources={"metadata": {"path": str(folders[0])}}
    )
    try:
        async with client.async_setup_kernel():
            for folder, module in zip(folders, modules):
                client.nb = new_notebook(cells=[new_code_cell(_fresh_start(folder, module))])
                await client.async_execute_cell(client.nb.cells[0], 0)
                assert not client.nb.cells[0].outputs, client.nb.cells[0].outputs
                client.nb = notebook = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
                client.reset_execution_trackers()
                for index, cell in enumerate(notebook.cells):
                    await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                results[folder.name] = notebook
    except Exception as exc:  # noqa: BLE001 - reported by each notebook's own test
        results.update({folder.name: exc for folder in folders if folder.name not in results})
    return results


@pytest.fixture(scope="module")
def on_stubs(tmp_path_factory) -> dict[str, object]:
    """Every released notebook run top to bottom beside its stubs (a copy of assignments/<a>), two kernels (one per core)."""
    scratch = tmp_path_factory.mktemp("stub-kernels")
    folders = [Path(shutil.copytree(ROOT / "assignments" / a.name, scratch / a.name)) for a in NOTEBOOKS]
    modules = [a.module for a in NOTEBOOKS]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**kernel_environment(scratch), "OMP_NUM_THREADS": "1"}.items():
            patch.setenv(key, value)
        patch.delenv("JUPYTER_PATH", raising=False)

        async def both() -> list[dict[str, object]]:
            return await asyncio.gather(*(_run_in_one_kernel(folders[half::2], modules[half::2]) for half in (0, 1)))

        first, second = asyncio.run(both())
    return {**first, **second}


def _texts(cell, name: str) -> str:  # noqa: ANN001 - a notebook cell
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)


@pytest.mark.parametrize("assignment", NOTEBOOKS, ids=lambda a: a.name)
def test_a_released_notebook_runs_on_the_stubs_saying_what_to_implement(assignment, on_stubs):
    from nbgrader.utils import determine_grade, is_grade

    notebook = on_stubs[assignment.name]
    assert not isinstance(notebook, Exception), f"{assignment.name}.ipynb did not run: {notebook!r}"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [
        f"cell {cell.id}: {output.get('ename', output.get('name'))}: {output.get('evalue', output.get('text', ''))[:300]}"
        for cell in code
        for output in cell.outputs if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")
    ]  # fmt: skip
    assert errors == []

    waiting = [cell for cell in code if "with until_implemented(" in cell.source]
    assert len(waiting) >= 2, "the figure cells use until_implemented"
    for cell in waiting:
        said = IMPLEMENT.findall(_texts(cell, "stdout"))
        assert len(said) == 1, f"cell {cell.id} says once what to implement: {_texts(cell, 'stdout')!r}"
        assert re.search(rf"\b{said[0][0]}\(", cell.source), f"cell {cell.id} names a function it calls: {said}"
        assert not [o for o in cell.outputs if o.output_type == "display_data"], f"cell {cell.id} drew a figure on a stub"

    for cell in (cell for cell in code if is_grade(cell)):
        earned, most = determine_grade(cell)
        if "check(" in cell.source:  # a visible check: its table and 0 points, nothing on stderr
            assert "not implemented yet" in _texts(cell, "stdout") and earned == 0 < most, cell.id
        else:  # a hidden check's cell: its call removed by the release, a comment left
            assert cell.outputs == [], cell.id

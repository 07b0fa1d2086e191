"""The library calls an exercise forbids: rules by key, and how a failure names what was caught.

Each assignment lists rule keys in its ``assignment.toml`` (``forbidden =
["convolution"]``). A rule names the family of dispatcher operators behind the forbidden calls
(every route to a convolution ends in one of them) and the Python functions
that never reach a distinctive one (``numpy.pad``, every ``torch.nn.init``
function). In the grading sandbox they refuse to run at all
(``autograder.sandbox.refuse``); in a student's self-check
``autograder.sandbox.monitor`` watches for them while a function runs. Nothing here imports torch:
the grader's parent process reads assignments without it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One family of forbidden calls, and how a failure message names it.

    ``operators`` is a regular expression over the dispatcher's operator names
    (``aten::convolution_backward``, ``quantized::conv2d``), matched whole: a
    family, so that every route to the same computation is named at once,
    forward and backward, public and private, float and quantized. ``python``
    names Python functions, and C functions reached from Python (numpy's
    ``correlate``), that never reach a distinctive operator.
    """

    shown_as: str
    operators: str = ""
    python: tuple[str, ...] = ()

    def forbids(self, operator: str) -> bool:
        """Whether the dispatcher operator ``ns::name`` (overload name left off) belongs to this family."""
        return bool(self.operators) and _pattern(self.operators).fullmatch(operator) is not None


@functools.cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


# every convolution the dispatcher knows, in every namespace that computes one ("convert" is not one)
_CONVOLUTION = r"(aten|quantized|_quantized|mkldnn|mkldnn_prepacked|onednn)::\w*conv(?!ert)\w*"

RULES: dict[str, Rule] = {
    "convolution": Rule(
        shown_as="F.conv2d",
        operators=_CONVOLUTION,
        python=(
            "numpy.convolve",
            "numpy.correlate",
            "numpy._core.multiarray.correlate",  # the C functions under both: reached without the wrappers
            "numpy._core.multiarray.correlate2",
            "scipy.signal.convolve2d",
            "scipy.signal.correlate2d",
            "scipy.signal.convolve",
            "scipy.signal.correlate",
            "scipy.ndimage.convolve",
            "scipy.ndimage.correlate",
            *(f"torch.nn.modules.conv.{module}.__init__" for module in ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d")),
        ),
    ),
    "im2col": Rule(
        shown_as="F.unfold",
        operators=r"aten::(im2col|col2im)",
        python=("torch.nn.functional.unfold", "torch.nn.functional.fold", "torch.nn.modules.fold.Unfold.__init__", "torch.nn.modules.fold.Fold.__init__"),
    ),
    "padding": Rule(
        shown_as="F.pad",
        operators=r"aten::(constant_pad_nd|pad|_pad_enum|_pad_circular|(reflection|replication)_pad[123]d(_backward)?)",
        python=(
            "torch.nn.functional.pad", "numpy.pad",
            *(f"torch.nn.modules.padding.{module}.__init__" for module in (
                "ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d", "CircularPad2d",
            )),
        ),  # fmt: skip
    ),
    "nn.init": Rule(
        shown_as="torch.nn.init",
        python=("torch.nn.init.*", "torch.nn.modules.conv._ConvNd.reset_parameters"),
    ),
}


@dataclass(frozen=True)
class Violation:
    """A forbidden call seen while student code ran."""

    shown_as: str  # how the rule names it to students: "F.conv2d"
    caught: str  # what was actually called: "aten.convolution"

    def message(self) -> str:
        """The sentence a student reads, naming what the student wrote where it is known (``nn.ZeroPad2d``, not ``F.pad``)."""
        if self.caught == self.shown_as:
            return f"`{self.shown_as}` is not allowed in this exercise: implement it yourself"
        if self.caught.startswith("aten."):  # an operator: the student's own words are not known
            return f"`{self.shown_as}` is not allowed in this exercise: implement it yourself (caught `{self.caught}`)"
        return f"`{self.caught}` is not allowed in this exercise (it does the work of `{self.shown_as}`): implement it yourself"


def short_name(dotted: str) -> str:
    """``torch.nn.functional.pad`` -> ``F.pad``, ``torch.nn.modules.padding.ZeroPad2d.__init__`` -> ``nn.ZeroPad2d``."""
    name = dotted.removesuffix(".__init__")
    for long, short in (("torch.nn.functional.", "F."), ("torch.nn.modules.conv.", "nn."), ("torch.nn.modules.padding.", "nn."),
                        ("torch.nn.modules.fold.", "nn.")):
        name = name.replace(long, short)
    return name

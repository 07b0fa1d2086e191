"""The library calls an exercise forbids: rules by key, and how a failure names what was caught.

Each assignment lists rule keys in its ``assignment.toml`` (``forbidden =
["convolution"]``). A rule names the ATen operators behind the forbidden calls
(every route to a convolution ends in the same operator) and the Python
functions that never reach a distinctive one (``F.pad(mode="circular")``,
``numpy.pad``, every ``torch.nn.init`` function). ``autograder.sandbox.monitor``
watches for them while a student's function runs. Nothing here imports torch:
the grader's parent process reads assignments without it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One family of forbidden calls, and how a failure message names it."""

    shown_as: str
    aten: frozenset[str] = frozenset()
    python: tuple[str, ...] = ()


_CONVOLUTION_OPS = frozenset(
    {
        "convolution", "_convolution", "_convolution_mode", "conv1d", "conv2d", "conv3d",
        "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
        "convolution_overrideable", "_conv_depthwise2d", "conv_depthwise3d",
        "_slow_conv2d_forward", "thnn_conv2d", "slow_conv3d", "slow_conv3d_forward",
        "slow_conv_dilated2d", "slow_conv_dilated3d", "slow_conv_transpose2d",
        "slow_conv_transpose3d", "mkldnn_convolution", "_nnpack_spatial_convolution",
        "cudnn_convolution", "miopen_convolution", "_mps_convolution",
    }
)  # fmt: skip

RULES: dict[str, Rule] = {
    "convolution": Rule(
        shown_as="F.conv2d",
        aten=_CONVOLUTION_OPS,
        python=(
            "numpy.convolve",
            "numpy.correlate",
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
        aten=frozenset({"im2col", "col2im"}),
        python=("torch.nn.functional.unfold", "torch.nn.functional.fold", "torch.nn.modules.fold.Unfold.__init__", "torch.nn.modules.fold.Fold.__init__"),
    ),
    "padding": Rule(
        shown_as="F.pad",
        aten=frozenset(
            {
                "constant_pad_nd", "_pad_circular", "_pad_enum", "pad",
                "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
                "replication_pad1d", "replication_pad2d", "replication_pad3d",
            }
        ),  # fmt: skip
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

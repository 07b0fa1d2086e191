"""Check every corpus entry against PyTorch: correct ones must pass, each mistake must be caught.

Run: .venv/bin/python tests/corpus/check_corpus.py [--verbose] [--only SUBSTRING]

Each module listed in corpus.toml is imported by path and called on a few cases per
function (float32 and float64, a weight of the other dtype, ints and pairs), and every
result is compared with PyTorch's own (F.conv2d, F.unfold, F.pad, nn.Conv2d with
padding="same", torch.nn.init with the same generator, ...). A correct entry passes when
every case passes; a mistake entry is detected when at least one case of the functions
it names fails, and isolated when every case of its other functions passes.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # importing the corpus leaves no __pycache__ beside it
ROOT = Path(__file__).resolve().parent
F32, F64 = torch.float32, torch.float64
OTHER = {F32: F64, F64: F32}
BT601 = torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}

# A judge returns None when the result is right, else a one-line reason.
Judge = Callable[[object], "str | None"]


@dataclass
class Case:
    """One call of one function, and how to judge what it returns."""

    function: str
    label: str
    call: Callable[[ModuleType], object]
    judge: Judge


@dataclass
class Entry:
    """One table of corpus.toml."""

    style: str
    assignment: str
    path: str
    expect: str
    mistake: str = ""
    functions: list[str] = field(default_factory=list)
    base: str = ""
    description: str = ""
    named: str = ""  # the short name a grader's failure must give for this mistake (tests/test_corpus.py)

    @property
    def name(self) -> str:
        """How the table names the entry."""
        return self.mistake if self.expect == "mistake" else self.style


@dataclass
class Outcome:
    """What running every case of an assignment on one entry gave."""

    failures: dict[str, list[str]] = field(default_factory=dict)  # function -> reasons
    cases: int = 0
    not_bitwise: set[str] = field(default_factory=set)  # init functions that matched only within tolerance


# ---------------------------------------------------------------- comparisons


def randn(*shape: int, dtype: torch.dtype = F32, seed: int = 0) -> torch.Tensor:
    """A reproducible standard-normal tensor."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(dtype)


def generator(seed: int) -> torch.Generator:
    """A fresh generator in a known state."""
    return torch.Generator().manual_seed(seed)


def same(expected: object, rtol: float | None = None, atol: float | None = None, bitwise: bool = False) -> Judge:
    """A judge that compares with expected: tensors by shape, dtype and values, numbers and tuples exactly."""

    def judge(got: object) -> str | None:
        return difference(got, expected, rtol, atol, bitwise)

    return judge


def difference(got: object, expected: object, rtol: float | None, atol: float | None, bitwise: bool) -> str | None:
    """Why got is not expected, or None."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"returned {type(got).__name__}, expected a tensor"
        if got.shape != expected.shape:
            return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.dtype != expected.dtype:
            return f"dtype {got.dtype}, expected {expected.dtype}"
        if bitwise:
            return None if torch.equal(got, expected) else "values differ (bit for bit)"
        try:
            torch.testing.assert_close(got, expected, rtol=rtol, atol=atol, check_stride=False)
        except AssertionError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            return "values differ: " + "; ".join(lines[1:3])
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"returned {got!r}, expected {tuple(expected)!r}"
        for g, e in zip(got, expected):
            if difference(g, e, rtol, atol, bitwise) is not None:
                return f"returned {tuple(got)!r}, expected {tuple(expected)!r}"
        return None
    if isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int) or got != expected:
            return f"returned {got!r}, expected the int {expected}"
        return None
    if isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"returned {type(got).__name__}, expected a float"
        if not math.isclose(got, expected, rel_tol=rtol if rtol is not None else 1e-9, abs_tol=atol or 0.0):
            return f"returned {got!r}, expected {expected!r}"
        return None
    raise TypeError(f"cannot compare with {type(expected).__name__}")


def dtype_cases() -> list[tuple[torch.dtype, torch.dtype]]:
    """(input dtype, weight dtype): both same-dtype cases and both mixed ones."""
    return [(F32, F32), (F64, F64), (F32, F64), (F64, F32)]


# ---------------------------------------------------------------- 01_convolution


def torch_conv_single(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """F.conv2d of one (H, W) image by one (kh, kw) kernel."""
    return F.conv2d(image[None, None], kernel.to(image.dtype)[None, None])[0, 0]


def edge_judge(top: bool) -> Judge:
    """Any (3, 3) kernel that behaves as a top (or left) edge detector passes."""

    def judge(kernel: object) -> str | None:
        if not isinstance(kernel, torch.Tensor) or tuple(kernel.shape) != (3, 3) or not kernel.is_floating_point():
            return f"expected a (3, 3) float tensor, got {kernel!r:.80}"
        k = kernel.to(F64)
        edge = torch.zeros(8, 8, dtype=F64)
        edge[4:] = 1.0  # dark above, bright below
        along, across = (edge, edge.T) if top else (edge.T, edge)
        out = torch_conv_single(along, k)
        lines = out if top else out.T
        strength = lines[2:4].max(dim=0).values.min().item()
        away = torch.cat([lines[:2], lines[4:]]).abs().max().item()
        if not strength > 0.25 * k.abs().sum().item():
            return f"weak response along the edge: {strength:.3g}"
        if not strength > 2 * away:
            return f"responds away from the edge: {away:.3g}"
        if torch_conv_single(across, k).abs().max().item() > 1e-6:
            return "responds to the orthogonal edge"
        if torch_conv_single(torch.full((8, 8), 3.0, dtype=F64), k).abs().max().item() > 1e-6:
            return "responds to a constant image"
        return None

    return judge


def cases_01() -> list[Case]:
    """conv2d_single, output_size and the edge kernels."""
    cases = []
    image = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    kernel = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    cases.append(Case("conv2d_single", "by hand", lambda m, a=(image, kernel): m.conv2d_single(*a), same(torch.tensor([[37.0, 47.0], [67.0, 77.0]]))))
    for i, ((dt, wdt), (H, W, kh, kw)) in enumerate(zip(dtype_cases(), [(5, 7, 2, 3), (6, 6, 3, 3), (4, 9, 1, 4), (7, 5, 4, 2)])):
        img, k = randn(H, W, dtype=dt, seed=i), randn(kh, kw, dtype=wdt, seed=10 + i)
        cases.append(Case("conv2d_single", f"{H}x{W} by {kh}x{kw} {dt}/{wdt}", lambda m, img=img, k=k: m.conv2d_single(img, k), same(torch_conv_single(img, k))))
    img_t, k = randn(7, 5, seed=5).T, randn(2, 3, seed=6)
    cases.append(Case("conv2d_single", "non-contiguous image", lambda m, a=(img_t, k): m.conv2d_single(*a), same(torch_conv_single(img_t, k))))

    for size, ksize, padding, stride, dilation in [(28, 3, 0, 1, 1), (28, 3, 1, 2, 1), (7, 3, 0, 1, 2), (32, 5, 2, 2, 1), (10, 4, 0, 3, 1), (17, 3, 3, 4, 2), (5, 5, 0, 1, 1)]:
        out = F.conv2d(torch.zeros(1, 1, size, 1), torch.zeros(1, 1, ksize, 1), stride=(stride, 1), padding=(padding, 0), dilation=(dilation, 1))
        args = (size, ksize, padding, stride, dilation)
        cases.append(Case("output_size", f"{args}", lambda m, args=args: m.output_size(*args), same(out.shape[2])))
    cases.append(Case("output_size", "defaults", lambda m: m.output_size(28, 3), same(26)))

    cases.append(Case("top_edge_kernel", "edge detector", lambda m: m.top_edge_kernel(), edge_judge(top=True)))
    cases.append(Case("left_edge_kernel", "edge detector", lambda m: m.left_edge_kernel(), edge_judge(top=False)))
    return cases


# ---------------------------------------------------------------- 02_conv_as_matmul


def matrix_of(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The convolution matrix, column k being the response to the image with a 1 at pixel k."""
    h, w = shape
    units = torch.eye(h * w, dtype=kernel.dtype).reshape(h * w, 1, h, w)
    return F.conv2d(units, kernel[None, None]).flatten(1).T.contiguous()


def sharing_judge(kernel: torch.Tensor, Ho: int, Wo: int) -> Judge:
    """Each weight appears Ho*Wo times and every other entry is exactly 0."""

    def judge(m: object) -> str | None:
        if not isinstance(m, torch.Tensor):
            return f"returned {type(m).__name__}"
        nonzero = int((m != 0).sum())
        if nonzero != Ho * Wo * kernel.numel():
            return f"{nonzero} non-zero entries, expected {Ho * Wo * kernel.numel()}"
        for weight in kernel.flatten().tolist():
            if int((m == weight).sum()) != Ho * Wo:
                return f"the weight {weight:g} appears {int((m == weight).sum())} times, expected {Ho * Wo}"
        return None

    return judge


def cases_02() -> list[Case]:
    """conv_matrix, conv2d_matmul, im2col and conv2d_im2col."""
    cases = []
    for i, (dt, (H, W, kh, kw), make_shape) in enumerate(
        [(F32, (3, 3, 2, 2), tuple), (F64, (4, 5, 2, 3), list), (F32, (5, 4, 3, 1), torch.Size), (F64, (6, 6, 3, 3), tuple)]
    ):
        k = randn(kh, kw, dtype=dt, seed=20 + i)
        shape = make_shape((H, W))
        cases.append(Case("conv_matrix", f"{H}x{W} by {kh}x{kw} {dt} ({type(shape).__name__})", lambda m, k=k, shape=shape: m.conv_matrix(k, shape), same(matrix_of(k, (H, W)), bitwise=True)))
    distinct = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    cases.append(Case("conv_matrix", "weight sharing, exact zeros", lambda m, k=distinct: m.conv_matrix(k, (4, 5)), sharing_judge(distinct, 3, 3)))

    for i, ((dt, wdt), (H, W, kh, kw)) in enumerate(zip(dtype_cases(), [(6, 5, 3, 2), (3, 3, 2, 2), (5, 7, 1, 3), (4, 4, 4, 4)])):
        img, k = randn(H, W, dtype=dt, seed=30 + i), randn(kh, kw, dtype=wdt, seed=40 + i)
        cases.append(Case("conv2d_matmul", f"{H}x{W} by {kh}x{kw} {dt}/{wdt}", lambda m, img=img, k=k: m.conv2d_matmul(img, k), same(torch_conv_single(img, k))))

    for i, (dt, shape, ks, stride, padding) in enumerate(
        [(F32, (2, 3, 7, 6), 3, 2, 1), (F64, (1, 2, 5, 6), (2, 3), (1, 2), (1, 0)), (F32, (2, 1, 4, 4), 1, 1, 0), (F64, (1, 3, 6, 5), (3, 2), 1, (2, 1))]
    ):
        x = randn(*shape, dtype=dt, seed=50 + i)
        expected = F.unfold(x, ks, stride=stride, padding=padding)
        cases.append(Case("im2col", f"{shape} k={ks} s={stride} p={padding} {dt}", lambda m, x=x, a=(ks, stride, padding): m.im2col(x, *a), same(expected, bitwise=True)))
    x = randn(1, 2, 4, 5, seed=55)
    cases.append(Case("im2col", "defaults", lambda m, x=x: m.im2col(x, 2), same(F.unfold(x, 2), bitwise=True)))

    settings = [({}, True), ({"stride": 2, "padding": 1}, True), ({"stride": (2, 1), "padding": (0, 2)}, False), ({"padding": 2}, False)]
    for i, ((dt, wdt), (kwargs, with_bias)) in enumerate(zip(dtype_cases(), settings)):
        x, w = randn(2, 3, 7, 6, dtype=dt, seed=60 + i), randn(4, 3, 3, 2, dtype=wdt, seed=70 + i)
        b = randn(4, dtype=wdt, seed=80 + i) if with_bias else None
        expected = F.conv2d(x, w.to(dt), None if b is None else b.to(dt), **kwargs)
        cases.append(Case("conv2d_im2col", f"{kwargs} bias={with_bias} {dt}/{wdt}", lambda m, x=x, w=w, b=b, kw=kwargs: m.conv2d_im2col(x, w, b, **kw), same(expected)))
    return cases


# ---------------------------------------------------------------- 03_padding


def torch_pad(x: torch.Tensor, padding: int | tuple[int, ...], mode: str, value: float = 0.0) -> torch.Tensor:
    """F.pad of the last two dimensions in mode (a batch dimension added for the non-constant modes)."""
    pad = (padding,) * 4 if isinstance(padding, int) else padding
    batched = x.reshape(-1, 1, *x.shape[-2:])
    if mode == "zeros":
        padded = F.pad(batched, pad, mode="constant", value=value)
    else:
        padded = F.pad(batched, pad, mode=TORCH_MODE[mode])
    return padded.reshape(*x.shape[:-2], *padded.shape[-2:])


def torch_same(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, mode: str) -> torch.Tensor:
    """nn.Conv2d(padding="same", padding_mode=mode) with the weight and bias given, in x's dtype."""
    conv = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), padding="same", padding_mode=mode, bias=b is not None, dtype=x.dtype)
    with torch.no_grad():
        conv.weight.copy_(w)
        if b is not None:
            conv.bias.copy_(b)
        return conv(x)


def same_padding_of(kernel_size: int | tuple[int, int], dilation: int | tuple[int, int]) -> tuple[int, int, int, int]:
    """The (left, right, top, bottom) padding nn.Conv2d(padding="same") applies."""
    conv = nn.Conv2d(1, 1, kernel_size, padding="same", dilation=dilation, device="meta")
    return tuple(int(p) for p in conv._reversed_padding_repeated_twice)


def cases_03() -> list[Case]:
    """pad2d, same_padding and conv2d_same."""
    cases = []
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    cases.append(Case("pad2d", "reflect by hand", lambda m, x=x: m.pad2d(x, (2, 2, 0, 0), mode="reflect"), same(torch.tensor([[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]]))))
    shapes = [(2, 3, 5, 7), (5, 6), (2, 1, 3, 4, 4)]
    paddings = [(1, 2, 3, 0), 2, (0, 3, 1, 1)]
    for mode in TORCH_MODE:
        for i, (shape, padding) in enumerate(zip(shapes, paddings)):
            dt = (F32, F64)[i % 2]
            x = randn(*shape, dtype=dt, seed=90 + i)
            cases.append(Case("pad2d", f"{mode} {shape} {padding} {dt}", lambda m, x=x, p=padding, mode=mode: m.pad2d(x, p, mode=mode), same(torch_pad(x, padding, mode), bitwise=True)))
    x = randn(3, 4, 5, seed=95)
    cases.append(Case("pad2d", "zeros with value 1.5", lambda m, x=x: m.pad2d(x, (1, 0, 2, 1), value=1.5), same(torch_pad(x, (1, 0, 2, 1), "zeros", 1.5), bitwise=True)))
    cases.append(Case("pad2d", "default mode", lambda m, x=x: m.pad2d(x, 1), same(torch_pad(x, 1, "zeros"), bitwise=True)))

    for ks, dil in [(3, 1), (4, 1), ((3, 5), 1), ((2, 4), 1), (1, 1), (3, 2), ((4, 3), (2, 1)), (2, 3)]:
        cases.append(Case("same_padding", f"kernel {ks} dilation {dil}", lambda m, ks=ks, dil=dil: m.same_padding(ks, dil), same(same_padding_of(ks, dil))))
    cases.append(Case("same_padding", "default dilation", lambda m: m.same_padding(4), same(same_padding_of(4, 1))))

    kernels = [(3, 3), (2, 4), (4, 4), (1, 3), (5, 3)]
    for mode in TORCH_MODE:
        for i, (kh, kw) in enumerate(kernels):
            dt, wdt = dtype_cases()[i % 4]
            x = randn(2, 3, 6, 7, dtype=dt, seed=100 + i)
            w = randn(4, 3, kh, kw, dtype=wdt, seed=110 + i)
            b = randn(4, dtype=wdt, seed=120 + i) if i % 2 == 0 else None
            expected = torch_same(x, w, b, mode)
            cases.append(Case("conv2d_same", f"{mode} {kh}x{kw} bias={b is not None} {dt}/{wdt}", lambda m, x=x, w=w, b=b, mode=mode: m.conv2d_same(x, w, b, mode), same(expected)))
    x, w = randn(1, 2, 5, 5, seed=130), randn(3, 2, 3, 3, seed=131)
    cases.append(Case("conv2d_same", "default mode", lambda m, a=(x, w): m.conv2d_same(*a), same(torch_same(x, w, None, "zeros"))))
    return cases


# ---------------------------------------------------------------- 04_channels


def torch_gray(x: torch.Tensor) -> torch.Tensor:
    """F.conv2d with the BT.601 weight on (..., 3, H, W)."""
    flat = x.reshape(-1, 3, *x.shape[-2:])
    return F.conv2d(flat, BT601.to(x.dtype)).reshape(*x.shape[:-3], 1, *x.shape[-2:])


def green_judge(kernel: object) -> str | None:
    """Green beats white, grey, red and blue of the same channel sum and of the same luminance."""
    if not isinstance(kernel, torch.Tensor) or tuple(kernel.shape) != (3, 3, 3) or not kernel.is_floating_point():
        return f"expected a (3, 3, 3) float tensor, got {kernel!r:.80}"
    k = kernel.to(F64)

    def response(rgb: tuple[float, float, float]) -> float:
        patch = torch.tensor(rgb, dtype=F64).reshape(3, 1, 1).expand(3, 5, 5)
        return F.conv2d(patch[None], k[None])[0, 0, 1, 1].item()

    same_sum = {"green": (0, 0.9, 0), "red": (0.9, 0, 0), "blue": (0, 0, 0.9), "grey": (0.3, 0.3, 0.3), "white": (0.3, 0.3, 0.3)}
    luma = 0.587 * 0.9  # the luminance of the green patch
    same_luma = {"green": (0, 0.9, 0), "red": (luma / 0.299, 0, 0), "blue": (0, 0, min(1.0, luma / 0.114)), "grey": (luma,) * 3, "white": (1.0, 1.0, 1.0)}
    for brightness, colours in (("channel sum", same_sum), ("luminance", same_luma)):
        responses = {name: response(rgb) for name, rgb in colours.items()}
        for name, r in responses.items():
            if name != "green" and not responses["green"] > r + 1e-9:
                return f"green {responses['green']:.3g} not above {name} {r:.3g} (same {brightness})"
    return None


def cases_04() -> list[Case]:
    """grayscale_kernel, to_grayscale, conv2d_multichannel, channel_contributions, green_detector_kernel."""
    cases = [Case("grayscale_kernel", "BT.601 weights", lambda m: m.grayscale_kernel(), same(BT601))]
    rgb = torch.tensor([[[1.0, 0.2]], [[0.5, 0.4]], [[0.0, 1.0]]])
    cases.append(Case("to_grayscale", "two pixels by hand", lambda m, x=rgb: m.to_grayscale(x), same(torch.tensor([[[0.5925, 0.4086]]]))))
    for i, (shape, dt) in enumerate([((3, 4, 5), F32), ((2, 3, 5, 4), F64), ((2, 2, 3, 3, 3), F32), ((3, 6, 2), F64)]):
        x = randn(*shape, dtype=dt, seed=140 + i).sigmoid()
        cases.append(Case("to_grayscale", f"{shape} {dt}", lambda m, x=x: m.to_grayscale(x), same(torch_gray(x))))

    for i, ((dt, wdt), (C, H, W, kh, kw)) in enumerate(zip(dtype_cases(), [(3, 6, 5, 3, 2), (2, 3, 4, 2, 2), (4, 5, 5, 1, 3), (3, 4, 7, 4, 4)])):
        image, kernel = randn(C, H, W, dtype=dt, seed=150 + i), randn(C, kh, kw, dtype=wdt, seed=160 + i)
        total = F.conv2d(image[None], kernel.to(dt)[None])[0, 0]
        parts = F.conv2d(image[None], kernel.to(dt)[:, None], groups=C)[0]
        label = f"({C},{H},{W}) by ({C},{kh},{kw}) {dt}/{wdt}"
        cases.append(Case("conv2d_multichannel", label, lambda m, a=(image, kernel): m.conv2d_multichannel(*a), same(total)))
        cases.append(Case("channel_contributions", label, lambda m, a=(image, kernel): m.channel_contributions(*a), same(parts)))
    cases.append(Case("green_detector_kernel", "green wins", lambda m: m.green_detector_kernel(), green_judge))
    return cases


# ---------------------------------------------------------------- 05_stacked_filters


def copy_judge(kernels: list[torch.Tensor]) -> Judge:
    """torch.stack's result, and writing into it leaves the kernels unchanged."""
    expected = torch.stack(kernels)
    before = [k.clone() for k in kernels]

    def judge(got: object) -> str | None:
        if (reason := difference(got, expected, None, None, bitwise=True)) is not None:
            return reason
        got.add_(1.0)
        if any(not torch.equal(k, b) for k, b in zip(kernels, before)):
            return "the result shares memory with the kernels"
        return None

    return judge


def cases_05() -> list[Case]:
    """stack_kernels, conv2d, two_layer and param_count."""
    cases = []
    for i, (dt, shape) in enumerate([(F32, (3, 3, 3)), (F64, (1, 2, 2)), (F32, (2, 1, 4))]):
        kernels = [randn(*shape, dtype=dt, seed=170 + 10 * i + j) for j in range(4 - i)]
        cases.append(Case("stack_kernels", f"{len(kernels)} x {shape} {dt}", lambda m, ks=kernels: m.stack_kernels(list(ks)), copy_judge(kernels)))

    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.0, 0.0], [0.0, 1.0]]]])
    b = torch.tensor([0.0, 10.0])
    cases.append(Case("conv2d", "by hand", lambda m, a=(x, w, b): m.conv2d(*a), same(torch.tensor([[[[1.0, 2.0], [4.0, 5.0]], [[15.0, 16.0], [18.0, 19.0]]]]))))
    for i, ((dt, wdt), (N, C, H, W, C_out, kh, kw, with_bias)) in enumerate(
        zip(dtype_cases(), [(2, 3, 6, 5, 4, 3, 2, True), (1, 2, 5, 5, 3, 3, 3, False), (2, 1, 4, 6, 2, 1, 1, True), (1, 3, 7, 4, 5, 2, 3, True)])
    ):
        x, w = randn(N, C, H, W, dtype=dt, seed=180 + i), randn(C_out, C, kh, kw, dtype=wdt, seed=190 + i)
        b = randn(C_out, dtype=wdt, seed=200 + i) if with_bias else None
        expected = F.conv2d(x, w.to(dt), None if b is None else b.to(dt))
        cases.append(Case("conv2d", f"({N},{C},{H},{W}) by ({C_out},{C},{kh},{kw}) bias={with_bias} {dt}/{wdt}", lambda m, a=(x, w, b): m.conv2d(*a), same(expected)))

    for i, (dt, wdt) in enumerate(dtype_cases()):
        x = randn(2, 3, 8, 7, dtype=dt, seed=210 + i)
        w1, b1 = randn(4, 3, 3, 3, dtype=wdt, seed=220 + i), randn(4, dtype=wdt, seed=230 + i)
        w2, b2 = randn(2, 4, 2, 3, dtype=wdt, seed=240 + i), randn(2, dtype=wdt, seed=250 + i)
        if i % 2:
            b1 = b2 = None
        expected = F.conv2d(torch.relu(F.conv2d(x, w1.to(dt), None if b1 is None else b1.to(dt))), w2.to(dt), None if b2 is None else b2.to(dt))
        cases.append(Case("two_layer", f"3->4->2 bias={b1 is not None} {dt}/{wdt}", lambda m, a=(x, w1, w2, b1, b2): m.two_layer(*a), same(expected)))

    for c_in, c_out, ks, bias in [(3, 16, 3, True), (1, 8, 5, True), (16, 32, (3, 1), False), (64, 64, 3, True), (2, 3, (2, 4), False)]:
        conv = nn.Conv2d(c_in, c_out, ks, bias=bias, device="meta")
        expected = sum(p.numel() for p in conv.parameters())
        cases.append(Case("param_count", f"{c_in}->{c_out} k={ks} bias={bias}", lambda m, a=(c_in, c_out, ks), bias=bias: m.param_count(*a, bias=bias), same(expected)))
    cases.append(Case("param_count", "default bias", lambda m: m.param_count(3, 16, 3), same(448)))
    return cases


# ---------------------------------------------------------------- 06_stride


def cases_06() -> list[Case]:
    """conv2d, output_shape and activation_memory."""
    cases = []
    settings = [
        {"stride": 2, "padding": 1},
        {"dilation": 2},
        {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)},
        {"stride": 3, "padding": 2, "dilation": 2},
        {"stride": (1, 2), "padding": (2, 0)},
        {},
        {"stride": 2, "dilation": 3, "padding": (1, 3)},
        {"padding": 1, "dilation": (2, 3)},
    ]
    for i, kwargs in enumerate(settings):
        dt, wdt = dtype_cases()[i % 4]
        x, w = randn(2, 3, 9, 8, dtype=dt, seed=260 + i), randn(4, 3, 3, 2 + i % 2, dtype=wdt, seed=270 + i)
        b = randn(4, dtype=wdt, seed=280 + i) if i % 3 != 1 else None
        expected = F.conv2d(x, w.to(dt), None if b is None else b.to(dt), **kwargs)
        cases.append(Case("conv2d", f"{kwargs} bias={b is not None} {dt}/{wdt}", lambda m, a=(x, w, b), kw=kwargs: m.conv2d(*a, **kw), same(expected)))
    x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    w = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    cases.append(Case("conv2d", "stride 2 by hand", lambda m, a=(x, w): m.conv2d(*a, stride=2), same(torch.tensor([[[[44.0, 64.0], [124.0, 144.0]]]]))))

    shapes = [((1, 3, 32, 32), (16, 3, 3, 3), {"stride": 2, "padding": 1}), ((4, 1, 7, 7), (2, 1, 3, 3), {"dilation": 2}),
              ((2, 3, 10, 7), (5, 3, 3, 2), {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}),
              ((2, 3, 9, 8), (4, 3, 3, 3), {"stride": (2, 3), "padding": (2, 1), "dilation": (2, 1)}), ((1, 2, 5, 6), (3, 2, 5, 6), {})]  # fmt: skip
    for i, (in_shape, w_shape, kwargs) in enumerate(shapes):
        expected = tuple(F.conv2d(torch.zeros(in_shape), torch.zeros(w_shape), **kwargs).shape)
        wrap = (tuple, list, torch.Size)[i % 3]
        cases.append(Case("output_shape", f"{in_shape} {w_shape} {kwargs} ({wrap.__name__})", lambda m, a=(wrap(in_shape), wrap(w_shape)), kw=kwargs: m.output_shape(*a, **kw), same(expected)))

    for layers, in_shape, bpe in [([(4, 1, 1, 0)], (1, 3, 8, 8), 4), ([(16, 3, 2, 1), (32, 3, 2, 1)], (1, 3, 32, 32), 4),
                                   ([(8, 3, 1, 1), (16, 3, 2, 1), (16, (1, 3), (1, 2), (0, 1)), (4, 5, 2, 2)], (2, 3, 15, 12), 8)]:  # fmt: skip
        h = torch.zeros(in_shape)
        total = h.numel()
        for c_out, k, s, p in layers:
            kh, kw = (k, k) if isinstance(k, int) else k
            h = F.conv2d(h, torch.zeros(c_out, h.shape[1], kh, kw), stride=s, padding=p)
            total += h.numel()
        cases.append(Case("activation_memory", f"{len(layers)} layers on {in_shape}, {bpe} bytes", lambda m, a=(in_shape, layers, bpe): m.activation_memory(*a), same(total * bpe)))
    cases.append(Case("activation_memory", "default bytes", lambda m: m.activation_memory((1, 3, 8, 8), [(4, 1, 1, 0)]), same(1792)))
    return cases


# ---------------------------------------------------------------- 07_kaiming_init


def init_judge(expected: torch.Tensor, outcome_flag: Callable[[], None]) -> Judge:
    """Equal to torch.nn.init's draw within tolerance; notes when it is not bit for bit."""

    def judge(got: object) -> str | None:
        if (reason := difference(got, expected, None, None, bitwise=False)) is not None:
            return reason
        if not torch.equal(got, expected):
            outcome_flag()
        return None

    return judge


def same_object_judge(got: object) -> str | None:
    """The function returns the tensor it was given, filled."""
    tensor, result = got
    if result is not tensor:
        return "does not return the tensor it was given"
    if not bool(tensor.ne(0).any()):
        return "the tensor passed in is still all zeros"
    return None


def default_stack(seed: int, a: float | None, channels: int = 64, layers: int = 10) -> list[torch.Tensor]:
    """Kaiming-normal ReLU weights (a None) or nn.Conv2d's default (a = sqrt(5)) for a 3x3 stack."""
    g = generator(seed)
    if a is None:
        return [torch.nn.init.kaiming_normal_(torch.empty(channels, channels, 3, 3), nonlinearity="relu", generator=g) for _ in range(layers)]
    return [torch.nn.init.kaiming_uniform_(torch.empty(channels, channels, 3, 3), a=a, generator=g) for _ in range(layers)]


def stds_reference(x: torch.Tensor, weights: list[torch.Tensor]) -> list[float]:
    """The std after each F.conv2d(padding="same") + ReLU layer."""
    stds, h = [], x
    with torch.no_grad():
        for w in weights:
            h = torch.relu(F.conv2d(h, w.to(x.dtype), padding="same"))
            stds.append(h.std().item())
    return stds


def scale_judge(kind: str, x: torch.Tensor) -> Judge:
    """The lesson's claims: Kaiming keeps the std within a factor 4; the default shrinks it ~sqrt(6) per layer."""

    def judge(stds: object) -> str | None:
        if not isinstance(stds, (list, tuple)) or len(stds) != 10:
            return f"expected 10 floats, got {stds!r:.80}"
        if kind == "kaiming":
            ratios = [float(s) / float(stds[0]) for s in stds]
            return None if all(0.25 < r < 4 for r in ratios) else f"ratios {[round(r, 2) for r in ratios]}"
        per_layer = (float(stds[0]) / float(stds[-1])) ** (1 / 9)
        last = float(stds[-1]) / x.std().item()
        return None if 2 < per_layer < 3 and last < 1e-3 else f"shrink {per_layer:.3f} per layer, last {last:.3g}"

    return judge


def cases_07(outcome: Outcome) -> list[Case]:
    """calculate_gain, fan_in_and_fan_out, kaiming_uniform_, kaiming_normal_, default_conv_std, activation_stds."""
    cases = []
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    for name in names:
        cases.append(Case("calculate_gain", name, lambda m, name=name: m.calculate_gain(name), same(float(torch.nn.init.calculate_gain(name)))))
    for param in (0.2, math.sqrt(5), 0, 1):
        expected = float(torch.nn.init.calculate_gain("leaky_relu", param))
        cases.append(Case("calculate_gain", f"leaky_relu {param:.3g}", lambda m, p=param: m.calculate_gain("leaky_relu", p), same(expected)))

    for shape in [(16, 3, 5, 5), (10, 20), (8, 4, 3, 2), (4, 6, 3), (2, 3, 1, 2, 2), (7, 7)]:
        expected = tuple(int(f) for f in torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)))
        cases.append(Case("fan_in_and_fan_out", f"{shape}", lambda m, s=shape: m.fan_in_and_fan_out(torch.empty(s)), same(expected)))

    settings = [{}, {"nonlinearity": "relu"}, {"a": math.sqrt(5)}, {"a": 0.2, "mode": "fan_out"}, {"mode": "FAN_OUT", "nonlinearity": "relu"},
                {"nonlinearity": "tanh"}, {"nonlinearity": "linear", "mode": "fan_out"}, {"a": 1.0}]  # fmt: skip
    shapes = [(16, 8, 3, 3), (32, 20), (64, 16, 3, 3), (8, 16, 5, 5)]
    for kind, torch_init in (("uniform", torch.nn.init.kaiming_uniform_), ("normal", torch.nn.init.kaiming_normal_)):
        function = f"kaiming_{kind}_"
        for i, kwargs in enumerate(settings):
            shape, dt, seed = shapes[i % 4], (F32, F64)[i % 2], 300 + i
            expected = torch_init(torch.empty(shape, dtype=dt), generator=generator(seed), **kwargs)
            flag = lambda function=function: outcome.not_bitwise.add(function)  # noqa: E731
            call = lambda m, f=function, s=shape, d=dt, seed=seed, kw=kwargs: getattr(m, f)(torch.zeros(s, dtype=d), generator=generator(seed), **kw)  # noqa: E731
            cases.append(Case(function, f"{shape} {kwargs} {dt}", call, init_judge(expected, flag)))

        def fills(m: ModuleType, function: str = function) -> tuple[torch.Tensor, object]:
            tensor = torch.zeros(8, 4, 3, 3)
            return tensor, getattr(m, function)(tensor, nonlinearity="relu", generator=generator(5))

        cases.append(Case(function, "fills in place, returns the tensor", fills, same_object_judge))

        def empty(m: ModuleType, function: str = function) -> tuple[torch.Tensor, object]:
            tensor = torch.empty(0, 3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return tensor, getattr(m, function)(tensor, generator=generator(6))

        cases.append(Case(function, "zero-element tensor", empty, lambda got: None if got[1] is got[0] else "does not return the tensor"))

    for fan_in in (27, 576, 144, 1):
        cases.append(Case("default_conv_std", f"fan_in {fan_in}", lambda m, f=fan_in: m.default_conv_std(f), same(1 / math.sqrt(3 * fan_in))))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        measured = nn.Conv2d(64, 256, 3).weight.detach().std().item()
    cases.append(Case("default_conv_std", "nn.Conv2d(64, 256, 3) measured", lambda m: m.default_conv_std(64 * 9), same(measured, rtol=0.03)))

    for i, dt in enumerate((F32, F64)):
        x = randn(2, 3, 8, 8, dtype=dt, seed=320 + i)
        weights = [randn(4, 3, 3, 3, seed=321) * 0.3, randn(5, 4, 2, 2, seed=322) * 0.4, randn(2, 5, 1, 1, seed=323), randn(3, 2, 3, 4, seed=324) * 0.5]
        cases.append(Case("activation_stds", f"small stack, even kernels, {dt} input", lambda m, x=x, ws=weights: m.activation_stds(x, ws), same(stds_reference(x, weights), rtol=1e-4)))
    x = randn(2, 64, 16, 16, seed=330)
    cases.append(Case("activation_stds", "Kaiming normal keeps the scale", lambda m, x=x: m.activation_stds(x, default_stack(1, None)), scale_judge("kaiming", x)))
    cases.append(Case("activation_stds", "the default init shrinks ~sqrt(6) per layer", lambda m, x=x: m.activation_stds(x, default_stack(1, math.sqrt(5))), scale_judge("default", x)))
    return cases


CASES = {
    "01_convolution": cases_01,
    "02_conv_as_matmul": cases_02,
    "03_padding": cases_03,
    "04_channels": cases_04,
    "05_stacked_filters": cases_05,
    "06_stride": cases_06,
}


# ---------------------------------------------------------------- running


def load_entries() -> list[Entry]:
    """The entries of corpus.toml."""
    with open(ROOT / "corpus.toml", "rb") as f:
        return [Entry(**table) for table in tomllib.load(f)["entry"]]


def load_module(entry: Entry, index: int) -> ModuleType:
    """Import an entry's module by path, under a name of its own."""
    path = ROOT / entry.path
    spec = importlib.util.spec_from_file_location(f"corpus_entry_{index}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_entry(entry: Entry, index: int) -> Outcome:
    """Every case of the entry's assignment, on the entry's module."""
    outcome = Outcome()
    module = load_module(entry, index)
    cases = cases_07(outcome) if entry.assignment == "07_kaiming_init" else CASES[entry.assignment]()
    for case in cases:
        outcome.cases += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reason = case.judge(case.call(module))
        except Exception as exc:  # noqa: BLE001 - a corpus module may raise anything
            reason = f"raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if reason is not None:
            outcome.failures.setdefault(case.function, []).append(f"{case.label}: {reason}")
    return outcome


def main() -> int:
    """Run every entry, print the table, return 1 when a correct entry fails or a mistake goes undetected."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failing case")
    parser.add_argument("--only", default="", help="run only the entries whose path contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

    entries = [e for e in load_entries() if args.only in e.path]
    bad = 0
    print(f"{'entry':<26} {'assignment':<19} {'expect':<8} {'failing cases':>14}  verdict")
    for index, entry in enumerate(entries):
        outcome = run_entry(entry, index)
        failing = sum(len(v) for v in outcome.failures.values())
        if entry.expect == "correct":
            ok = not outcome.failures
            verdict = "PASS" if ok else "FAIL in " + ", ".join(outcome.failures)
            if ok and outcome.not_bitwise:
                verdict += f" (within tolerance, not bit for bit: {', '.join(sorted(outcome.not_bitwise))})"
        else:
            hit = [f for f in entry.functions if f in outcome.failures]
            stray = [f for f in outcome.failures if f not in entry.functions]
            missed = [f for f in entry.functions if f not in outcome.failures]
            ok = bool(hit) and not stray
            verdict = ("DETECTED in " + ", ".join(hit)) if hit else "NOT DETECTED"
            if missed and hit:
                verdict += f" (not in {', '.join(missed)})"
            if stray:
                verdict += f"; ALSO FAILS unlisted {', '.join(stray)}"
        bad += not ok
        print(f"{entry.name:<26} {entry.assignment:<19} {entry.expect:<8} {failing:>6} of {outcome.cases:<5}  {verdict}")
        if args.verbose or (entry.expect == "correct" and not ok):
            for function, reasons in outcome.failures.items():
                for reason in reasons[: None if args.verbose else 3]:
                    print(f"    {function}: {reason}")
    correct = sum(e.expect == "correct" for e in entries)
    print(f"\n{len(entries)} entries ({correct} correct, {len(entries) - correct} mistakes): {len(entries) - bad} as expected, {bad} not")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The wire format between grader and sandbox: round trips, and refusing hostile frames."""

from __future__ import annotations

import io
import json
import math
import struct

import pytest
import torch

from autograder.sandbox.wire import Foreign, ProtocolError, decode, encode, read_message, write_message


def roundtrip(value):
    return decode(encode(value))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.uint8])
def test_tensors_arrive_bit_for_bit_with_dtype_and_shape(dtype):
    tensor = (torch.randn(2, 3, 4) * 10).to(dtype)
    back = roundtrip(tensor)
    assert type(back) is torch.Tensor and back.dtype == dtype and back.shape == (2, 3, 4)
    assert torch.equal(back, tensor)


def test_strided_and_empty_tensors():
    tensor = torch.arange(24.0).reshape(4, 6).T[::2]
    assert torch.equal(roundtrip(tensor), tensor)
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)
    assert roundtrip(torch.tensor(2.5)).shape == ()


def test_plain_values_keep_their_types():
    value = {"a": (1, 2.0, "x", None, True), "b": [torch.Size([1, 2]), float("nan"), -math.inf], "c": torch.float64}
    back = roundtrip(value)
    assert back["a"] == (1, 2.0, "x", None, True) and type(back["a"]) is tuple
    assert type(back["a"][1]) is float and type(back["a"][4]) is bool
    assert back["b"][0] == torch.Size([1, 2]) and math.isnan(back["b"][1]) and back["b"][2] == -math.inf
    assert back["c"] is torch.float64


def test_a_generator_arrives_in_the_same_state():
    generator = torch.Generator().manual_seed(7)
    torch.rand(3, generator=generator)
    copy = roundtrip(generator)
    assert torch.equal(torch.rand(5, generator=copy), torch.rand(5, generator=generator))


class Lying(torch.Tensor):
    def __eq__(self, other):  # noqa: D105
        return True


class Weird:
    def __repr__(self):  # noqa: D105
        raise RuntimeError("no repr for you")


def test_anything_else_arrives_as_a_foreign_placeholder_never_as_the_object():
    subclass = roundtrip(torch.ones(2).as_subclass(Lying))
    assert type(subclass) is Foreign and subclass.type_name == "Lying"
    assert torch.equal(subclass.tensor, torch.ones(2))
    weird = roundtrip(Weird())
    assert type(weird) is Foreign and weird.type_name == "Weird" and weird.text == "<Weird>"
    assert type(roundtrip({1: 2})) is Foreign, "dicts with non-string keys are not carried"


def frame(header: dict, *buffers: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + b"".join(buffers)


@pytest.mark.parametrize(
    "bad",
    [
        frame({"body": {"$tensor": {"dtype": "float32", "shape": [1000], "buffer": 0}}, "buffers": [4]}, b"\0" * 4),
        frame({"body": {"$tensor": {"dtype": "object", "shape": [1], "buffer": 0}}, "buffers": [8]}, b"\0" * 8),
        frame({"body": {"$pickle": "gASV"}, "buffers": []}),
        frame({"body": {"$tensor": {"dtype": "float32", "shape": [1], "buffer": 3}}, "buffers": [4]}, b"\0" * 4),
        frame({"body": 1, "buffers": [10]}, b"\0" * 4),
        b"\x00\x00\x00\x05{not",
        b"\x00",
        frame({"body": {"$dict": [["a", 1, 2]]}, "buffers": []}),
        frame({"body": {"$dict": [5]}, "buffers": []}),
        frame({"body": {"$generator": 0}, "buffers": [3]}, b"abc"),
    ],
)
def test_malformed_or_hostile_frames_are_refused(bad):
    with pytest.raises(ProtocolError):
        decode(bad)


def test_strings_from_the_sandbox_are_cut_to_a_bound():
    value = decode(encode({"message": "x" * 10_000, "short": "ok", "y" * 9000: 1}), max_text=100)
    assert value["short"] == "ok"
    assert value["message"].startswith("x" * 100) and value["message"].endswith("[... 9900 more characters not kept]")
    assert all(len(key) < 200 for key in value), "keys too"
    assert decode(encode("x" * 10_000)) == "x" * 10_000, "no bound unless asked"


def test_messages_on_a_stream_and_the_size_limit():
    stream = io.BytesIO()
    write_message(stream, {"op": "call", "args": [torch.ones(3)]})
    write_message(stream, "second")
    stream.seek(0)
    first = read_message(stream)
    assert first["op"] == "call" and torch.equal(first["args"][0], torch.ones(3))
    assert read_message(stream) == "second"
    with pytest.raises(EOFError):
        read_message(stream)
    big = io.BytesIO()
    write_message(big, torch.zeros(1000))
    big.seek(0)
    with pytest.raises(ProtocolError, match="over the 100 byte limit"):
        read_message(big, limit=100)


def test_frames_are_cut_whole_from_bytes_as_they_arrive():
    from autograder.sandbox.wire import Frames, decode, framed

    data = framed({"op": "call", "args": [torch.ones(3)]}) + framed("second")
    frames, got, offset = Frames(), [], 0
    while offset < len(data):  # a pipe hands over whatever it holds; a reader takes no more than the frame lacks
        size = min(7, frames.wanted())
        frame = frames.feed(data[offset : offset + size])
        offset += size
        if frame is not None:
            got.append(decode(frame))
    assert len(got) == 2 and got[0]["op"] == "call" and torch.equal(got[0]["args"][0], torch.ones(3))
    assert got[1] == "second"
    with pytest.raises(ProtocolError, match="over the 100 byte limit"):
        Frames(limit=100).feed(framed(torch.zeros(1000))[:8])

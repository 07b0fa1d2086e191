"""What crosses the sandbox's boundary: values as JSON and raw bytes, never pickle.

A message is one frame on a byte stream::

    4 bytes   big-endian length of the JSON header
    header    UTF-8 JSON: {"body": <encoded value>, "buffers": [n0, n1, ...]}
    buffers   the raw bytes of each buffer, back to back

Values are encoded as JSON where JSON can say them (None, bools, ints, floats
including NaN and infinities, strings, lists) and as tagged objects otherwise:

- ``{"$tuple": [...]}``, ``{"$dict": [[key, value], ...]}`` (string keys);
- ``{"$tensor": {"dtype", "shape", "buffer", "subclass"}}``: a CPU tensor's bytes;
  ``subclass`` names a ``torch.Tensor`` subclass, which arrives as ``Foreign``;
- ``{"$generator": buffer}``: a ``torch.Generator``'s state;
- ``{"$handle": {"type", "text", "id"}}``: an object that stays where it was made
  (``Remote``: a student's model, kept by the child that made it, named by a number
  that means something only to that child);
- ``{"$function": name}``, ``{"$partial": {"function", "args", "kwargs"}}``: one of
  ``FUNCTIONS`` (pure torch functions, by name), alone or in a ``functools.partial``
  of plain values: how a check hands the student's code a function to call
  (``numerical_gradient(f, x)`` in 08_backward);
- ``{"$foreign": {"type", "text"}}``: anything else, by type name and a short repr.

Decoding builds only plain Python values, plain tensors from an allowlist of
dtypes with checked sizes, and ``Foreign`` placeholders: whatever the other side
sends, nothing it chose is imported, called or unpickled.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import torch

DTYPES: dict[str, torch.dtype] = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
        torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool,
    )
}  # fmt: skip
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
_NUMPY_DTYPES = frozenset(DTYPES.values()) - {torch.bfloat16}
MAX_MESSAGE = 512 * 2**20  # bytes in one message, buffers included
MAX_DEPTH = 32
_HEADER = struct.Struct(">I")

# The functions that cross by name: pure torch functions of tensors, none of which reads or writes
# anything but its arguments. Decoding one looks it up here; nothing the other side names is imported.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "torch.sum": torch.sum,
    "torch.prod": torch.prod,
    "torch.logsumexp": torch.logsumexp,
    "torch.tensordot": torch.tensordot,
    "torch.linalg.vector_norm": torch.linalg.vector_norm,
    "torch.nn.functional.mse_loss": torch.nn.functional.mse_loss,
}
_FUNCTION_NAMES = {id(function): name for name, function in FUNCTIONS.items()}


class ProtocolError(Exception):
    """A message that does not follow the protocol (a broken or hostile peer)."""


@dataclass(frozen=True)
class Foreign:
    """A value the protocol does not carry: what the student returned, by name only."""

    type_name: str
    text: str
    tensor: torch.Tensor | None = None  # the data of a torch.Tensor subclass

    def __repr__(self) -> str:
        return self.text


MAX_HANDLE = 2**31  # handle numbers are below this


@dataclass(frozen=True, eq=False)
class Remote(Foreign):
    """An object that stays in the process that made it (a student's ``SmallCNN``), by type name and number.

    The number means something only to the child that gave it
    (``autograder.sandbox.handles.Handles``): the grader never looks it up itself.
    """

    id: int = 0

    __eq__ = object.__eq__  # two handles are the same only when they are one object (not by their fields)
    __hash__ = object.__hash__


class _Encoder:
    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def buffer(self, data: bytes) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def tensor(self, tensor: torch.Tensor) -> dict:
        plain = tensor.detach() if type(tensor) is torch.Tensor else tensor.detach().as_subclass(torch.Tensor)
        if plain.device.type != "cpu":
            plain = plain.cpu()
        plain = plain.resolve_conj().resolve_neg().contiguous()
        if plain.dtype in _NUMPY_DTYPES:
            data = plain.numpy().tobytes()
        else:  # bfloat16, which numpy lacks: its bytes
            data = plain.reshape(-1).view(torch.uint8).numpy().tobytes() if plain.numel() else b""
        return {
            "dtype": _DTYPE_NAMES.get(plain.dtype) or str(plain.dtype).removeprefix("torch."),
            "shape": list(plain.shape),
            "buffer": self.buffer(data),
            "subclass": None if type(tensor) is torch.Tensor else type(tensor).__qualname__,
        }

    def value(self, obj: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return {"$foreign": {"type": type(obj).__qualname__, "text": "(nested too deeply)"}}
        kind = type(obj)
        if obj is None or kind in (bool, int, str):
            return obj
        if kind is float:
            return obj if math.isfinite(obj) else {"$float": repr(obj)}
        if kind is list:
            return [self.value(item, depth + 1) for item in obj]
        if kind is tuple:
            return {"$tuple": [self.value(item, depth + 1) for item in obj]}
        if kind is torch.Size:
            return {"$size": list(obj)}
        if kind is dict and all(type(key) is str for key in obj):
            return {"$dict": [[key, self.value(item, depth + 1)] for key, item in obj.items()]}
        if isinstance(obj, torch.Tensor):
            return {"$tensor": self.tensor(obj)}
        if kind is torch.Generator:
            return {"$generator": self.buffer(obj.get_state().numpy().tobytes())}
        if kind is torch.dtype:
            return {"$dtype": str(obj).removeprefix("torch.")}
        if isinstance(obj, Remote):
            return {"$handle": {"type": obj.type_name, "text": obj.text, "id": obj.id}}
        function = self.function(obj, depth)
        if function is not None:
            return function
        try:
            text = repr(obj)[:200]
        except Exception:  # noqa: BLE001 - a hostile __repr__
            text = f"<{kind.__qualname__}>"
        return {"$foreign": {"type": kind.__qualname__, "text": text}}


    def function(self, obj: Any, depth: int) -> dict | None:
        """One of ``FUNCTIONS`` by name, or a ``functools.partial`` of one with its arguments encoded; else None."""
        name = _FUNCTION_NAMES.get(id(obj))
        if name is not None and FUNCTIONS[name] is obj:
            return {"$function": name}
        inner = _FUNCTION_NAMES.get(id(obj.func)) if type(obj) is functools.partial else None
        if inner is None or FUNCTIONS[inner] is not obj.func:
            return None
        args, kwargs = self.value(list(obj.args), depth + 1), self.value(dict(obj.keywords), depth + 1)
        return {"$partial": {"function": inner, "args": args, "kwargs": kwargs}}


def encode(obj: Any) -> bytes:
    """One frame holding ``obj``."""
    encoder = _Encoder()
    body = encoder.value(obj)
    header = json.dumps({"body": body, "buffers": [len(b) for b in encoder.buffers]}).encode()
    return b"".join([_HEADER.pack(len(header)), header, *encoder.buffers])


class _Decoder:
    def __init__(self, buffers: list[bytes], max_text: int | None) -> None:
        self.buffers, self.max_text = buffers, max_text

    def text(self, value: str) -> str:
        if self.max_text is None or len(value) <= self.max_text:
            return value
        return f"{value[: self.max_text]}[... {len(value) - self.max_text} more characters not kept]"

    def buffer(self, index: Any) -> bytes:
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise ProtocolError(f"no buffer {index!r}")
        return self.buffers[index]

    def tensor(self, spec: Any) -> torch.Tensor | Foreign:
        if type(spec) is not dict or spec.get("dtype") not in DTYPES:
            raise ProtocolError(f"bad tensor {spec!r:.100}")
        shape = spec.get("shape")
        if type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape):
            raise ProtocolError(f"bad tensor shape {shape!r:.100}")
        dtype = DTYPES[spec["dtype"]]
        data = self.buffer(spec.get("buffer"))
        if math.prod(shape) * dtype.itemsize != len(data):
            raise ProtocolError(f"tensor of shape {shape} and {dtype} does not fit {len(data)} bytes")
        tensor = torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape) if data else torch.empty(shape, dtype=dtype)
        subclass = spec.get("subclass")
        if subclass is not None:
            return Foreign(type_name=str(subclass)[:100], text=f"<{str(subclass)[:100]} tensor>", tensor=tensor)
        return tensor

    def value(self, obj: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if type(obj) is str:
            return self.text(obj)
        if obj is None or type(obj) in (bool, int, float):
            return obj
        if type(obj) is list:
            return [self.value(item, depth + 1) for item in obj]
        if type(obj) is not dict or len(obj) != 1:
            raise ProtocolError(f"unknown value {obj!r:.100}")
        (tag, content), = obj.items()
        if tag == "$tuple" and type(content) is list:
            return tuple(self.value(item, depth + 1) for item in content)
        if tag == "$size" and type(content) is list and all(type(s) is int for s in content):
            return torch.Size(content)
        if tag == "$dict" and type(content) is list:
            return {self.text(str(key)): self.value(item, depth + 1) for key, item in content}
        if tag == "$float" and content in ("nan", "inf", "-inf"):
            return float(content)
        if tag == "$tensor":
            return self.tensor(content)
        if tag == "$generator":
            generator = torch.Generator()
            generator.set_state(torch.frombuffer(bytearray(self.buffer(content)), dtype=torch.uint8))
            return generator
        if tag == "$dtype" and content in DTYPES:
            return DTYPES[content]
        if tag == "$handle" and type(content) is dict:
            number = content.get("id")
            if type(number) is not int or not 0 <= number < MAX_HANDLE:
                raise ProtocolError(f"bad handle {number!r:.50}")
            return Remote(type_name=str(content.get("type"))[:100], text=str(content.get("text"))[:200], id=number)
        if tag in ("$function", "$partial"):
            return self.function(tag, content, depth)
        if tag == "$foreign" and type(content) is dict:
            return Foreign(type_name=str(content.get("type"))[:100], text=str(content.get("text"))[:200])
        raise ProtocolError(f"unknown tag {tag!r:.50}")


    def function(self, tag: str, content: Any, depth: int) -> Callable[..., Any]:
        """A function of ``FUNCTIONS`` named by ``content``, or a ``functools.partial`` of one rebuilt from plain values."""
        if tag == "$function" and type(content) is str and content in FUNCTIONS:
            return FUNCTIONS[content]
        if tag == "$partial" and type(content) is dict and content.get("function") in FUNCTIONS:
            args, kwargs = self.value(content.get("args"), depth + 1), self.value(content.get("kwargs"), depth + 1)
            if type(args) is list and type(kwargs) is dict:
                return functools.partial(FUNCTIONS[content["function"]], *args, **kwargs)
        raise ProtocolError(f"unknown function {content!r:.100}")


def decode(frame: bytes, *, max_text: int | None = None) -> Any:
    """The value in one frame (``ProtocolError`` when it is malformed); strings cut to ``max_text`` characters if given."""
    if len(frame) < _HEADER.size:
        raise ProtocolError("truncated frame")
    (length,) = _HEADER.unpack_from(frame)
    try:
        header = json.loads(frame[_HEADER.size : _HEADER.size + length])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    sizes = header.get("buffers") if type(header) is dict else None
    if type(sizes) is not list or not all(type(n) is int and n >= 0 for n in sizes):
        raise ProtocolError("bad buffer list")
    offset, buffers = _HEADER.size + length, []
    for size in sizes:
        buffers.append(frame[offset : offset + size])
        offset += size
    if offset != len(frame):
        raise ProtocolError("frame length does not match its buffers")
    try:
        return _Decoder(buffers, max_text).value(header.get("body"))
    except (TypeError, ValueError, RuntimeError) as exc:  # a malformed entry (a "$dict" item that is no pair, a bad generator state)
        raise ProtocolError(f"malformed value: {exc}") from None


def write_frame(stream: BinaryIO, frame: bytes) -> None:
    """Write one encoded frame, with its total length first, then flush."""
    stream.write(struct.pack(">Q", len(frame)) + frame)
    stream.flush()


def read_frame(stream: BinaryIO, *, limit: int = MAX_MESSAGE) -> bytes:
    """Read one frame without decoding it (to pass it on as it is)."""
    (length,) = struct.unpack(">Q", _read_exactly(stream, 8))
    if length > limit:
        raise ProtocolError(f"message of {length} bytes is over the {limit} byte limit")
    return _read_exactly(stream, length)


def write_message(stream: BinaryIO, obj: Any) -> None:
    """Encode ``obj`` and write it."""
    write_frame(stream, encode(obj))


def framed(obj: Any) -> bytes:
    """``obj`` as ``write_message`` puts it on a stream: its total length, then its frame."""
    frame = encode(obj)
    return struct.pack(">Q", len(frame)) + frame


class Frames:
    """Bytes read as they arrive (from a descriptor polled against a deadline), cut into whole frames."""

    def __init__(self, *, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self._data = bytearray()

    def wanted(self) -> int:
        """How many bytes the frame in hand still lacks (at least 1)."""
        if len(self._data) < 8:
            return 8 - len(self._data)
        return max(1, 8 + self._length() - len(self._data))

    def feed(self, chunk: bytes) -> bytes | None:
        """Take ``chunk``; the next whole frame once there is one (``ProtocolError`` past the limit)."""
        self._data += chunk
        if len(self._data) < 8 or len(self._data) < 8 + self._length():
            return None
        end = 8 + self._length()
        frame = bytes(self._data[8:end])
        del self._data[:end]
        return frame

    def _length(self) -> int:
        (length,) = struct.unpack_from(">Q", self._data)
        if length > self.limit:
            raise ProtocolError(f"message of {length} bytes is over the {self.limit} byte limit")
        return length


def read_message(stream: BinaryIO, *, limit: int = MAX_MESSAGE) -> Any:
    """Read and decode one message; ``EOFError`` when the peer closed the stream."""
    return decode(read_frame(stream, limit=limit))


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other side closed the stream")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

"""How flag rows travel between processes: one msgpack batch per stream entry.

A replica's rows go to the consumer that writes the dataset as batches: the schema
(the components, so the consumer needs no code of the replica), the producer's id and
a sequence number per batch (so a batch sent twice after a lost reply is written
once), and the rows. File values travel as ``[name, bytes]``, already encoded (an
image array as PNG): the consumer never reads a path, so an entry cannot make it
copy one of its own files into the dataset. Decoding checks everything again, with
the same components: whatever fails goes to the dead-letter stream, never to disk.
"""

from __future__ import annotations

from datetime import datetime
from operator import call
from pathlib import Path
from typing import Any

import msgspec

from . import components as c
from .components import Component, FileComponent, FileData
from .errors import FlagValueError

__all__ = [
    "RowChecker",
    "WireBatch",
    "WireError",
    "WireRow",
    "decode_batch",
    "encode_batch",
    "schema_of",
]

VERSION = 1
_BIG_INT = 1  # msgpack extension code: an int outside 64 bits, as its decimal text


class WireError(ValueError):
    """An entry that cannot be written: why, in words for the dead-letter stream."""


class WireRow(msgspec.Struct, array_like=True, frozen=True):
    """One row: its values, its metadata and who waits for its count."""

    #: the producer's number for the reply; 0 when nobody waits (auto-logged rows)
    reply: int
    values: list[Any]
    option: str | None
    username: str | None
    timestamp: datetime | None


class WireBatch(msgspec.Struct, array_like=True, frozen=True):
    """One stream entry."""

    version: int
    producer: str
    sequence: int
    #: the msgpack of the components' specs; the same bytes for the same schema
    schema: bytes
    rows: list[WireRow]


_TYPES: dict[str, type[Component]] = {
    cls.__name__.lower(): cls
    for cls in (c.Textbox, c.Number, c.Checkbox, c.Dropdown, c.JSON, c.File, c.Image, c.Audio)
}


def component_spec(component: Component) -> dict[str, Any]:
    """What rebuilds the component on the other side: its type, label and limits."""
    kind = type(component).__name__.lower()
    if _TYPES.get(kind) is not type(component):
        raise FlagValueError(
            f"{type(component).__name__} cannot travel through a stream: only the built-in "
            f"components can ({', '.join(sorted(_TYPES))})"
        )
    spec: dict[str, Any] = {"type": kind, "label": component.label}
    if isinstance(component, c.Textbox):
        spec["max_length"] = component.max_length
    elif isinstance(component, c.JSON | FileComponent):
        spec["max_size"] = component.max_size
    elif isinstance(component, c.Dropdown):
        spec["choices"] = [[label, value] for label, value in component.choices]
        spec["multiselect"] = component.multiselect
        spec["allow_custom_value"] = component.allow_custom_value
    return spec


def schema_of(components: list[Component]) -> bytes:
    return msgspec.msgpack.encode([component_spec(component) for component in components])


def components_from_schema(schema: bytes) -> list[Component]:
    """The components a schema describes.

    :raises WireError: for a schema that does not decode or names unknown types
    """
    try:
        specs = msgspec.msgpack.decode(schema, type=list[dict[str, Any]])
        built = []
        for spec in specs:
            spec = dict(spec)
            cls = _TYPES.get(spec.pop("type", None))
            if cls is None:
                raise WireError(f"unknown component type in the schema: {spec!r:.100}")
            if cls is c.Dropdown:
                spec["choices"] = [tuple(choice) for choice in spec.get("choices", ())]
            built.append(cls(**spec))
        return built
    except (msgspec.DecodeError, TypeError, FlagValueError) as exc:
        raise WireError(f"bad schema: {exc}") from None


def file_value(component: FileComponent, value: Any) -> list[Any] | None:
    """A checked file value as it travels: ``[name, bytes]`` (blocking: may read a file)."""
    if value is None:
        return None
    payload, suffix = component.payload(value)
    data = payload.read_bytes() if isinstance(payload, Path) else payload
    name = value.name if isinstance(value, FileData) and value.name else "file" + suffix
    return [Path(name).name[:200], data]


def encode_batch(batch: WireBatch) -> bytes:
    try:
        return _encoder.encode(batch)
    except OverflowError:  # an int beyond 64 bits, which msgpack cannot hold: rare
        rows = [
            WireRow(row.reply, _big_ints(row.values), row.option, row.username, row.timestamp)
            for row in batch.rows
        ]
        return _encoder.encode(
            WireBatch(batch.version, batch.producer, batch.sequence, batch.schema, rows)
        )


def decode_batch(data: bytes) -> WireBatch:
    """Decode an entry's batch.

    :raises WireError: if it does not decode as a batch of this version
    """
    try:
        batch = _decoder.decode(data)
    except (msgspec.DecodeError, ValueError) as exc:
        raise WireError(f"does not decode: {exc}") from None
    if batch.version != VERSION:
        raise WireError(f"unknown batch version {batch.version} (this consumer reads {VERSION})")
    return batch


class RowChecker:
    """Checks decoded rows with a schema's components, as the call on the replica did.

    A row whose check fails raises :class:`WireError`: for a wrong width, a file that is
    not ``[name, bytes]`` (a path would name a file on the consumer's machine), a file
    over ``max_file_size`` or a value its component refuses.
    """

    def __init__(self, components: list[Component], max_file_size: int) -> None:
        self.components = components
        self.max_file_size = max_file_size
        self._checks = [component.check for component in components]
        self._files = [
            (j, component)
            for j, component in enumerate(components)
            if isinstance(component, FileComponent)
        ]

    def __call__(self, row: WireRow) -> tuple[Any, ...]:
        values = row.values
        if len(values) != len(self._checks):
            raise WireError(f"a row has {len(values)} values for {len(self._checks)} components")
        if self._files:
            values = list(values)
            for j, component in self._files:
                if values[j] is not None:
                    values[j] = self._file(component, values[j])
        try:
            return tuple(map(call, self._checks, values))
        except FlagValueError as exc:
            raise WireError(str(exc)) from None

    def _file(self, component: FileComponent, value: Any) -> FileData:
        if not (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], bytes)
        ):
            raise WireError(
                f"{component.label!r}: a file travels as [name, bytes], got "
                f"{type(value).__name__} (a path is refused: it names a file on this machine)"
            )
        if len(value[1]) > self.max_file_size:
            raise WireError(
                f"{component.label!r}: a file of {len(value[1])} bytes is over the cap of "
                f"{self.max_file_size} bytes"
            )
        return FileData(value[1], value[0])


def _big_ints(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return msgspec.msgpack.Ext(_BIG_INT, str(value).encode())
    if isinstance(value, list | tuple):
        return [_big_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _big_ints(item) for key, item in value.items()}
    return value


def _ext_hook(code: int, data: memoryview) -> Any:
    if code == _BIG_INT:
        return int(bytes(data))
    raise ValueError(f"unknown msgpack extension {code}")


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(WireBatch, ext_hook=_ext_hook)

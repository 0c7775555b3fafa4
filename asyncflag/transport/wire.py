"""How flag rows travel between processes: one msgpack batch per stream entry.

A replica's rows go to the consumer that writes the dataset as batches: the schema
(each component's :meth:`~asyncflag.components.Component.spec`, rebuilt by the consumer
with the classes it has registered: the built-in ones need no code of the replica, a
custom one needs its class imported), the producer's id and
a sequence number per batch (so a batch sent twice after a lost reply is written
once), and the rows. File values travel as ``[name, bytes]``, already encoded (an
image array as PNG): the consumer never reads a path, so an entry cannot make it
copy one of its own files into the dataset. Decoding checks everything again, with
the same components: whatever fails goes to the dead-letter stream, never to disk.

Everything an entry can make the consumer hold is bounded here: a producer id is at
most :data:`MAX_PRODUCER_LENGTH` characters of ``[A-Za-z0-9_.-]``, a schema at most
:data:`MAX_SCHEMA_SIZE` bytes of at most :data:`MAX_COMPONENTS` components whose labels
are at most :data:`MAX_LABEL_LENGTH` characters, an entry at most
:data:`MAX_ENTRY_ROWS` rows. Values nest at most
:data:`~asyncflag.components.MAX_JSON_DEPTH` deep (the components' checks); an entry
nested deeper than Python's recursion limit does not decode at all. A replica refuses
at construction a schema the consumer would refuse.

With a shared secret, each entry carries an HMAC-SHA256 (:func:`signature`) of its
exact payload, which holds the producer id and the batch number, bound to the
stream's name; replies are signed the same way, bound to the reply stream's key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from operator import call
from pathlib import Path
from typing import Annotated, Any, Union

import msgspec

from ..components import (
    MAX_JSON_DEPTH,
    MAX_LABEL_LENGTH,
    Component,
    ComponentSpec,
    FileData,
    component_types,
)
from ..errors import FlagValueError

__all__ = [
    "MAX_COMPONENTS",
    "MAX_ENTRY_ROWS",
    "MAX_LABEL_LENGTH",
    "MAX_PRODUCER_LENGTH",
    "MAX_SCHEMA_SIZE",
    "RowChecker",
    "WireBatch",
    "WireError",
    "WireRow",
    "decode_batch",
    "encode_batch",
    "schema_of",
    "secret_bytes",
    "signature",
    "signed",
]

VERSION = 1
_BIG_INT = 1  # msgpack extension code: an int outside 64 bits, as its decimal text

#: the longest producer id, in characters of ``[A-Za-z0-9_.-]`` (replicas use 16 hex digits);
#: it names the producer's reply stream and is kept in the consumer's progress file
MAX_PRODUCER_LENGTH = 64
#: the most components a schema lists
MAX_COMPONENTS = 256
#: the largest schema, in bytes of msgpack (Dropdown choices included)
MAX_SCHEMA_SIZE = 256 * 1024
#: the most rows in one entry; a replica splits its batches to stay under it
MAX_ENTRY_ROWS = 4096


class WireError(ValueError):
    """An entry that cannot be written: why, in words for the dead-letter stream."""


class WireRow(msgspec.Struct, array_like=True, frozen=True):
    """One row: its values, its metadata and who waits for its count."""

    #: the producer's number for the reply; 0 when nobody waits (auto-logged rows)
    reply: Annotated[int, msgspec.Meta(ge=0)]
    values: Annotated[list[Any], msgspec.Meta(max_length=MAX_COMPONENTS)]
    option: str | None
    username: str | None
    timestamp: datetime | None


_Producer = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=MAX_PRODUCER_LENGTH, pattern="^[A-Za-z0-9_.-]+$"),
]


class WireBatch(msgspec.Struct, array_like=True, frozen=True):
    """One stream entry."""

    version: int
    #: who sent it: at most :data:`MAX_PRODUCER_LENGTH` characters of ``[A-Za-z0-9_.-]``
    producer: _Producer
    #: the producer's batch number, from 1 up
    sequence: Annotated[int, msgspec.Meta(ge=1)]
    #: the msgpack of the components' specs; the same bytes for the same schema
    schema: Annotated[bytes, msgspec.Meta(max_length=MAX_SCHEMA_SIZE)]
    rows: Annotated[list[WireRow], msgspec.Meta(max_length=MAX_ENTRY_ROWS)]


class _Waiting(msgspec.Struct, array_like=True, frozen=True):
    reply: Annotated[int, msgspec.Meta(ge=0)]


class WireHeader(msgspec.Struct, array_like=True, frozen=True):
    """Who sent an entry and who waits for it: what decodes of an entry that is not used.

    Decoded with the rows' values skipped (msgspec ignores the trailing fields of an
    array-like struct), so an entry over the size cap, of another version or with values
    that do not decode still gets a failure reply instead of leaving ``flag()`` waiting.
    """

    version: int
    producer: _Producer
    sequence: Annotated[int, msgspec.Meta(ge=1)]
    schema: msgspec.Raw
    rows: Annotated[list[_Waiting], msgspec.Meta(max_length=MAX_ENTRY_ROWS)]


def component_spec(component: Component) -> ComponentSpec:
    """What rebuilds the component on the other side: its type, label and parameters.

    :raises FlagValueError: for a component that cannot travel (see :meth:`Component.spec`)
    """
    return component.spec()


def schema_of(components: list[Component]) -> bytes:
    """The schema of ``components`` as it travels in each entry.

    :raises FlagValueError: for components a consumer would refuse (not built in, over
        :data:`MAX_COMPONENTS`, a label over :data:`MAX_LABEL_LENGTH`, a schema over
        :data:`MAX_SCHEMA_SIZE`)
    """
    if len(components) > MAX_COMPONENTS:
        raise FlagValueError(
            f"{len(components)} components cannot travel through a stream: the limit is "
            f"{MAX_COMPONENTS} (asyncflag.wire.MAX_COMPONENTS)"
        )
    schema = msgspec.msgpack.encode([component_spec(component) for component in components])
    if len(schema) > MAX_SCHEMA_SIZE:
        raise FlagValueError(
            f"these components describe themselves in {len(schema)} bytes, over the "
            f"{MAX_SCHEMA_SIZE} a stream accepts (asyncflag.wire.MAX_SCHEMA_SIZE): "
            "fewer or shorter Dropdown choices"
        )
    return schema


class _SchemaDecoder:
    """Decodes a schema as a list of the registered components' specs (a msgspec tagged
    union: fixed shapes, so a hostile schema cannot nest). Rebuilt when a component
    class registers after the last decode."""

    def __init__(self) -> None:
        self._types: dict[str, type[Component]] = {}
        self._decoder: msgspec.msgpack.Decoder[list[Any]] | None = None

    def __call__(self, schema: bytes) -> list[Component]:
        types = component_types()
        if self._decoder is None or types != self._types:
            self._types = types
            specs = tuple(cls.spec_type for cls in types.values() if cls.spec_type is not None)
            self._decoder = msgspec.msgpack.Decoder(
                Annotated[list[Union[specs]], msgspec.Meta(max_length=MAX_COMPONENTS)]  # type: ignore[valid-type]  # noqa: UP007
            )
        return [
            types[str(type(spec).__struct_config__.tag)].from_spec(spec)
            for spec in self._decoder.decode(schema)
        ]


_decode_schema = _SchemaDecoder()


def components_from_schema(schema: bytes) -> list[Component]:
    """The components a schema describes.

    :raises WireError: for a schema over :data:`MAX_SCHEMA_SIZE`, one that does not
        decode, names unknown types or describes a component in the wrong shape
    """
    if len(schema) > MAX_SCHEMA_SIZE:
        raise WireError(f"a schema of {len(schema)} bytes is over the cap of {MAX_SCHEMA_SIZE}")
    try:
        return _decode_schema(schema)
    except (msgspec.DecodeError, FlagValueError, TypeError) as exc:
        raise WireError(
            f"bad schema: {exc} (a schema lists components of the types "
            f"{', '.join(sorted(component_types()))}; a custom component travels when the "
            "consumer imports its class)"
        ) from None


def file_value(component: Component, value: Any) -> Any:
    """A checked value holding files as it travels: each of its
    :meth:`~asyncflag.components.Component.files` as ``[name, bytes]`` (blocking: may
    read a file)."""
    return component.with_files(value, [_travelling(component, f) for f in component.files(value)])


def _travelling(component: Component, file: Any) -> list[Any]:
    payload, suffix = component.file_payload(file)
    data = payload.read_bytes() if isinstance(payload, Path) else payload
    name = file.name if isinstance(file, FileData) and file.name else "file" + suffix
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
    except RecursionError:
        raise WireError(
            "does not decode: it nests deeper than Python's recursion limit (values may nest "
            f"{MAX_JSON_DEPTH} deep: asyncflag.components.MAX_JSON_DEPTH)"
        ) from None
    if batch.version != VERSION:
        raise WireError(f"unknown batch version {batch.version} (this consumer reads {VERSION})")
    return batch


def decode_header(data: bytes) -> WireHeader | None:
    """The producer and the reply numbers of an entry, or ``None`` when not even they decode."""
    try:
        return _header_decoder.decode(data)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None


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
            (j, component) for j, component in enumerate(components) if component.holds_files
        ]

    def __call__(self, row: WireRow) -> tuple[Any, ...]:
        values = row.values
        if len(values) != len(self._checks):
            raise WireError(f"a row has {len(values)} values for {len(self._checks)} components")
        if self._files:
            values = list(values)
            for j, component in self._files:
                if values[j] is not None:
                    try:
                        files = component.files(values[j])
                    except FlagValueError as exc:
                        raise WireError(str(exc)) from None
                    values[j] = component.with_files(
                        values[j], [self._file(component, file) for file in files]
                    )
        try:
            return tuple(map(call, self._checks, values))
        except FlagValueError as exc:
            raise WireError(str(exc)) from None

    def _file(self, component: Component, value: Any) -> FileData:
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


def secret_bytes(secret: bytes | str | None) -> bytes | None:
    """A shared secret as bytes (a str as UTF-8); ``None`` for none.

    :raises FlagValueError: for an empty secret or one of another type
    """
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise FlagValueError(f"a secret is non-empty bytes or str, got {type(secret).__name__}")
    return secret


def signature(secret: bytes, context: str, payload: bytes) -> bytes:
    """The HMAC-SHA256 of ``payload`` bound to ``context`` (the stream or reply key).

    An entry's payload holds its producer id and batch number, so the signature
    covers them; the context keeps an entry signed for one stream from counting on
    another, and a reply for one producer from counting for another.
    """
    message = b"asyncflag\0" + context.encode() + b"\0" + payload
    return hmac.new(secret, message, hashlib.sha256).digest()


def signed(secret: bytes, context: str, payload: bytes, sig: bytes | None) -> bool:
    """Whether ``sig`` is the signature of ``payload`` for ``context`` (in constant time)."""
    return sig is not None and hmac.compare_digest(sig, signature(secret, context, payload))


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
_header_decoder = msgspec.msgpack.Decoder(WireHeader, ext_hook=_ext_hook)

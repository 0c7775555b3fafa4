"""Values saved as files under the flagging directory: :class:`File`, :class:`Image`,
:class:`Audio`, their base :class:`FileComponent` and :class:`FileData`.

A file component hands its payload to the file store, and its cell is the saved
file's path relative to the flagging directory.
"""

from __future__ import annotations

import base64
import html
import io
import mimetypes
import os
import re
import secrets
import threading
import wave
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import msgspec

from ..checks import one_of, positive_int_or_none
from ..errors import FlagValueError, UnsafePathError
from ..escaping import escape, unescape_optional
from .base import Cell, Component, ComponentSpec, Limit
from .values import short_repr

__all__ = [
    "IMAGE_MODES",
    "MAX_DECODED_SAMPLES",
    "MAX_IMAGE_PIXELS",
    "Audio",
    "File",
    "FileComponent",
    "FileData",
    "FilePayload",
    "Image",
    "Video",
    "media_type",
    "saved_file",
]


#: the most pixels an encoded image may declare by default: Pillow's own default limit
#: (``PIL.Image.MAX_IMAGE_PIXELS``), without importing Pillow
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3
#: the most samples (frames x channels) an Audio input decodes for ``fn`` from a
#: compressed file (a few kilobytes of FLAC or MP3 can hold hours of silence): 10 minutes
#: of 48 kHz stereo
MAX_DECODED_SAMPLES = 48_000 * 2 * 600


class FileData(msgspec.Struct, frozen=True):
    """File content with the name it came with (an upload, a generated file)."""

    data: bytes
    name: str = ""


FilePayload = bytes | Path
"""What the file store saves: bytes, or a file to copy."""


class FileComponent(Component):
    """Base of the components whose values are saved as files under the flagging directory.

    Accepted values: ``bytes``, the path of an existing file (``str`` or
    :class:`os.PathLike`), :class:`FileData`, or a mapping with a ``"path"`` key
    (Gradio's file data). Subclasses add their own in-memory types.
    """

    #: suffix for payloads whose kind cannot be told from a name or from their bytes
    default_suffix: ClassVar[str] = ".bin"

    #: the ``accept`` attribute of the page's file input (``"image/*"``...)
    accept: ClassVar[str] = ""
    takes_upload = True
    max_uploads = 1
    holds_files = True
    #: a file picker cannot start with a file: ``value=`` is shown as an output's only
    value_on_page = False

    class Spec(ComponentSpec):
        max_size: Limit = None

    def __init__(self, label: str | None = None, *, max_size: int | None = None) -> None:
        super().__init__(label)
        self.max_size = positive_int_or_none("max_size", max_size)

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            self._check_size(len(data))
            return data
        if isinstance(value, FileData):
            self._check_size(len(value.data))
            return value
        if isinstance(value, Mapping) and "path" in value:
            value = value["path"]
        if isinstance(value, str | os.PathLike):
            path = Path(os.fspath(value))
            try:
                info = path.stat()
            except OSError as exc:
                raise FlagValueError(
                    f"{type(self).__name__} {self.label!r}: cannot read {str(path)!r}: "
                    f"{exc.strerror}"
                ) from None
            except ValueError as exc:  # a NUL byte in the path
                raise FlagValueError(
                    f"{type(self).__name__} {self.label!r}: cannot read {str(path)!r}: {exc}"
                ) from None
            if not path.is_file():
                raise FlagValueError(
                    f"{type(self).__name__} {self.label!r}: {str(path)!r} is not a file"
                )
            self._check_size(info.st_size)
            return path.absolute()
        return self._check_other(value)

    def _check_other(self, value: Any) -> Any:
        raise self._reject(value, "bytes, FileData or the path of a file")

    def files(self, value: Any) -> list[Any]:
        """The value itself: a file component holds one file (none for ``None``)."""
        return [] if value is None else [value]

    def with_files(self, value: Any, files: Sequence[Any]) -> Any:
        """The one file of ``files`` (``None`` for none)."""
        return files[0] if files else None

    def file_payload(self, file: Any) -> tuple[FilePayload, str]:
        """:meth:`payload`."""
        return self.payload(file)

    def limit_file_size(self, cap: int) -> None:
        """``max_size`` becomes at most ``cap``."""
        self.max_size = min(self.max_size or cap, cap)

    def from_uploads(self, uploads: Sequence[Any]) -> Any:
        """The one upload, or ``None``."""
        return uploads[0] if uploads else None

    def file_path(self, value: Any, run_dir: Path) -> str:
        """The path of a file holding a checked value, for a ``fn`` that takes file paths.

        A path the caller gave is handed over as it is; anything else (an upload, bytes,
        an in-memory image) is written into ``run_dir`` under a random name with the
        suffix it is saved under (see :meth:`payload`), never a name a client chose.
        Blocking: runs in a worker thread.
        """
        if isinstance(value, Path):
            return str(value)
        payload, suffix = self.payload(value)
        return _write_run_file(run_dir, payload, suffix)

    def control_html(self, attributes: str) -> str:
        return f'<input type="file" accept="{html.escape(self.accept)}" {attributes}>'

    def config(self) -> dict[str, Any]:
        config = {**super().config(), "max_size": self.max_size}
        kind = getattr(self, "type", None)  # what fn receives, where the class has a choice
        return config if kind is None else {**config, "receives": kind}

    async def to_client(self, value: Any, max_file_size: int) -> str | None:
        """The file as a ``data:`` URL, so that the page renders it; ``None`` for no file
        or one over ``max_file_size`` bytes. Reading and encoding run in a worker thread."""
        if value is None:
            return None

        def encode() -> str | None:
            payload, suffix = self.payload(value)
            data = payload if isinstance(payload, bytes) else payload.read_bytes()
            if len(data) > max_file_size:
                return None
            mime = mimetypes.guess_type("x" + suffix)[0] or "application/octet-stream"
            return f"data:{mime};base64,{base64.b64encode(data).decode()}"

        return await anyio.to_thread.run_sync(encode)

    def _check_size(self, size: int) -> None:
        if self.max_size is not None and size > self.max_size:
            raise FlagValueError(
                f"{type(self).__name__} {self.label!r}: {size} bytes is over the "
                f"limit of {self.max_size} bytes"
            )

    def payload(self, value: Any) -> tuple[FilePayload, str]:
        """Return what to save for a checked value and the suffix of its file name.

        Runs in a worker thread: encoding an in-memory image happens here, not
        on the event loop.
        """
        if isinstance(value, bytes):
            return value, _sniff_suffix(value) or self.default_suffix
        if isinstance(value, FileData):
            suffix = _suffix_of(value.name) or _sniff_suffix(value.data)
            return value.data, suffix or self.default_suffix
        if isinstance(value, Path):
            return value, _suffix_of(value.name) or self.default_suffix
        return self._encode_other(value)

    def _encode_other(self, value: Any) -> tuple[FilePayload, str]:
        raise self._reject(value, "bytes, FileData or the path of a file")

    def to_cell(self, value: Any) -> Cell:
        # The writer replaces a file value by its saved path before calling this.
        return escape(value) if isinstance(value, str) else ""

    def from_cell(self, cell: str, flagging_dir: Path) -> str | None:
        """The absolute path of the saved file a cell names, or ``None`` for an empty cell.

        The path must stay inside ``flagging_dir`` once ``..`` and symlinks are resolved:
        a cell asyncflag did not write (``/etc/passwd``, ``photo/../../x``, a symlink
        leading out, a NUL byte) is never returned as a flagged file.

        :raises UnsafePathError: for a cell naming a path outside ``flagging_dir``
        """
        text = unescape_optional(cell)
        if not text:
            return None
        return saved_file(self, text, Path(flagging_dir))


def saved_file(component: Component, text: str, flagging_dir: Path) -> str:
    """The absolute path of the saved file ``text`` names (a path relative to
    ``flagging_dir``, as a file cell holds it).

    A cell Gradio wrote names its file as ``<the app's flagging_dir>/<label>/<20 hex
    digits>/<name>``, relative to the working directory of the Gradio app
    (``.gradio/flagged/image/52135f39fbb8dbe44690/tiny.png``) or absolute: when the cell
    does not name an existing file below ``flagging_dir`` as it is, and ends with such a
    ``<label>/<hex>/<name>``, that ending is read below ``flagging_dir`` (the folder
    Gradio flagged into, wherever it is now). Any other absolute cell is refused.

    :raises UnsafePathError: for a path outside ``flagging_dir`` once ``..`` and symlinks
        are resolved (absolute, ``../``, a symlink leading out, a NUL byte)
    """
    gradio = _gradio_file_cell(text)
    if gradio and (os.path.isabs(text) or not (flagging_dir / text).is_file()):
        text = gradio
    path = flagging_dir / text
    why = _unsafe_cell(text, flagging_dir, path)
    if why:
        raise UnsafePathError(
            f"{type(component).__name__} {component.label!r}: the file cell "
            f"{short_repr(text)} {why}; asyncflag only reads back files saved inside the "
            f"flagging directory {str(flagging_dir)!r} (was the dataset file edited, or a "
            "text column appended under the same labels?)",
        )
    return str(path.absolute())


class File(FileComponent):
    """Any file.

    As in Gradio, a file is saved under the suffix of the name it came with (a plain one
    such as ``.pdf``; ``../x`` and the like are dropped), else the suffix its first bytes
    show, else ``.bin``. That suffix can be one a browser runs (``.html``, ``.svg``):
    serve saved files as downloads (``Content-Disposition: attachment``) with
    ``X-Content-Type-Options: nosniff``, never inline from the site's own origin. Image
    and Audio name their files by their content instead.
    """

    type_name = "file"
    #: Gradio's keywords of the display, which have no effect here
    gradio_keywords = frozenset({"allow_reordering", "height"})

    shortcuts = ("file",)

    def __init__(
        self,
        label: str | None = None,
        *,
        type: Literal["filepath", "binary", "raw"] = "filepath",
        max_size: int | None = None,
    ) -> None:
        super().__init__(label, max_size=max_size)
        #: what ``fn`` receives, as in Gradio: ``"filepath"`` (a ``str``, see
        #: :meth:`file_path`) or ``"binary"`` (the ``bytes``); or ``"raw"``: the
        #: checked value itself (an upload's :class:`FileData`, with the client's name)
        self.type = one_of("type", type, ("filepath", "binary", "raw"))

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """The file's path (``type="filepath"``), its bytes (``type="binary"``) or the
        checked value (``type="raw"``)."""
        if self.type == "raw":
            return value
        if self.type == "filepath":
            return self.file_path(value, run_dir)
        if isinstance(value, Path):
            try:
                return value.read_bytes()
            except OSError as exc:
                raise FlagValueError(
                    f"File {self.label!r}: cannot read {str(value)!r}: {exc.strerror}"
                ) from None
        return _data_of(value)

    page_script = """asyncflag.register("file", {
  read: el => el.files.length ? el.files[0] : null,
  show(el, value) {
    const a = document.createElement("a");
    a.href = value; a.download = "output"; a.textContent = "download";
    el.appendChild(a);
  },
});"""


class Image(FileComponent):
    """An image. Also takes a PIL image or a numpy array (saved as PNG; needs Pillow).

    Arrays are height x width (x 1, 3 or 4 channels) of ``uint8``, of other integers
    in 0..255, of floats in 0..1 (scaled to 0..255, as Gradio does) or of booleans;
    anything else is refused at the call. An array is copied when it is flagged, so
    changing it afterwards does not change what is saved. For in-memory images,
    ``max_size`` limits the raw pixel data (width x height x channels bytes).
    """

    type_name = "image"
    #: Gradio's keywords of the display and of the picker, which have no effect
    #: here (``format``: asyncflag keeps an upload's own type and writes arrays as PNG)
    gradio_keywords = frozenset(
        {"format", "height", "placeholder", "sources", "watermark", "webcam_options", "width"}
    )

    shortcuts = ("image",)
    accept = "image/*"
    page_script = """asyncflag.register("image", {
  setup(el) {
    const preview = document.createElement("img");
    preview.className = "preview"; preview.alt = "preview of the chosen image";
    preview.hidden = true;
    el.after(preview);
    el.addEventListener("change", () => {
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.hidden = !el.files.length;
      if (el.files.length) preview.src = URL.createObjectURL(el.files[0]);
      else preview.removeAttribute("src");
    });
  },
  read: el => el.files.length ? el.files[0] : null,
  show(el, value) {
    const img = document.createElement("img");
    img.src = value; img.alt = "output image";
    el.appendChild(img);
  },
});"""
    page_style = """.field img.preview { max-width: 100%; max-height: 16rem; object-fit: contain;
  align-self: flex-start; border: 1px solid #ddd; border-radius: 4px; }"""
    default_suffix = ".png"

    def __init__(
        self,
        label: str | None = None,
        *,
        type: Literal["numpy", "pil", "filepath", "raw"] = "numpy",
        image_mode: str | None = "RGB",
        max_size: int | None = None,
        max_pixels: int = MAX_IMAGE_PIXELS,
    ) -> None:
        super().__init__(label, max_size=max_size)
        #: what ``fn`` receives, as in Gradio: ``"numpy"`` (a height x width x channels
        #: ``uint8`` array), ``"pil"`` (a PIL image) or ``"filepath"`` (a ``str``); or
        #: ``"raw"``: the checked value itself (an upload's :class:`FileData`...)
        self.type = one_of("type", type, ("numpy", "pil", "filepath", "raw"))
        #: the PIL mode ``fn``'s image is converted to (``"RGB"`` as in Gradio, ``"L"``
        #: for grey, ``None`` to keep the file's own); GIFs keep theirs, as in Gradio
        self.image_mode = one_of("image_mode", image_mode, IMAGE_MODES)
        #: the most pixels (width x height) an encoded image (bytes, a file) may declare
        self.max_pixels = positive_int_or_none("max_pixels", max_pixels) or MAX_IMAGE_PIXELS

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """The image as Gradio hands it to ``fn``, by :attr:`type`: a numpy array, a PIL
        image, or the path of a file in ``run_dir``, in :attr:`image_mode` (uploads are
        turned upright by their EXIF orientation first, as Gradio does).

        A ``"filepath"`` image already in that mode is the uploaded file itself (under a
        random name and the suffix of its format); one converted is saved as PNG.
        Decoding runs in a worker thread; the pixel count was checked at the call.
        ``"raw"`` hands over the checked value as it is.
        """
        if self.type == "raw":
            return value
        try:
            from PIL import Image as PILImage
            from PIL import ImageOps
        except ImportError:  # pragma: no cover - checked by the optional extra
            raise FlagValueError(
                f"Image(type={self.type!r}) needs Pillow: pip install 'asyncflag[images]' "
                "(or set type='filepath')"
            ) from None
        encoded = isinstance(value, bytes | FileData | Path)
        image: PILImage.Image
        kind: str | None
        if self.type == "numpy" and _is_ndarray(value) and self.image_mode is None:
            return value
        try:
            if encoded:
                data = value.read_bytes() if isinstance(value, Path) else _data_of(value)
                kind = _image_kind(data[:_HEAD_BYTES])
                image = PILImage.open(io.BytesIO(data), formats=[kind] if kind else None)
                image.load()
            elif _is_ndarray(value):
                image = PILImage.fromarray(value)
                kind = None
            else:
                image, kind = value, None
            if self.type == "filepath" and encoded and self.image_mode in (None, image.mode):
                return self.file_path(value, run_dir)
            if encoded:
                image = ImageOps.exif_transpose(image) or image
            if kind != "GIF" and self.image_mode is not None and image.mode != self.image_mode:
                image = image.convert(self.image_mode)
        except FlagValueError:
            raise
        except Exception as exc:  # Pillow raises many kinds for damaged or hostile files
            raise FlagValueError(
                f"Image {self.label!r}: the image could not be decoded: {short_repr(exc)}"
            ) from None
        if self.type == "pil":
            return image
        if self.type == "numpy":
            import numpy as np

            return np.array(image)
        if image.mode not in _PNG_MODES:
            image = self._png_ready(image)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return _write_run_file(run_dir, buffer.getvalue(), ".png")

    def check(self, value: Any) -> Any:
        """As :meth:`FileComponent.check`; encoded images (bytes, :class:`FileData`, a
        path) must also be an image by their content, whatever their name says.

        The format is told from the first bytes: PNG, JPEG, GIF, WebP, BMP, TIFF or ICO,
        and the file is saved under that format's suffix (never the client's: an upload
        named ``x.html`` holding a PNG is saved as ``.png``; one holding HTML is refused,
        as Gradio refuses what Pillow cannot open). With Pillow installed the image is
        also opened (lazily: only its header is read) as that format, and one declaring
        more than ``max_pixels`` pixels is refused (a decompression bomb). Pillow's own
        ``PIL.Image.MAX_IMAGE_PIXELS`` check applies too.

        :raises FlagValueError: for content that is not such an image
        """
        checked = super().check(value)
        if isinstance(checked, bytes | FileData | Path):
            self._check_image(checked)
        return checked

    def _check_image(self, value: bytes | FileData | Path) -> None:
        head = _head_of(value)
        kind = _image_kind(head)
        if kind is None:
            raise FlagValueError(
                f"Image {self.label!r}: the content is not a {_IMAGE_NAMES} image "
                f"(it starts with {head[:16]!r}); an Image stores images only, named by "
                "their content (use File for other files)"
            )
        try:
            from PIL import Image as PILImage
        except ImportError:  # pragma: no cover - without Pillow the first bytes decide
            return
        try:
            source = value if isinstance(value, Path) else io.BytesIO(_data_of(value))
            with PILImage.open(source, formats=[kind]) as image:
                width, height = image.size
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
            raise FlagValueError(
                f"Image {self.label!r}: {exc} (Pillow's PIL.Image.MAX_IMAGE_PIXELS limit)"
            ) from None
        except Exception as exc:  # Pillow raises many kinds for damaged or hostile files
            raise FlagValueError(
                f"Image {self.label!r}: the content starts like a {kind} image but Pillow "
                f"cannot read it: {short_repr(exc)}"
            ) from None
        if width * height > self.max_pixels:
            raise FlagValueError(
                f"Image {self.label!r}: {width} x {height} pixels is over the limit of "
                f"{self.max_pixels} pixels (Image(max_pixels=...) raises it)"
            )

    def payload(self, value: Any) -> tuple[FilePayload, str]:
        """As :meth:`FileComponent.payload`; the suffix of an encoded image is its format's."""
        if isinstance(value, bytes | FileData | Path):
            kind = _image_kind(_head_of(value))
            if kind is None:  # a file changed since the call
                raise FlagValueError(f"Image {self.label!r}: the content is no longer an image")
            return (value if isinstance(value, Path) else _data_of(value)), _IMAGE_KINDS[kind]
        return super().payload(value)

    def _check_other(self, value: Any) -> Any:
        if _is_pil_image(value):
            width, height = value.size
            self._check_size(width * height * len(value.getbands()))
            if value.mode not in _PNG_MODES:
                return self._png_ready(value)
            return value
        if _is_ndarray(value):
            try:
                array = _image_array(value)
            except TypeError as exc:
                raise FlagValueError(f"Image {self.label!r}: {exc}") from None
            self._check_size(array.nbytes)
            return array
        raise self._reject(value, "bytes, a path, a PIL image or a numpy array")

    def _png_ready(self, image: Any) -> Any:
        """A PIL image in a mode PNG stores exactly: deep modes by their values (as arrays
        are), colour spaces as RGB(A); refused when neither is possible."""
        from PIL import Image as PILImage

        mode = image.mode
        try:
            if mode == "F" or mode.startswith("I"):  # 32-bit float or int, 16-bit ints
                import numpy as np

                pixels = np.asarray(image)
                if pixels.dtype.kind in "iu" and pixels.size and 255 < pixels.max() <= 65535:
                    if pixels.min() >= 0:
                        return PILImage.fromarray(pixels.astype(np.uint16))
                return PILImage.fromarray(_image_array(pixels))
            return image.convert("RGBA" if mode in _ALPHA_MODES else "RGB")
        except (TypeError, ValueError) as exc:
            raise FlagValueError(
                f"Image {self.label!r}: cannot store a PIL image in mode {mode}: {exc}"
            ) from None

    def _encode_other(self, value: Any) -> tuple[FilePayload, str]:
        try:
            from PIL import Image as PILImage
        except ImportError:  # pragma: no cover - checked by the optional extra
            raise FlagValueError(
                "saving PIL images or arrays needs Pillow: pip install 'asyncflag[images]'"
            ) from None
        data = _encoded_images.get(value)
        if data is None:
            image = value if _is_pil_image(value) else PILImage.fromarray(value)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            data = buffer.getvalue()
            _encoded_images.put(value, data)
        return data, ".png"


class _EncodedImages:
    """The PNG of the in-memory images (PIL images, arrays) encoded last, so that an image
    the page shows and the writer then saves (or a replica sends through a stream) is
    encoded once.

    Keyed by the checked value's identity, held weakly: an entry goes when its image
    does, and at most ``size`` entries are kept. Worker threads share it (a lock).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[weakref.ref[Any], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        #: entries whose image is gone. A weakref callback only appends here (it may run
        #: inside a garbage collection on a thread that holds the lock); the next get or
        #: put removes them.
        self._gone: list[tuple[int, weakref.ref[Any]]] = []

    def get(self, image: Any) -> bytes | None:
        """The PNG of ``image`` if it was encoded lately, else ``None``."""
        with self._lock:
            self._forget_gone()
            entry = self._entries.get(id(image))
            if entry is None or entry[0]() is not image:
                return None
            self._entries.move_to_end(id(image))
            return entry[1]

    def put(self, image: Any, data: bytes) -> None:
        """Keep ``data`` as the PNG of ``image`` while ``image`` lives."""
        key = id(image)
        try:
            ref = weakref.ref(image, lambda ref: self._gone.append((key, ref)))
        except TypeError:  # not weakly referenceable: not cached
            return
        with self._lock:
            self._forget_gone()
            self._entries[key] = (ref, data)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def _forget_gone(self) -> None:
        while self._gone:
            key, ref = self._gone.pop()
            entry = self._entries.get(key)
            if entry is not None and entry[0] is ref:
                del self._entries[key]


_encoded_images = _EncodedImages()


def _player_script(tag: str) -> str:
    """The page script of a file component played by ``<audio>`` or ``<video>``: an input
    previews the chosen file in a player, an output is shown in one."""
    return """asyncflag.register("{tag}", {
  setup(el) {  // a player of the chosen file, to check it before submitting
    const preview = document.createElement("{tag}");
    preview.className = "preview"; preview.controls = true; preview.hidden = true;
    preview.setAttribute("aria-label", "preview of the chosen {tag}");
    el.after(preview);
    el.addEventListener("change", () => {
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.hidden = !el.files.length;
      if (el.files.length) preview.src = URL.createObjectURL(el.files[0]);
      else preview.removeAttribute("src");
    });
  },
  read: el => el.files.length ? el.files[0] : null,
  show(el, value) {
    const {tag} = document.createElement("{tag}");
    {tag}.controls = true; {tag}.src = value;
    el.appendChild({tag});
  },
});""".replace("{tag}", tag)


class Audio(FileComponent):
    """Audio. Also takes Gradio's ``(sample_rate, numpy array)`` pair, saved as 16-bit WAV.

    Encoded audio (bytes, :class:`FileData`, a path) is saved under the suffix of the
    format its first bytes show (WAV, MP3, AAC, Ogg, FLAC, M4A/MP4, WebM, AIFF, AMR),
    never the client's name: audio content comes in more containers than can all be told
    apart, so content that is none of these is still saved, as ``.bin``, which no
    browser runs.
    """

    type_name = "audio"
    #: Gradio's keywords of the player and of the recorder, which have no effect here
    gradio_keywords = frozenset(
        {
            "autoplay",
            "editable",
            "format",
            "loop",
            "playback_position",
            "recording",
            "sources",
            "subtitles",
            "waveform_options",
        }
    )

    shortcuts = ("audio",)
    accept = "audio/*"
    page_style = """.field audio.preview { max-width: 100%; align-self: flex-start; }"""
    page_script = _player_script("audio")
    default_suffix = ".bin"

    def __init__(
        self,
        label: str | None = None,
        *,
        type: Literal["numpy", "filepath", "raw"] = "numpy",
        max_size: int | None = None,
    ) -> None:
        super().__init__(label, max_size=max_size)
        #: what ``fn`` receives, as in Gradio: ``"numpy"`` (a ``(sample_rate, samples)``
        #: pair) or ``"filepath"`` (a ``str``); or ``"raw"``: the checked value itself
        self.type = one_of("type", type, ("numpy", "filepath", "raw"))

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """The audio as Gradio hands it to ``fn``, by :attr:`type`.

        ``"numpy"``: ``(sample_rate, samples)``, the samples an int array of shape
        ``(frames,)`` for mono or ``(frames, channels)``, as Gradio's pydub decoding gives
        them: ``int16`` for 8 and 16-bit sources (8-bit scaled up) and for lossy ones
        (MP3, Ogg Vorbis/Opus), ``int32`` for 24 and 32-bit and float sources (scaled to
        the full range). PCM WAV is decoded with the standard library; other formats
        (float WAV, FLAC, Ogg, MP3, AIFF...) with ``soundfile`` (the ``audio`` extra:
        ``pip install 'asyncflag[audio]'``), up to :data:`MAX_DECODED_SAMPLES`; what
        neither decodes is refused with a clear error at the call (use
        ``type="filepath"`` for it). ``"filepath"``: the path of the file (in ``run_dir``
        unless the caller gave a path), a pair saved as WAV. ``"raw"``: the checked value
        as it is.
        """
        if self.type == "raw":
            return value
        if self.type == "filepath":
            return self.file_path(value, run_dir)
        if isinstance(value, tuple):
            return value
        data = value.read_bytes() if isinstance(value, Path) else _data_of(value)
        kind = _audio_suffix(data[:_HEAD_BYTES])
        if kind == ".wav":
            try:
                return _decode_wav(data)
            except (wave.Error, EOFError, ValueError):
                pass  # float or compressed WAV: soundfile's
        return self._decode_with_soundfile(data, kind)

    def _decode_with_soundfile(self, data: bytes, kind: str) -> tuple[int, Any]:
        import numpy as np

        what = kind[1:].upper() + " audio" if kind else "this content"
        try:
            import soundfile
        except (ImportError, OSError):
            raise FlagValueError(
                f"Audio {self.label!r} hands fn a (sample_rate, array) pair; decoding {what} "
                "needs soundfile: pip install 'asyncflag[audio]' (or send PCM WAV, or use "
                "Audio(type='filepath') to receive the file)"
            ) from None
        try:
            with soundfile.SoundFile(io.BytesIO(data)) as source:
                channels = source.channels
                subtype = source.subtype or ""
                most = MAX_DECODED_SAMPLES // channels
                if subtype in ("FLOAT", "DOUBLE"):
                    # libsndfile does not scale float samples read as ints: scale them to
                    # int32's full range as ffmpeg does for pydub
                    floats = source.read(most + 1, dtype="float64", always_2d=False)
                    scaled = np.clip(np.nan_to_num(floats) * 2.0**31, -(2.0**31), 2.0**31 - 1)
                    samples = scaled.astype(np.int32)
                else:
                    sixteen = _SIXTEEN_BITS.search(subtype) or subtype in _LOSSY
                    dtype = "int16" if sixteen else "int32"
                    samples = source.read(most + 1, dtype=dtype, always_2d=False)
                rate = source.samplerate
        except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
            reason = getattr(exc, "error_string", None) or str(exc)
            raise FlagValueError(
                f"Audio {self.label!r}: {what} could not be decoded: {reason} "
                "(use Audio(type='filepath') to receive the file as it is)"
            ) from None
        if len(samples) > most:
            raise FlagValueError(
                f"Audio {self.label!r}: {what} decodes to more than {MAX_DECODED_SAMPLES} "
                "samples (asyncflag.components.files.MAX_DECODED_SAMPLES, 10 minutes of 48 kHz "
                "stereo); send a shorter clip or use Audio(type='filepath')"
            )
        return rate, samples

    def payload(self, value: Any) -> tuple[FilePayload, str]:
        """As :meth:`FileComponent.payload`; the suffix comes from the content only."""
        if isinstance(value, bytes | FileData | Path):
            suffix = _audio_suffix(_head_of(value)) or self.default_suffix
            return (value if isinstance(value, Path) else _data_of(value)), suffix
        return super().payload(value)

    def _check_other(self, value: Any) -> Any:
        if not (isinstance(value, tuple) and len(value) == 2 and _is_ndarray(value[1])):
            raise self._reject(value, "bytes, a path or a (sample_rate, numpy array) pair")
        rate, samples = value
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 < rate < 2**31:
            raise FlagValueError(
                f"Audio {self.label!r}: the sample_rate must be a positive int, got {rate!r}"
            )
        try:
            _check_samples(samples)
        except TypeError as exc:
            raise FlagValueError(f"Audio {self.label!r}: {exc}") from None
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        if channels > 65535 or rate * channels * 2 >= 2**32:
            raise FlagValueError(
                f"Audio {self.label!r}: {channels} channels at {rate} Hz do not fit a WAV header"
            )
        self._check_size(_WAV_HEADER_BYTES + 2 * samples.size)  # the exact WAV size
        return rate, samples.copy()

    def _encode_other(self, value: Any) -> tuple[FilePayload, str]:
        import numpy as np

        rate, samples = value
        array = _as_int16(np.asarray(samples))
        channels = 1 if array.ndim == 1 else array.shape[1]
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(array.tobytes())
        return buffer.getvalue(), ".wav"


class Video(FileComponent):
    """A video: ``fn`` receives the path of the file and may return a path, bytes or
    :class:`FileData` (as Gradio's ``Video``, without its ffmpeg conversions).

    The content must be a video by its first bytes: MP4 (and M4V, 3GP), QuickTime
    ``.mov``, WebM, Matroska ``.mkv``, Ogg ``.ogv``, AVI, FLV or MPEG ``.mpg``; it is
    saved under that format's suffix, never the client's (an upload named ``x.html``
    holding an MP4 is saved as ``.mp4``; one holding HTML is refused: use File for
    other files). The page shows it in a ``<video controls>`` player.
    """

    type_name = "video"
    #: Gradio's keywords of the player and of the recorder, which have no effect here
    gradio_keywords = frozenset(
        {
            "autoplay",
            "format",
            "height",
            "include_audio",
            "loop",
            "playback_position",
            "sources",
            "subtitles",
            "watermark",
            "webcam_options",
            "width",
        }
    )

    shortcuts = ("video",)
    accept = "video/*"
    page_script = _player_script("video")
    page_style = """.output[data-type=video] video, .field video.preview { max-width: 100%;
  max-height: 24rem; align-self: flex-start; }"""
    default_suffix = ".mp4"

    def check(self, value: Any) -> Any:
        """As :meth:`FileComponent.check`; the content must also be a video (see the class).

        :raises FlagValueError: for content that is not such a video
        """
        checked = super().check(value)
        if checked is not None:
            head = _head_of(checked)
            if not _video_suffix(head):
                raise FlagValueError(
                    f"Video {self.label!r}: the content is not a {_VIDEO_NAMES} video (it "
                    f"starts with {head[:16]!r}); a Video stores videos only, named by their "
                    "content (use File for other files)"
                )
        return checked

    def preprocess(self, value: Any, run_dir: Path) -> str:
        """The path of the video file (in ``run_dir`` unless the caller gave a path)."""
        return self.file_path(value, run_dir)

    def payload(self, value: Any) -> tuple[FilePayload, str]:
        """As :meth:`FileComponent.payload`; the suffix is the video format's."""
        suffix = _video_suffix(_head_of(value))
        if not suffix:  # a file changed since the call
            raise FlagValueError(f"Video {self.label!r}: the content is no longer a video")
        return (value if isinstance(value, Path) else _data_of(value)), suffix

    async def to_client(self, value: Any, max_file_size: int) -> str | None:
        """As :meth:`FileComponent.to_client`, typed by the video's format."""
        if value is None:
            return None

        def encode() -> str | None:
            payload, suffix = self.payload(value)
            data = payload if isinstance(payload, bytes) else payload.read_bytes()
            if len(data) > max_file_size:
                return None
            mime = _VIDEO_TYPES[suffix]
            return f"data:{mime};base64,{base64.b64encode(data).decode()}"

        return await anyio.to_thread.run_sync(encode)


#: the media type of each video suffix a Video saves
_VIDEO_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".3gp": "video/3gpp",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogv": "video/ogg",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".mpg": "video/mpeg",
}
_VIDEO_NAMES = "MP4, MOV, WebM, MKV, Ogg, AVI, FLV or MPEG"
#: QuickTime atoms a .mov may start with instead of ``ftyp``
_MOV_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _video_suffix(head: bytes) -> str:
    """The suffix of the video format the first bytes of a file show, or ``""``."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return ".mov"
        if brand.startswith(b"3g"):
            return ".3gp"
        if brand.startswith(b"M4V"):
            return ".m4v"
        if brand.startswith((b"M4A", b"M4B", b"M4P")):
            return ""  # audio in an MP4 container
        return ".mp4"
    if head[4:8] in _MOV_ATOMS:
        return ".mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm" if b"webm" in head else ".mkv"
    if head.startswith(b"OggS"):
        return ".ogv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if head.startswith(b"FLV\x01"):
        return ".flv"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return ".mpg"
    return ""


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"%PDF-", ".pdf"),
    (b"fLaC", ".flac"),
    (b"OggS", ".ogg"),
    (b"ID3", ".mp3"),
)


#: Pillow's name of each image format an Image stores, and the suffix it is saved under
_IMAGE_KINDS = {
    "PNG": ".png",
    "JPEG": ".jpg",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tiff",
    "ICO": ".ico",
}
_IMAGE_NAMES = "PNG, JPEG, GIF, WebP, BMP, TIFF or ICO"
_HEAD_BYTES = 64


def _image_kind(head: bytes) -> str | None:
    """The image format the first bytes of a file show, if it is one an Image stores."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM") and len(head) >= 26:
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    return None


def _audio_suffix(head: bytes) -> str:
    """The suffix of the audio format the first bytes of a file show, or ``""``."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return ".mp3"  # an ID3 tag, or an MPEG audio layer III frame
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return ".aac"  # ADTS
    if head.startswith(b"OggS"):
        return ".ogg"
    if head.startswith(b"fLaC"):
        return ".flac"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head.startswith(b"#!AMR"):
        return ".amr"
    return ""


def _data_of(value: bytes | FileData) -> bytes:
    return value if isinstance(value, bytes) else value.data


def _head_of(value: bytes | FileData | Path) -> bytes:
    """The first bytes of a payload (blocking for a path: reads them)."""
    if not isinstance(value, Path):
        return _data_of(value)[:_HEAD_BYTES]
    try:
        with value.open("rb") as file:
            return file.read(_HEAD_BYTES)
    except OSError as exc:
        raise FlagValueError(f"cannot read {str(value)!r}: {exc.strerror}") from None


def _sniff_suffix(data: bytes) -> str:
    for magic, suffix in _MAGIC:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] in (b"WAVE", b"WEBP"):
        return ".wav" if data[8:12] == b"WAVE" else ".webp"
    return ""


#: the folder Gradio copies each flagged file into: 20 random hex digits
_GRADIO_FILE_FOLDER = re.compile(r"[0-9a-f]{20}")


def _gradio_file_cell(text: str) -> str | None:
    """``<label>/<hex>/<name>``, the end of a file cell Gradio wrote
    (``<its flagging_dir>/<label>/<20 hex digits>/<name>``), or ``None`` for any other
    cell."""
    if "\x00" in text:
        return None
    parts = text.replace("\\", "/").split("/")
    if len(parts) < 4 or not _GRADIO_FILE_FOLDER.fullmatch(parts[-2]):
        return None
    if any(part in ("", ".", "..") for part in parts[-3:]):
        return None
    return "/".join(parts[-3:])


def _unsafe_cell(text: str, root: Path, path: Path) -> str:
    """Why a file cell does not name a file inside ``root``, or ``""`` if it does."""
    if "\x00" in text:
        return "holds a NUL byte"
    if os.path.isabs(text):
        return "is an absolute path"
    parts = [part for part in text.split(os.sep) if part not in ("", ".")]
    if ".." in parts:
        return "climbs out with '..'"
    if parts and not _has_symlink(root, parts):
        return ""  # plain names below the root, none a symlink: inside, without resolving
    try:
        resolved, top = path.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return "cannot be resolved"
    if resolved == top:
        return "names the flagging directory itself"
    return "" if resolved.is_relative_to(top) else "leads outside through a symlink"


def _has_symlink(root: Path, parts: list[str]) -> bool:
    """Whether any of ``root/parts[0]``, ``root/parts[0]/parts[1]``... is a symlink."""
    path = str(root)
    for part in parts:
        path = os.path.join(path, part)
        if os.path.islink(path):
            return True
    return False


def _suffix_of(name: str) -> str:
    """The suffix of a file name, if it is a plain one (``.png``, not ``./../x``)."""
    suffix = Path(name).suffix.lower()
    if 1 < len(suffix) <= 10 and suffix[1:].isalnum() and suffix[1:].isascii():
        return suffix
    return ""


def _is_pil_image(value: Any) -> bool:
    return any(
        cls.__module__.startswith("PIL.") and cls.__name__ == "Image" for cls in type(value).__mro__
    )


def _image_array(value: Any) -> Any:
    """A copy of an image array in a form Pillow saves as PNG, or TypeError saying why not."""
    import numpy as np

    array = np.asarray(value)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or not array.size:
        raise TypeError(
            f"an image array is height x width (x 1, 3 or 4 channels), got shape {array.shape}"
        )
    kind = array.dtype.kind
    if kind == "b":  # 1-bit pixels; PNG has no 1-bit colour, so those become 0 or 255
        return array.copy() if array.ndim == 2 else array.astype(np.uint8) * np.uint8(255)
    if array.dtype == np.uint8:
        return array.copy()
    if kind in "iu":
        if array.min() < 0 or array.max() > 255:
            raise TypeError("integer pixels must be in 0..255")
        return array.astype(np.uint8)
    if kind == "f":
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise TypeError("float pixels must be finite and in 0..1")
        return (array * 255).round().astype(np.uint8)
    raise TypeError(f"cannot save {array.dtype} pixels as an image")


#: the PIL modes saved as PNG exactly, without a warning
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
_ALPHA_MODES = frozenset({"RGBa", "PA"})

_WAV_HEADER_BYTES = 44


def _as_int16(array: Any) -> Any:
    """Samples as 16-bit ints: floats in -1..1 scaled (and clipped); integers are sample
    values already, checked at the call to fit in 16 bits, so nothing wraps around."""
    import numpy as np

    if array.dtype.kind == "f":
        return (np.clip(array.astype(np.float64), -1.0, 1.0) * 32767).astype("<i2")
    return array.astype("<i2")


def _check_samples(samples: Any) -> None:
    import numpy as np

    if samples.dtype.kind not in "iuf" or samples.ndim not in (1, 2) or not samples.size:
        raise TypeError(
            "the samples are a non-empty 1-d (mono) or 2-d (frames x channels) array of "
            f"numbers, got {samples.dtype} with shape {samples.shape}"
        )
    if samples.dtype.kind == "f" and not np.isfinite(samples).all():
        raise TypeError("the samples must be finite")
    if samples.dtype.kind in "iu" and samples.dtype.itemsize > 1 and samples.dtype != np.int16:
        if samples.min() < -32768 or samples.max() > 32767:
            raise TypeError(
                "integer samples are 16-bit sample values: they must be in -32768..32767 "
                "(scale wider ones first; floats in -1..1 are scaled for you)"
            )


def _is_ndarray(value: Any) -> bool:
    return type(value).__name__ == "ndarray" and type(value).__module__ == "numpy"


#: the PIL modes an Image may convert ``fn``'s image to (Gradio's choices), or ``None``
IMAGE_MODES = (None, "1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F")


def _write_run_file(run_dir: Path, payload: FilePayload, suffix: str) -> str:
    """Write ``payload`` into ``run_dir`` under a fresh random name; return its path."""
    path = run_dir / (secrets.token_hex(12) + suffix)
    try:
        if isinstance(payload, Path):
            with payload.open("rb") as source, path.open("xb") as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
        else:
            with path.open("xb") as target:
                target.write(payload)
    except OSError as exc:
        raise FlagValueError(
            f"cannot write the input's file into the run's folder {str(run_dir)!r}: "
            f"{exc.strerror} (is the temporary directory full?)"
        ) from None
    return str(path)


#: libsndfile subtypes decoded to int16 (as Gradio's pydub gives them): 8 and 16-bit
#: PCM (and the like) and the lossy codecs, which ffmpeg hands pydub as 16-bit
_SIXTEEN_BITS = re.compile(r"(?:^|_)(?:S8|U8|16)$")
_LOSSY = frozenset({"VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III"})


def _decode_wav(data: bytes) -> tuple[int, Any]:
    """``(sample_rate, samples)`` of a PCM WAV: int16 for 8/16-bit, int32 for 24/32-bit."""
    import numpy as np

    with wave.open(io.BytesIO(data), "rb") as source:
        rate, channels, width = source.getframerate(), source.getnchannels(), source.getsampwidth()
        frames = source.readframes(source.getnframes())
    if width == 1:
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.int16) - 128) * 256
    elif width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.int16)
    elif width == 3:
        raw = np.frombuffer(frames[: len(frames) // 3 * 3], dtype=np.uint8).reshape(-1, 3)
        samples = (
            raw[:, 0].astype(np.int32) << 8
            | raw[:, 1].astype(np.int32) << 16
            | raw[:, 2].astype(np.int32) << 24
        )
    elif width == 4:
        samples = np.frombuffer(frames, dtype="<i4").astype(np.int32)
    else:  # pragma: no cover - the wave module refuses other widths
        raise ValueError(f"{8 * width}-bit samples")
    samples = samples[: len(samples) // channels * channels]
    return rate, samples if channels == 1 else samples.reshape(-1, channels)


#: the media type of each image format an Image stores (Pillow's name)
_IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "ICO": "image/vnd.microsoft.icon",
}
#: the media type of each audio suffix an Audio saves
_AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
    ".aiff": "audio/aiff",
    ".amr": "audio/amr",
}


def media_type(head: bytes, kind: Literal["image", "audio", "video"]) -> str | None:
    """The media type of the ``kind`` of content the first bytes of a file show (as the
    Image, Audio and Video components tell formats apart), or ``None`` for content that
    is not such an image, audio or video. SVG is never an image here: a browser runs its
    scripts.

    :param kind: what the file is meant to be (the container formats Ogg, WebM and MP4
        hold audio or video)
    """
    if kind == "image":
        image = _image_kind(head)
        return _IMAGE_TYPES[image] if image else None
    if kind == "video":
        video = _video_suffix(head)
        return _VIDEO_TYPES[video] if video else None
    audio = _audio_suffix(head)
    return _AUDIO_TYPES[audio] if audio else None

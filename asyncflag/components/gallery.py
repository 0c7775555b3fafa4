"""Several images in one cell: :class:`Gallery`, as Gradio's ``gr.Gallery``."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ..checks import one_of, positive_int_or_none, writable_text
from ..errors import FlagValueError
from ..escaping import escape, unescape_optional
from .base import Cell, Component, ComponentSpec, Limit
from .files import MAX_IMAGE_PIXELS, FileData, FilePayload, Image, saved_file
from .values import short_repr

__all__ = ["MAX_GALLERY_UPLOADS", "Gallery"]

#: how many images the page (or a client) may upload to one Gallery without ``max_images``
MAX_GALLERY_UPLOADS = 100


class Gallery(Component):
    """A list of images with optional captions, all in one cell (Gradio's ``Gallery``).

    ``fn`` may return a list of images, or of ``(image, caption)`` pairs (also Gradio's
    ``{"image": ..., "caption": ...}`` mappings); an image is anything :class:`Image`
    takes (a numpy array, a PIL image, a path, bytes, :class:`FileData`) and is checked as
    an ``Image`` checks it (an image by its content, at most ``max_pixels`` pixels). Each is
    saved under the component's folder named by its content, and the cell is Gradio's JSON
    list ``[{"image": "<label>/<sha>.png", "caption": ...}]``; ``load_flagged`` gives a
    list of ``(absolute path, caption)`` pairs, ``None`` for no gallery. Videos in a
    gallery are not supported (Gradio's ``GalleryVideo``): use :class:`Video`.

    :param type: what ``fn`` receives for an input, as Gradio's ``preprocess``: a list
        of ``(image, caption)`` pairs, each image a file path (``"filepath"``, Gradio's
        default), a numpy array (``"numpy"``) or a PIL image (``"pil"``); ``None`` for no
        images. ``"raw"`` hands over the checked pairs as they are.
    :param max_images: the most images one value may hold
    :param max_size: the most bytes all the images of one value may hold together
        (encoded files by their size, in-memory images by their pixel data)
    :param max_pixels: the most pixels each encoded image may declare
    """

    type_name = "gallery"
    #: Gradio's keywords of the grid and of the picker, which have no effect here
    #: (``format``: asyncflag keeps an upload's own type and writes arrays as PNG;
    #: ``file_types`` is refused: it would change what is accepted)
    gradio_keywords = frozenset(
        {
            "allow_preview",
            "columns",
            "fit_columns",
            "format",
            "height",
            "object_fit",
            "preview",
            "rows",
            "selected_index",
            "sources",
        }
    )
    shortcuts = ("gallery",)
    #: the ``accept`` attribute of the page's file input
    accept = "image/*"
    takes_upload = True
    holds_files = True
    max_uploads = MAX_GALLERY_UPLOADS

    class Spec(ComponentSpec):
        max_size: Limit = None
        max_images: Limit = None
        max_pixels: Limit = None

    def __init__(
        self,
        label: str | None = None,
        *,
        type: Literal["filepath", "numpy", "pil", "raw"] = "filepath",
        max_images: int | None = None,
        max_size: int | None = None,
        max_pixels: int | None = MAX_IMAGE_PIXELS,
    ) -> None:
        super().__init__(label)
        self.max_size = positive_int_or_none("max_size", max_size)
        #: what ``fn`` receives for each image (see the class)
        self.type = one_of("type", type, ("filepath", "numpy", "pil", "raw"))
        self.max_images = positive_int_or_none("max_images", max_images)
        self.max_pixels = positive_int_or_none("max_pixels", max_pixels) or MAX_IMAGE_PIXELS
        if self.max_images is not None:
            self.max_uploads = min(self.max_images, MAX_GALLERY_UPLOADS)
        # each image is checked, saved and decoded as an Image with no mode conversion
        # (Gradio's Gallery opens the file as it is)
        image_type: Literal["filepath", "numpy", "pil"] = (
            "numpy" if type == "numpy" else "pil" if type == "pil" else "filepath"
        )
        self._image = Image(type=image_type, image_mode=None, max_pixels=self.max_pixels)

    # -- checking -----------------------------------------------------------------------

    def check(self, value: Any) -> list[tuple[Any, str | None]] | None:
        """The images and captions as a list of ``(image, caption)`` pairs.

        :raises FlagValueError: for a value that is not a list of images or pairs, an
            image ``Image`` refuses, a caption that is not text, more than ``max_images``
            images or more than ``max_size`` bytes in all
        """
        if value is None:
            return None
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise self._reject(value, "a list of images or of (image, caption) pairs")
        if self.max_images is not None and len(value) > self.max_images:
            raise FlagValueError(
                f"Gallery {self.label!r}: {len(value)} images is over the limit of "
                f"{self.max_images} (Gallery(max_images=...) raises it)"
            )
        checked: list[tuple[Any, str | None]] = []
        total = 0
        for number, item in enumerate(value):
            image, caption = self._pair(number, item)
            try:
                image = self._image.check(image)
            except FlagValueError as exc:  # Image's words, said of this gallery
                why = (
                    str(exc)
                    .removeprefix(f"Image {self._image.label!r}: ")
                    .replace("Image(", "Gallery(")
                )
                raise FlagValueError(f"Gallery {self.label!r}, image {number}: {why}") from None
            total += _size_of(image)
            if self.max_size is not None and total > self.max_size:
                raise FlagValueError(
                    f"Gallery {self.label!r}: the images hold more than the limit of "
                    f"{self.max_size} bytes together (at image {number}: {total} bytes; "
                    "Gallery(max_size=...) raises it)"
                )
            checked.append((image, caption))
        return checked

    def _pair(self, number: int, item: Any) -> tuple[Any, str | None]:
        if isinstance(item, Mapping) and "image" in item:
            image, caption = item["image"], item.get("caption")
        elif isinstance(item, tuple | list):
            if len(item) != 2:
                raise FlagValueError(
                    f"Gallery {self.label!r}, image {number}: a pair is (image, caption), "
                    f"got {len(item)} items"
                )
            image, caption = item
        else:
            image, caption = item, None
        if image is None:
            raise FlagValueError(f"Gallery {self.label!r}, image {number}: the image is None")
        if caption is not None:
            if not isinstance(caption, str):
                raise FlagValueError(
                    f"Gallery {self.label!r}, image {number}: a caption is a string or None, "
                    f"got {type(caption).__name__} {short_repr(caption)}"
                )
            writable_text(f"the caption of image {number}", caption)
        return image, caption

    # -- files in a cell --------------------------------------------------------------------

    def files(self, value: Any) -> list[Any]:
        """The images of the pairs (none for ``None``).

        :raises FlagValueError: for a value that is not a list of pairs (a stream's)
        """
        if value is None:
            return []
        if not isinstance(value, list | tuple) or not all(
            isinstance(pair, list | tuple) and len(pair) == 2 for pair in value
        ):
            raise FlagValueError(
                f"Gallery {self.label!r}: a gallery travels as a list of [image, caption] "
                f"pairs, got {type(value).__name__} {short_repr(value)}"
            )
        return [image for image, _ in value]

    def with_files(self, value: Any, files: Sequence[Any]) -> Any:
        """The pairs with their images replaced by ``files``."""
        if value is None:
            return None
        return [(file, caption) for file, (_, caption) in zip(files, value, strict=True)]

    def file_payload(self, file: Any) -> tuple[FilePayload, str]:
        """What :class:`Image` saves for the image: its file, or PNG for pixels."""
        return self._image.payload(file)

    def limit_file_size(self, cap: int) -> None:
        """``max_size`` (all the images together) becomes at most ``cap``."""
        self.max_size = min(self.max_size or cap, cap)

    def from_uploads(self, uploads: Sequence[Any]) -> Any:
        """The uploaded images, without captions."""
        return [(upload, None) for upload in uploads] or None

    # -- cells ------------------------------------------------------------------------------

    def to_cell(self, value: Any) -> Cell:
        """Gradio's cell: ``json.dumps`` of ``[{"image": path, "caption": ...}]`` (the
        writer replaced the images by their saved paths); empty for ``None``."""
        if value is None:
            return ""
        return escape(json.dumps([{"image": path, "caption": caption} for path, caption in value]))

    def arrow_type(self) -> Any:
        """A list of ``{image, caption}`` structs: the image's path and the caption."""
        import pyarrow

        return pyarrow.list_(
            pyarrow.struct([("image", pyarrow.string()), ("caption", pyarrow.string())])
        )

    def to_arrow_value(self, value: Any) -> Any:
        """The ``(path, caption)`` pairs as ``{"image", "caption"}`` dicts."""
        if value is None:
            return None
        return [{"image": str(image), "caption": caption} for image, caption in value]

    def from_cell(self, cell: str, flagging_dir: Path) -> list[tuple[str, str | None]] | None:
        """The ``(absolute path, caption)`` pairs of a cell, ``None`` for an empty cell.

        Each path must stay inside ``flagging_dir``, as a :class:`FileComponent` cell's.

        :raises UnsafePathError: for a path outside ``flagging_dir``
        :raises ValueError: for a cell that is not Gradio's JSON list of images
        """
        text = unescape_optional(cell)
        if not text:
            return None
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if not isinstance(items, list) or not all(_is_cell_item(item) for item in items):
            raise ValueError(
                f"Gallery {self.label!r}: a Gallery cell is the JSON of a list of "
                f'{{"image": path, "caption": text or null}}, got {short_repr(text)}'
            )
        root = Path(flagging_dir)
        return [(saved_file(self, item["image"], root), item.get("caption")) for item in items]

    # -- what fn receives and the page ------------------------------------------------------

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """Gradio's: ``None`` for no images, else ``(image, caption)`` pairs, each image
        as :attr:`type` says (a path in ``run_dir`` unless the caller gave one, a numpy
        array or a PIL image)."""
        if not value:
            return None
        if self.type == "raw":
            return value
        return [(self._image.preprocess(image, run_dir), caption) for image, caption in value]

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        """``[{"image": data URL or None (over max_file_size), "caption": ...}]``."""
        if value is None:
            return None
        return [
            {"image": await self._image.to_client(image, max_file_size), "caption": caption}
            for image, caption in value
        ]

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "max_size": self.max_size,
            "max_images": self.max_images,
            "receives": self.type,
        }

    def control_html(self, attributes: str) -> str:
        return f'<input type="file" multiple accept="{html.escape(self.accept)}" {attributes}>'

    page_script = """asyncflag.register("gallery", {
  setup(el) {
    const grid = document.createElement("div");
    grid.className = "gallery-grid previews";
    el.after(grid);
    el.addEventListener("change", () => {
      grid.querySelectorAll("img").forEach(img => URL.revokeObjectURL(img.src));
      grid.replaceChildren();
      for (const file of el.files) {
        const img = document.createElement("img");
        img.src = URL.createObjectURL(file); img.alt = "preview of " + file.name;
        grid.appendChild(img);
      }
    });
  },
  read: el => el.files.length ? Array.from(el.files) : null,
  show(el, value) {
    if (!Array.isArray(value)) return;
    const grid = document.createElement("div");
    grid.className = "gallery-grid";
    value.forEach((item, i) => {
      const figure = document.createElement("figure");
      if (item.image) {
        const img = document.createElement("img");
        img.src = item.image; img.alt = item.caption || "image " + (i + 1);
        figure.appendChild(img);
      } else figure.appendChild(document.createTextNode("(too large to show)"));
      if (item.caption) {
        const caption = document.createElement("figcaption");
        caption.textContent = item.caption;
        figure.appendChild(caption);
      }
      grid.appendChild(figure);
    });
    el.appendChild(grid);
  },
});"""
    page_style = """.gallery-grid { display: grid; gap: .5rem;
  grid-template-columns: repeat(auto-fill, minmax(8rem, 1fr)); }
.gallery-grid figure { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: .25rem; }
.gallery-grid img { width: 100%; height: 8rem; object-fit: contain; display: block; }
.gallery-grid figcaption { font-size: .85rem; text-align: center; overflow-wrap: anywhere; }"""

    def __repr__(self) -> str:
        return f"Gallery(label={self.label!r}, type={self.type!r}, max_images={self.max_images!r})"


def _is_cell_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("image"), str)
        and isinstance(item.get("caption"), str | None)
    )


def _size_of(image: Any) -> int:
    """How many bytes a checked image holds: an encoded one its length (a file its size),
    pixels their data."""
    if isinstance(image, bytes):
        return len(image)
    if isinstance(image, FileData):
        return len(image.data)
    if isinstance(image, Path):
        try:
            return os.stat(image).st_size
        except OSError:
            return 0
    nbytes = getattr(image, "nbytes", None)
    if isinstance(nbytes, int):  # a numpy array
        return nbytes
    width, height = image.size  # a PIL image
    return int(width * height * len(image.getbands()))

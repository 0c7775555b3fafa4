"""The input and output components of an interface, and how each stores its values.

One module per family: :mod:`.text` (Textbox, HighlightedText), :mod:`.chat` (Chatbot),
:mod:`.number` (Number, Slider, Checkbox), :mod:`.choice` (Dropdown, Radio, CheckboxGroup),
:mod:`.data` (JSON, Label, ColorPicker), :mod:`.markup` (Code, Markdown, HTML),
:mod:`.files` (File, Image, Audio, Video), :mod:`.gallery` (Gallery),
:mod:`.table` (Dataframe);
:mod:`.base` holds the :class:`Component` base class and the shortcut lookup.
"""

from __future__ import annotations

from .base import GRADIO_KEYWORDS as GRADIO_KEYWORDS
from .base import GRADIO_LAYOUT_KEYWORDS as GRADIO_LAYOUT_KEYWORDS
from .base import MAX_LABEL_LENGTH as MAX_LABEL_LENGTH
from .base import Cell as Cell
from .base import (
    Component,
    ComponentSpec,
    accepted_keywords,
    compile_checks,
    component_from,
    component_type,
    component_types,
    register,
)
from .chat import Chatbot
from .choice import CheckboxGroup, Dropdown, Radio
from .data import JSON, ColorPicker, Label
from .files import IMAGE_MODES as IMAGE_MODES
from .files import MAX_IMAGE_PIXELS as MAX_IMAGE_PIXELS
from .files import Audio, File, FileComponent, FileData, Image, Video
from .files import FilePayload as FilePayload
from .files import media_type as media_type
from .files import saved_file as saved_file
from .gallery import Gallery
from .markup import HTML, Code, Markdown
from .number import Checkbox, Number, Slider
from .table import Dataframe
from .text import HighlightedText, Textbox
from .values import MAX_JSON_DEPTH

__all__ = [
    "HTML",
    "JSON",
    "MAX_JSON_DEPTH",
    "Audio",
    "Chatbot",
    "Checkbox",
    "CheckboxGroup",
    "Code",
    "ColorPicker",
    "Component",
    "ComponentSpec",
    "Dataframe",
    "Dropdown",
    "File",
    "FileData",
    "FileComponent",
    "Gallery",
    "HighlightedText",
    "Image",
    "Label",
    "Markdown",
    "Number",
    "Radio",
    "Slider",
    "Textbox",
    "Video",
    "accepted_keywords",
    "compile_checks",
    "component_from",
    "component_type",
    "component_types",
    "register",
]

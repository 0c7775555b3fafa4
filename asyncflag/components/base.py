"""The :class:`Component` base class and the shortcut lookup :func:`component_from`.

A component knows three things about its values: whether a value can be stored
(:meth:`Component.check`, called at the call so that bad input fails there and not
in the writer), how it becomes a CSV cell (:meth:`Component.to_cell`) and how a cell
becomes a value again (:meth:`Component.from_cell`).
"""

from __future__ import annotations

import difflib
import functools
import html
import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from ..checks import writable_text
from ..errors import FlagValueError
from ..escaping import escape, unescape
from .values import short_repr

__all__ = [
    "GRADIO_KEYWORDS",
    "GRADIO_LAYOUT_KEYWORDS",
    "MAX_LABEL_LENGTH",
    "Cell",
    "Component",
    "ComponentSpec",
    "LabelText",
    "Limit",
    "accepted_keywords",
    "compile_checks",
    "page_text",
    "component_from",
    "component_type",
    "component_types",
    "json_text",
    "register",
]

Cell = str | int | float

#: the longest component label that travels through a stream, in characters
#: (re-exported as ``asyncflag.transport.wire.MAX_LABEL_LENGTH``)
MAX_LABEL_LENGTH = 1_000
#: a label as a stream's schema holds it
LabelText = Annotated[str, msgspec.Meta(max_length=MAX_LABEL_LENGTH)] | None
#: a size limit as a stream's schema holds it: a positive int, or ``None`` for none
Limit = Annotated[int, msgspec.Meta(ge=1)] | None


class ComponentSpec(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """A component as a stream's schema describes it: its type (the tag) and parameters.

    A component class with parameters declares a subclass named ``Spec`` listing them,
    each the name of an attribute and of a keyword of ``__init__``, with fixed types so
    that a hostile schema cannot nest or grow; ``"type"`` is set from the class's
    ``type_name`` when it registers.
    """

    label: LabelText = None


#: Gradio's keywords every component accepts that change how the page shows a
#: component (see :class:`Component`); they never travel in a stream's schema
GRADIO_KEYWORDS = frozenset({"info", "show_label", "interactive", "visible", "value"})
#: Gradio's layout and event keywords every component accepts and that have no effect
#: here (asyncflag lays out one column of inputs and one of outputs)
GRADIO_LAYOUT_KEYWORDS = frozenset(
    {
        "buttons",
        "container",
        "elem_classes",
        "elem_id",
        "every",
        "inputs",
        "key",
        "min_width",
        "preserved_by_key",
        "render",
        "scale",
        # Gradio 5's names of what Gradio 6 calls ``buttons``
        "show_copy_button",
        "show_download_button",
        "show_fullscreen_button",
        "show_share_button",
    }
)


class Component:
    """Base class of the components: a label and the rules for storing one value.

    Every component also takes Gradio's common keywords, so that a Gradio demo's
    components move over unchanged (``label`` stays where each class has it; Gradio's
    first positional is ``value``):

    - ``info``: a line of help shown under the label on the page;
    - ``show_label=False``: the page hides the label (screen readers still read it);
    - ``value``: the initial value, checked with :meth:`check` at construction: an
      input's control starts with it, an output shows it until the first prediction;
      it is also in ``/api/config``. A function (Gradio calls it on each page load) is
      refused: call it and pass its result;
    - ``interactive=False``: an input is read-only on the page (its value is still
      sent); ``visible=False`` (or Gradio's ``"hidden"``): the field is hidden on the
      page (an input's value is still sent);
    - the layout and event keywords in :data:`GRADIO_LAYOUT_KEYWORDS` (``scale``,
      ``min_width``, ``elem_id``, ``elem_classes``, ``render``, ``key``,
      ``container``...) are accepted and have no effect, as are a class's own
      :attr:`gradio_keywords`.

    None of them travels in a stream's schema. Any other keyword raises ``TypeError``
    naming the component, the keyword and the closest known one.
    """

    #: Gradio keywords of this type (beyond the common ones) accepted with no effect;
    #: a subclass adds its own to those of its bases
    gradio_keywords: ClassVar[frozenset[str]] = frozenset()
    #: ``info=``: help shown under the label on the page
    info: str | None = None
    #: ``show_label=``: whether the page shows the label
    show_label: bool = True
    #: ``interactive=``: ``False`` makes an input read-only on the page
    interactive: bool | None = None
    #: ``visible=``: ``False`` hides the field on the page
    visible: bool = True
    #: whether the page's input control can start with ``value=`` (and ``/api/config``
    #: show it); a file picker cannot, so a file component's ``value=`` is shown only
    #: as an output's, and its path never reaches a client
    value_on_page: ClassVar[bool] = True

    #: the name of this component type: its ``"type"`` in ``/api/config``, in a stream's
    #: schema and in the page's scripts. A subclass that sets its own is registered
    #: (see :func:`register`); one that does not is a variant of its parent
    type_name: ClassVar[str] = ""
    #: the shortcut strings that stand for this component in ``Interface(inputs="...")``
    shortcuts: ClassVar[tuple[str, ...]] = ()
    #: the parameters that travel in a stream's schema (see :class:`ComponentSpec`)
    Spec: ClassVar[type[ComponentSpec]] = ComponentSpec
    #: ``Spec`` tagged with ``type_name``: what :meth:`spec` builds (set on registering)
    spec_type: ClassVar[type[ComponentSpec] | None] = None
    #: JavaScript run once on a page that shows this type: it tells the page how to read
    #: the type's input control and show its output value, by calling
    #: ``asyncflag.register("<type_name>", {setup(el), read(el), show(el, value)})``
    #: (each optional: by default a control's ``value`` is read as text and an output
    #: shown as text). ``read`` may return a ``File`` (an upload), an array of them
    #: (several uploads for one input, sent as several ``file<N>`` parts) or any JSON value.
    page_script: ClassVar[str] = ""
    #: CSS for this type's control and output, put in the page's ``<style>``
    page_style: ClassVar[str] = ""
    #: whether :meth:`preprocess` may block (decode, write files): it then runs in a
    #: worker thread; a class whose ``preprocess`` only returns a value sets ``False``
    preprocess_in_thread: ClassVar[bool] = True
    #: whether the page sends this input as a file upload (a ``file<N>`` multipart field)
    #: rather than in the JSON body; the web API then takes it only as an upload
    takes_upload: ClassVar[bool] = False
    #: how many ``file<N>`` parts the page (or a client) may send for this input: 1
    #: for a one-file input, more for one that holds several (a Gallery)
    max_uploads: int = 0
    #: whether this component's values hold files saved under the flagging directory
    #: (see :meth:`files`): the sinks save them, the stream carries their bytes, and
    #: its cells name saved files
    holds_files: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _taking_gradio_keywords(cls, cls.__dict__["__init__"])  # type: ignore[method-assign]
        if "type_name" in cls.__dict__:
            register(cls)

    def __init__(self, label: str | None = None, **gradio: Any) -> None:
        if label is not None and not isinstance(label, str):
            raise FlagValueError(f"a component label must be a string, got {label!r}")
        if label is not None:
            writable_text("the label", label)
        self.label = label
        if gradio:
            unknown = [name for name in gradio if name not in accepted_keywords(type(self))]
            if unknown:
                raise _unknown_keyword(type(self), unknown[0], accepted_keywords(type(self)))
            self._take_gradio_keywords(gradio)

    def _take_gradio_keywords(self, gradio: dict[str, Any]) -> None:
        """Check and keep Gradio's common keywords (see the class's docstring)."""
        name = type(self).__name__
        if "info" in gradio and gradio["info"] is not None:
            self.info = page_text(f"{name} info", gradio["info"])
        for flag in ("show_label", "interactive", "visible"):
            if flag in gradio and gradio[flag] is not None:
                given = gradio[flag]
                if flag == "visible" and given == "hidden":
                    given = False
                if not isinstance(given, bool):
                    raise FlagValueError(f"{name} {flag} must be True or False, got {given!r}")
                setattr(self, flag, given)
        if "value" in gradio and gradio["value"] is not None:
            value = gradio["value"]
            if callable(value):
                raise FlagValueError(
                    f"{name} value= is a function, which asyncflag does not call on each "
                    "page load as Gradio does: call it and pass its result"
                )
            self.value = self.check(value)

    def initial_value(self) -> Any:
        """The checked ``value=`` this component was given (``None`` for none): an
        input's control starts with it and an output shows it before the first
        prediction."""
        return getattr(self, "value", None)

    def check(self, value: Any) -> Any:
        """Return ``value`` in the form this component stores.

        :raises FlagValueError: if the value cannot be stored by this component
        """
        return value

    def check_shortcut(self, name: str) -> str | None:
        """A Python expression over the variable ``name``, true only for a value that
        :meth:`check` would return unchanged without raising; ``None`` for none.

        :func:`compile_checks` tests it before calling :meth:`check` (the hot path of a
        flag): a Textbox's ``type(v) is str and v.isascii()``. It is used only when the
        class that gives it is the one whose :meth:`check` runs, or a subclass of it, so
        a subclass that overrides :meth:`check` is never bypassed by its parent's
        shortcut.
        """
        return None

    def preprocess(self, value: Any, run_dir: Path) -> Any:
        """What ``fn`` receives for a checked input value (as Gradio's ``preprocess``):
        the value itself unless a subclass says otherwise (an :class:`~asyncflag.components.Image`
        decodes its upload into a numpy array, say). What is stored and flagged stays the
        checked value.

        Only called for classes that override it, after :meth:`check` and before ``fn``
        (in a worker thread unless :attr:`preprocess_in_thread` is ``False``); a
        :class:`FlagValueError` raised here fails the call as a refused input does.

        :param run_dir: a private temporary folder of the interface's run, where a
            component that hands ``fn`` a file path writes the file (under a name it
            chooses, never one a client sent); it is removed when the run ends
        """
        return value

    # -- files in a cell: one protocol for a one-file component and a Gallery alike --

    def files(self, value: Any) -> list[Any]:
        """The files a value holds, in order (none for a component that does not
        :attr:`hold files <holds_files>`, or for ``None``): what a sink saves, each with
        :meth:`file_payload`, and what travels through a stream as ``[name, bytes]``.

        Also called on a value as a stream carried it, before it is checked: a value of
        the wrong shape raises :class:`FlagValueError`.
        """
        return []

    def with_files(self, value: Any, files: Sequence[Any]) -> Any:
        """``value`` with its :meth:`files` replaced by ``files`` (in the same order):
        by their saved paths relative to the flagging directory (what :meth:`to_cell`
        then writes), by their stream form, or by the :class:`FileData` a stream
        carried."""
        return value

    def file_payload(self, file: Any) -> tuple[bytes | Path, str]:
        """What to save for one of a checked value's :meth:`files` (bytes, or a file to
        copy) and the suffix of its file name. Blocking: runs in a worker thread."""
        raise NotImplementedError(f"{type(self).__name__} holds no files")

    def limit_file_size(self, cap: int) -> None:
        """Lower this component's size limit to ``cap`` bytes (a stream's cap on the
        files an entry carries); nothing for a component without files."""

    def from_uploads(self, uploads: Sequence[Any]) -> Any:
        """The input value of the files uploaded for it (:class:`FileData`, at most
        :attr:`max_uploads`), ``None`` for none."""
        return None

    def to_cell(self, value: Any) -> Cell:
        """Turn a checked value into a CSV cell; strings come back escaped."""
        return escape(str(value))

    def to_cells(self, values: Sequence[Any]) -> list[Cell]:
        """:meth:`to_cell` for a whole column of a batch; subclasses inline it where it is hot."""
        return list(map(self.to_cell, values))

    def from_cell(self, cell: str, flagging_dir: Path) -> Any:
        """Turn a CSV cell read from ``flagging_dir`` back into a value."""
        return unescape(cell)

    def arrow_type(self) -> Any:
        """The Arrow type of this component's column in an export (a ``pyarrow.DataType``;
        :mod:`asyncflag.export`): text by default. A subclass whose values are numbers,
        booleans, lists or structures states its own, with :meth:`to_arrow_value`.

        Only called by an export, which needs ``pip install 'asyncflag[export]'``.
        """
        import pyarrow

        return pyarrow.string()

    def to_arrow_value(self, value: Any) -> Any:
        """A value as :meth:`from_cell` gives it, in the form :meth:`arrow_type` holds
        (a Python value pyarrow converts): by default a string as it is, ``None`` as
        ``None`` (a null) and any other value as its JSON text."""
        if value is None or isinstance(value, str):
            return value
        return json_text(value)

    def config(self) -> dict[str, Any]:
        """Describe the component for a client (the web page, ``/api/config``)."""
        described: dict[str, Any] = {
            "type": type(self).type_name or type(self).__name__.lower(),
            "label": self.label,
        }
        if self.info is not None:
            described["info"] = self.info
        for flag, default in (("show_label", True), ("interactive", None), ("visible", True)):
            if getattr(self, flag) != default:
                described[flag] = getattr(self, flag)
        value = self.initial_value()
        if value is not None and self.value_on_page:
            described["value"] = msgspec.to_builtins(value, str_keys=True, enc_hook=str)
        return described

    async def to_client(self, value: Any, max_file_size: int) -> Any:
        """A checked output value as the web API sends it to the page (a JSON value);
        the value itself unless a subclass says otherwise.

        :param max_file_size: the largest file sent inline (files over it are sent as
            ``None``)
        """
        return value

    def control_html(self, attributes: str) -> str:
        """The HTML of this component's input control on the page.

        :param attributes: ``id``, ``data-index`` and ``data-type`` attributes (already
            escaped) for the element the page's script reads and sets up
        """
        return f'<textarea rows="3" {attributes}></textarea>'

    def input_html(self, index: int) -> str:
        """The page's field for this component as the input number ``index``.

        With Gradio's ``value=`` (when the class does not take ``value`` itself) the
        control carries it in ``data-value`` (JSON) for the type's ``fill`` (see
        :attr:`page_script`); ``interactive=False`` makes the field a disabled
        ``<fieldset>`` (its value is still read and sent).
        """
        label = html.escape(self.label or f"input {index}")
        attributes = (
            f'id="in{index}" data-index="{index}" data-type="{html.escape(type(self).type_name)}"'
        )
        if (
            self.value_on_page
            and "value" in self.__dict__
            and "value" not in _own_keywords(type(self))
        ):
            attributes += f' data-value="{html.escape(_page_json(self.value))}"'
        tag = "fieldset" if self.interactive is False else "div"
        disabled = " disabled" if tag == "fieldset" else ""
        return (
            f'<{tag} class="field"{self._field_attributes()}{disabled}>'
            f'<label for="in{index}"{self._label_attributes()}>{label}</label>'
            f"{self._info_html()}{self.control_html(attributes)}</{tag}>"
        )

    def output_html(self, index: int) -> str:
        """The page's field for this component as the output number ``index``; the type's
        ``show`` (see :attr:`page_script`) fills its ``.output`` element (the page shows
        the initial value, if any, there until the first prediction)."""
        return (
            f'<div class="field"{self._field_attributes()}>'
            f"<label{self._label_attributes()}>{html.escape(self.label or '')}</label>"
            f"{self._info_html()}"
            f'<div class="output" data-index="{index}" '
            f'data-type="{html.escape(type(self).type_name)}"></div></div>'
        )

    def _field_attributes(self) -> str:
        return "" if self.visible else " hidden"

    def _label_attributes(self) -> str:
        return "" if self.show_label else ' class="hidden-label"'

    def _info_html(self) -> str:
        return "" if self.info is None else f'<div class="info">{html.escape(self.info)}</div>'

    def spec(self) -> ComponentSpec:
        """What rebuilds this component in another process: its type, label and parameters.

        :raises FlagValueError: for a class that is not registered under its own
            ``type_name`` (a consumer could not rebuild it)
        """
        cls = type(self)
        if cls.spec_type is None or component_type(cls.type_name) is not cls:
            known = ", ".join(sorted(_REGISTRY))
            raise FlagValueError(
                f"{cls.__name__} cannot travel through a stream: it has no type_name of its own "
                f"(set type_name = 'a_name' on the class to register it; registered: {known})"
            )
        if self.label is not None and len(self.label) > MAX_LABEL_LENGTH:
            raise FlagValueError(
                f"a label of {len(self.label)} characters cannot travel through a stream: "
                f"the limit is {MAX_LABEL_LENGTH} (asyncflag.transport.wire.MAX_LABEL_LENGTH)"
            )
        fields = cls.spec_type.__struct_fields__
        missing = [name for name in fields if not hasattr(self, name)]
        if missing:
            raise FlagValueError(
                f"{cls.__name__}.Spec lists {', '.join(map(repr, missing))}, which the component "
                "has no attribute for: each Spec field names an attribute and an __init__ keyword"
            )
        return cls.spec_type(**{name: getattr(self, name) for name in fields})

    @classmethod
    def from_spec(cls, spec: ComponentSpec) -> Component:
        """The component ``spec`` describes (the inverse of :meth:`spec`).

        :raises FlagValueError: for parameters the component refuses
        """
        return cls(**msgspec.structs.asdict(spec))

    def _reject(self, value: Any, expected: str) -> FlagValueError:
        return FlagValueError(
            f"{type(self).__name__} {self.label!r} stores {expected}, "
            f"got {type(value).__name__} {short_repr(value)}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label={self.label!r})"


def json_text(value: Any) -> str:
    """``value`` as compact JSON text (tuples as lists, keys as strings, anything
    else JSON lacks as its ``str``): how an export holds a value with no typed column."""
    return msgspec.json.encode(value, enc_hook=str).decode()


def page_text(what: str, text: Any) -> str | None:
    """``text`` (or ``None``) checked as a short text the page shows (an ``info``, a
    placeholder): a string UTF-8 can encode, of at most :data:`MAX_LABEL_LENGTH` characters.

    :raises FlagValueError: for anything else
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise FlagValueError(f"{what} must be a string, got {short_repr(text)}")
    writable_text(what, text)
    if len(text) > MAX_LABEL_LENGTH:
        raise FlagValueError(
            f"{what} of {len(text)} characters is over the limit of {MAX_LABEL_LENGTH}"
        )
    return text


def accepted_keywords(cls: type[Component]) -> frozenset[str]:
    """The Gradio keywords ``cls`` accepts beyond those of its own ``__init__``: the
    common ones and the type's :attr:`~Component.gradio_keywords` (its bases' too)."""
    own: set[str] = set()
    for base in cls.__mro__:
        own |= base.__dict__.get("gradio_keywords", frozenset())
    return GRADIO_KEYWORDS | GRADIO_LAYOUT_KEYWORDS | own


def _own_keywords(cls: type[Component]) -> frozenset[str]:
    original = getattr(cls.__init__, "__wrapped__", cls.__init__)
    return frozenset(
        name
        for name, parameter in inspect.signature(original).parameters.items()
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def _unknown_keyword(cls: type[Component], name: str, known: frozenset[str]) -> TypeError:
    names = sorted(known | _own_keywords(cls))
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}{hint}")


def _taking_gradio_keywords(cls: type[Component], init: Callable[..., None]) -> Callable[..., None]:
    """``init`` (a component class's own ``__init__``) taking Gradio's keywords too: those
    it does not take itself are checked and kept by :meth:`Component._take_gradio_keywords`
    after it runs; any other unknown keyword raises ``TypeError``."""
    parameters = inspect.signature(init).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return init  # it passes keywords on to its base, which takes them
    own = frozenset(
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )

    @functools.wraps(init)
    def __init__(self: Component, *args: Any, **kwargs: Any) -> None:
        extra = {name: kwargs.pop(name) for name in list(kwargs) if name not in own}
        if extra:
            known = accepted_keywords(cls)
            for name in extra:
                if name not in known:
                    raise _unknown_keyword(cls, name, known)
        init(self, *args, **kwargs)
        if extra:
            self._take_gradio_keywords(extra)

    return __init__


def _page_json(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value, str_keys=True, enc_hook=str))


_REGISTRY: dict[str, type[Component]] = {}
_SHORTCUTS: dict[str, type[Component]] = {}


def register(cls: type[Component]) -> None:
    """Make ``cls`` known by its :attr:`~Component.type_name` and its shortcuts.

    Called for every subclass that sets its own ``type_name``; a user's component is
    registered the same way as the built-in ones, wherever it is defined. Registering
    the same class again (a module imported twice, under the same module and qualified
    name) replaces the earlier registration.

    :raises FlagValueError: for a type name or shortcut that another class holds
    """
    name = cls.type_name
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise FlagValueError(
            f"{cls.__qualname__}.type_name must be a lower-case identifier such as 'rating', "
            f"got {name!r}"
        )
    shortcuts = cls.shortcuts
    if isinstance(shortcuts, str) or not all(isinstance(s, str) and s for s in shortcuts):
        raise FlagValueError(
            f"{cls.__qualname__}.shortcuts must be a tuple of non-empty strings, got {shortcuts!r}"
        )
    for key, table, what in [(name, _REGISTRY, "type name")] + [
        (shortcut.lower(), _SHORTCUTS, "shortcut") for shortcut in shortcuts
    ]:
        holder = table.get(key)
        if holder is not None and not _same_class(holder, cls):
            raise FlagValueError(
                f"the component {what} {key!r} of {_class_path(cls)} is already taken by "
                f"{_class_path(holder)}: choose another type_name or shortcut"
            )
    if not (isinstance(cls.Spec, type) and issubclass(cls.Spec, ComponentSpec)):
        raise FlagValueError(f"{cls.__qualname__}.Spec must be a subclass of ComponentSpec")
    spec_type = msgspec.defstruct(
        f"{cls.__name__}Spec", [], bases=(cls.Spec,), tag=name, module=cls.__module__
    )
    assert issubclass(spec_type, ComponentSpec)
    cls.spec_type = spec_type
    _REGISTRY[name] = cls
    for shortcut in shortcuts:
        _SHORTCUTS[shortcut.lower()] = cls


def component_types() -> dict[str, type[Component]]:
    """The registered component classes by type name (a copy)."""
    return dict(_REGISTRY)


def component_type(name: str) -> type[Component] | None:
    """The registered component class of a type name, or ``None``."""
    return _REGISTRY.get(name)


def _same_class(a: type[Component], b: type[Component]) -> bool:
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _class_path(cls: type[Component]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def compile_checks(components: Sequence[Component]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """One function that checks a row of values, one per component, and returns the
    checked values as a tuple: what calling each component's :meth:`~Component.check`
    returns, with the checks of common values (a plain ASCII string for a Textbox, an
    int or a float for an unbounded Number, a bool) made inline, without a call.

    The function is generated once per interface from each component's
    :meth:`~Component.check_shortcut` (fixed expressions of asyncflag's own classes; no
    label or value is ever part of the source). It expects exactly one value per
    component (the caller checks the count first).
    """
    namespace: dict[str, Any] = {}
    parts = []
    for index, component in enumerate(components):
        name = f"v{index}"
        namespace[f"c{index}"] = component.check
        shortcut = component.check_shortcut(name) if _shortcut_applies(component) else None
        parts.append(
            f"{name} if ({shortcut}) else c{index}({name})" if shortcut else f"c{index}({name})"
        )
    names = ", ".join(f"v{index}" for index in range(len(components)))
    if not components:
        source = "def check_row(values):\n    return ()\n"
    else:
        body = "".join(f"        {part},\n" for part in parts)
        source = f"def check_row(values):\n    {names}, = values\n    return (\n{body}    )\n"
    exec(compile(source, "<asyncflag row check>", "exec"), namespace)
    check_row: Callable[[Sequence[Any]], tuple[Any, ...]] = namespace["check_row"]
    return check_row


def _shortcut_applies(component: Component) -> bool:
    """Whether ``component``'s shortcut was written for the ``check`` it runs: the class
    that defines ``check_shortcut`` is the one that defines ``check``, or below it."""
    mro = type(component).__mro__
    shortcut_owner = next(k for k in mro if "check_shortcut" in vars(k))
    check_owner = next(k for k in mro if "check" in vars(k))
    return issubclass(shortcut_owner, check_owner)


def component_from(spec: Component | str) -> Component:
    """Return the component a shortcut string (``"text"``, ``"image"``...) stands for.

    :raises FlagValueError: for an unknown shortcut or an object that is not a component
    """
    if isinstance(spec, Component):
        return spec
    if isinstance(spec, str):
        try:
            return _SHORTCUTS[spec.lower()]()
        except KeyError:
            raise FlagValueError(
                f"unknown component shortcut {spec!r}; use one of {sorted(_SHORTCUTS)}"
            ) from None
    raise FlagValueError(f"expected a component or a shortcut string, got {spec!r}")

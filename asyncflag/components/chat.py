"""Conversations: :class:`Chatbot`, a list of messages as Gradio's ``type="messages"``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..checks import positive_int_or_none
from ..errors import FlagValueError
from ..escaping import escape, unescape
from .base import Cell, Component, ComponentSpec, Limit
from .values import check_encodable, short_repr

__all__ = ["CHAT_ROLES", "Chatbot"]

#: the roles a message may have (as Gradio's ``type="messages"``)
CHAT_ROLES = ("user", "assistant")
#: the keys of a message
_KEYS = frozenset({"role", "content"})
#: keys Gradio's messages carry that asyncflag's cell always writes as null: taken when null
_NULL_KEYS = frozenset({"metadata", "options"})

Message = dict[str, str]


class _Part(msgspec.Struct):
    type: str
    text: str | None = None


class _CellMessage(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: str | list[_Part]
    metadata: Any = None
    options: Any = None


class Chatbot(Component):
    """A conversation: a list of messages ``{"role": "user" | "assistant", "content": str}``
    (as Gradio's ``Chatbot(type="messages")``).

    A value is checked at the call: a list (or tuple) of mappings with exactly the keys
    ``role`` and ``content`` (Gradio's ``"metadata": None`` and ``"options": None`` are
    taken and dropped: the cell writes them null), a role of :data:`CHAT_ROLES`, a string
    content, and at most ``max_size`` bytes of UTF-8 text in all; anything else (other
    roles, nested or non-string content, extra keys) is refused with
    :class:`~asyncflag.errors.FlagValueError`. The cell is Gradio's: the JSON of the
    messages with each content as ``[{"text": .., "type": "text"}]`` and ``"metadata"``
    and ``"options"`` null; :func:`~asyncflag.load_flagged` gives back the messages as
    ``fn`` returned them (``content`` a string). ``None`` is an empty conversation ``[]``.

    :param max_size: the most bytes of message text (UTF-8, all messages together)
    """

    type_name = "chatbot"
    #: Gradio's keywords of the conversation's look, which have no effect here
    gradio_keywords = frozenset(
        {
            "allow_file_downloads",
            "allow_tags",
            "autoscroll",
            "avatar_images",
            "editable",
            "examples",
            "feedback_options",
            "feedback_value",
            "group_consecutive_messages",
            "height",
            "latex_delimiters",
            "layout",
            "like_user_message",
            "line_breaks",
            "max_height",
            "min_height",
            "placeholder",
            "reasoning_tags",
            "render_markdown",
            "resizable",
            "rtl",
            "sanitize_html",
            "watermark",
        }
    )

    shortcuts = ("chatbot",)
    page_style = """
.output[data-type=chatbot] { white-space: normal; display: flex; flex-direction: column;
  gap: .4rem; }
.chat-bubble { max-width: 80%; padding: .45rem .7rem; border-radius: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.chat-bubble.user { align-self: flex-end; background: #f97316; color: #fff;
  border-bottom-right-radius: 3px; }
.chat-bubble.assistant { align-self: flex-start; background: #e5e7eb; color: #111;
  border-bottom-left-radius: 3px; }
"""
    page_script = """asyncflag.register("chatbot", {
  // value=: the messages written as read() reads them back
  fill(el, value) {
    el.value = value.map(m => `${m.role}: ${typeof m.content === "string" ? m.content : ""}`)
      .join("\\n");
  },
  read(el) {
    // one message per line: "user: ..." or "assistant: ..."; other lines continue it
    const messages = [];
    for (const line of el.value.split("\\n")) {
      const m = /^(user|assistant):\\s?(.*)$/.exec(line);
      if (m) messages.push({role: m[1], content: m[2]});
      else if (messages.length) messages[messages.length - 1].content += "\\n" + line;
      else if (line.trim()) messages.push({role: "user", content: line});
    }
    return messages;
  },
  show(el, value) {
    for (const message of value || []) {
      const bubble = document.createElement("div");
      bubble.className = `chat-bubble ${message.role === "user" ? "user" : "assistant"}`;
      bubble.textContent = message.content;
      el.append(bubble);
    }
  },
});"""

    class Spec(ComponentSpec):
        max_size: Limit = None

    def __init__(self, label: str | None = None, *, max_size: int | None = None) -> None:
        super().__init__(label)
        self.max_size = positive_int_or_none("max_size", max_size)

    def _message(self, number: int, message: Any) -> Message:
        where = f"Chatbot {self.label!r}: message {number}"
        if not isinstance(message, Mapping):
            raise self._reject(
                message, 'a list of messages {"role": "user" | "assistant", "content": str}'
            )
        keys = {key for key in message if not (key in _NULL_KEYS and message[key] is None)}
        if keys != _KEYS:
            extra = sorted(map(short_repr, keys - _KEYS))
            missing = sorted(_KEYS - keys)
            raise FlagValueError(
                f"{where} must have exactly the keys 'role' and 'content'"
                + (f"; it has also {', '.join(extra)}" if extra else "")
                + (f"; it lacks {', '.join(missing)}" if missing else "")
            )
        role, content = message["role"], message["content"]
        if not isinstance(role, str) or role not in CHAT_ROLES:
            raise FlagValueError(
                f"{where} has the role {short_repr(role)}; use 'user' or 'assistant'"
            )
        if not isinstance(content, str):
            raise FlagValueError(
                f"{where}: the content must be a string (text), got "
                f"{type(content).__name__} {short_repr(content)}"
            )
        if not content.isascii():
            check_encodable(content, self)
        return {"role": str(role), "content": str(content)}

    def check(self, value: Any) -> list[Message]:
        """Return the messages as plain dicts (a copy), or refuse them."""
        if value is None:
            return []
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise self._reject(
                value, 'a list of messages {"role": "user" | "assistant", "content": str}'
            )
        messages = [self._message(number, message) for number, message in enumerate(value)]
        if self.max_size is not None:
            size = sum(len(m["content"].encode("utf-8", "surrogatepass")) for m in messages)
            if size > self.max_size:
                raise FlagValueError(
                    f"Chatbot {self.label!r}: {size} bytes of message text is over the limit "
                    f"of {self.max_size} (max_size); send a shorter conversation"
                )
        return messages

    @staticmethod
    def _gradio_form(value: list[Message]) -> list[dict[str, Any]]:
        return [
            {
                "role": m["role"],
                "metadata": None,
                "content": [{"text": m["content"], "type": "text"}],
                "options": None,
            }
            for m in value
        ]

    def to_cell(self, value: Any) -> Cell:
        return escape(json.dumps(self._gradio_form(value)))  # as Gradio: json.dumps

    def arrow_type(self) -> Any:
        """A list of ``{role, content}`` structs, both strings."""
        import pyarrow

        return pyarrow.list_(
            pyarrow.struct([("role", pyarrow.string()), ("content", pyarrow.string())])
        )

    def to_arrow_value(self, value: Any) -> Any:
        """The messages as ``{"role", "content"}`` dicts."""
        if value is None:
            return None
        return [{"role": m["role"], "content": m["content"]} for m in value]

    def from_cell(self, cell: str, flagging_dir: Path) -> list[Message]:
        text = unescape(cell)
        if not text:
            return []
        try:
            messages = msgspec.json.decode(text, type=list[_CellMessage])
        except msgspec.DecodeError as exc:
            raise ValueError(
                "a Chatbot cell is the JSON of a list of messages "
                f'{{"role": "user" | "assistant", "content": [{{"text": .., "type": "text"}}]}}: '
                f"{exc}"
            ) from None
        read: list[Message] = []
        for message in messages:
            content = message.content
            if not isinstance(content, str):
                if any(part.type != "text" or part.text is None for part in content):
                    raise ValueError(
                        "a Chatbot cell holds a message part that is not text (a file?): "
                        "asyncflag's Chatbot stores text messages only"
                    )
                content = "".join(part.text or "" for part in content)
            read.append({"role": message.role, "content": content})
        return read

    def control_html(self, attributes: str) -> str:
        return (
            '<textarea rows="4" placeholder="user: a question&#10;assistant: an answer" '
            f"{attributes}></textarea>"
        )

    def config(self) -> dict[str, Any]:
        return {**super().config(), "max_size": self.max_size}

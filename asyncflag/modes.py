"""Flagging modes and flagging options, resolved once when an interface is built."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from .errors import FlagValueError

__all__ = [
    "CHAT_ENV_VARS",
    "ENV_VARS",
    "MODES",
    "FlaggingMode",
    "resolve_flagging_mode",
    "resolve_flagging_options",
]

FlaggingMode = Literal["manual", "auto", "never"]
MODES: tuple[FlaggingMode, ...] = ("manual", "auto", "never")
#: where an Interface's mode is read when none is given, in order
ENV_VARS = ("ASYNCFLAG_FLAGGING_MODE", "GRADIO_FLAGGING_MODE")
#: where a ChatInterface's mode is read when none is given, in order
CHAT_ENV_VARS = ("ASYNCFLAG_CHAT_FLAGGING_MODE", "GRADIO_CHAT_FLAGGING_MODE")


def resolve_flagging_mode(
    mode: str | None,
    *,
    env_vars: Sequence[str] = ENV_VARS,
    default: FlaggingMode = "manual",
) -> FlaggingMode:
    """Return the mode to use: the argument, else the first of ``env_vars`` set, else
    ``default`` (an Interface's: :data:`ENV_VARS` then ``"manual"``; a ChatInterface's:
    :data:`CHAT_ENV_VARS` then ``"never"``, Gradio's default for chats).

    :raises FlagValueError: if the argument or the environment names another mode
    """
    source = "flagging_mode"
    if mode is None:
        for name in env_vars:
            value = os.environ.get(name)
            if value:
                mode, source = value.strip(), name
                break
        else:
            return default
    if mode not in MODES:
        raise FlagValueError(f"{source} must be one of 'manual', 'auto' or 'never', got {mode!r}")
    return mode


def resolve_flagging_options(
    options: Sequence[str] | Sequence[tuple[str, str | None]] | None,
) -> list[tuple[str, str | None]]:
    """Turn ``flagging_options`` into ``(button label, stored value)`` pairs, as Gradio does.

    :raises FlagValueError: if ``options`` is not a list of strings or of pairs
    """
    if options is None:
        return [("Flag", None)]
    if isinstance(options, str | bytes) or not isinstance(options, Sequence):
        raise FlagValueError(
            "flagging_options must be a list of strings or of (label, value) tuples, "
            f"got {options!r}"
        )
    resolved: list[tuple[str, str | None]] = []
    for option in options:
        if isinstance(option, str):
            resolved.append((f"Flag as {option}", option))
        elif (
            isinstance(option, tuple)
            and len(option) == 2
            and isinstance(option[0], str)
            and (option[1] is None or isinstance(option[1], str))
        ):
            resolved.append((option[0], option[1]))
        else:
            raise FlagValueError(
                "flagging_options must be a list of strings or of (label, value) tuples, "
                f"got the item {option!r}"
            )
    return resolved

"""Short, safe excerpts of user-supplied values for error messages, for every layer.

A message may quote what the user sent, but never all of it: ``excerpt``
keeps at most ``limit`` characters, replaces control characters (NUL, line
breaks, escape sequences) with ``?`` so a quote cannot forge log lines or
terminal output, and says how long the value really was; ``quoted`` writes
it as ``repr`` would, text in quotes. ``short_value`` keeps numbers, booleans
and short text as they are, for JSON error details.
"""

from __future__ import annotations

import re
from typing import Any

EXCERPT_CHARACTERS = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def excerpt(value: Any, limit: int = EXCERPT_CHARACTERS) -> str:
    """``value`` (text as is, anything else as its ``repr``), cut to ``limit`` characters and sanitised."""
    text = value if isinstance(value, str) else _bounded_repr(value, limit)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)" if isinstance(value, str) else f"{text[:limit]}..."
    return _CONTROL.sub("?", text)


def quoted(value: Any, limit: int = EXCERPT_CHARACTERS) -> str:
    """``excerpt`` written the way ``repr`` writes a value: text in single quotes, anything else as it is."""
    return f"'{excerpt(value, limit)}'" if isinstance(value, str) else excerpt(value, limit)


def short_value(value: Any, limit: int = EXCERPT_CHARACTERS) -> Any:
    """``value`` itself when it is a number, boolean, None or short text; else its ``excerpt``."""
    if value is None or isinstance(value, (bool, int, float)) and len(repr(value)) <= limit:
        return value
    if isinstance(value, str) and len(value) <= limit and not _CONTROL.search(value):
        return value
    return excerpt(value, limit)


def _bounded_repr(value: Any, limit: int) -> str:
    """A repr of at most about ``limit`` characters that never renders a huge or deeply nested value whole."""
    if isinstance(value, (list, tuple, dict, set)):
        return f"{type(value).__name__} of {len(value)} items"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)

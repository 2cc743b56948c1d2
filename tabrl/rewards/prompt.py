"""What a prompt may be: cleaned of control characters, not empty, at most 500 characters."""

from __future__ import annotations

import re
import unicodedata

MAX_PROMPT_CHARS = 500
# Bidirectional overrides and isolates can make shown text differ from stored text.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class PromptError(ValueError):
    """The prompt cannot be used; the message says how to fix it."""


def clean_prompt(text: object) -> str:
    """Strip control characters, collapse whitespace, and check the length.

    Line breaks and tabs become spaces; other control characters (C0, C1,
    DEL, bidirectional overrides) are dropped. Raises `PromptError` when
    nothing is left or more than `MAX_PROMPT_CHARS` characters are.
    """
    if not isinstance(text, str):
        raise PromptError("The prompt must be text.")
    kept = []
    for char in text:
        if char in "\t\n\r\v\f":
            kept.append(" ")
        elif unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            continue
        else:
            kept.append(char)
    cleaned = re.sub(r"\s+", " ", "".join(kept)).strip()
    if not cleaned:
        raise PromptError(
            'The prompt is empty: say what the robot should do, e.g. "Keep shaking your hips aloha dude!"'
        )
    if len(cleaned) > MAX_PROMPT_CHARS:
        raise PromptError(
            f"The prompt is {len(cleaned)} characters long; the limit is {MAX_PROMPT_CHARS}. Shorten it."
        )
    return cleaned

"""Turning an exception into the one line a person reads in a job's status."""

from __future__ import annotations


def error_line(error: BaseException | None, default: str = "it ended without a result") -> str:
    """The last non-empty line of the innermost cause.

    Ray wraps a trial's or task's exception (`RayTaskError`, Tune's `TuneError`)
    with tracebacks around it; the original message is the last line of the
    innermost `cause`.
    """
    if error is None:
        return default
    cause = error
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(cause).__name__

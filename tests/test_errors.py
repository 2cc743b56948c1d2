"""The one line a job's status shows for a failure (tabrl/errors.py)."""

from tabrl.errors import error_line


class Wrapped(Exception):
    """Like Ray's RayTaskError / Tune's TuneError: a traceback around the original as `cause`."""

    def __init__(self, text, cause):
        super().__init__(text)
        self.cause = cause


def test_the_innermost_causes_last_line():
    original = RuntimeError("Traceback (most recent call last):\n  File x\nValueError: the reward became NaN\n\n")
    wrapped = Wrapped("ray::trial() failed\nTraceback ...\nRayTaskError", Wrapped("TuneError", original))
    assert error_line(wrapped) == "ValueError: the reward became NaN"


def test_empty_messages_and_missing_errors_still_say_something():
    assert error_line(KeyError()) == "KeyError"
    assert error_line(None) == "it ended without a result"
    assert error_line(None, "the trial ended without a result") == "the trial ended without a result"

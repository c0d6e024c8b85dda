"""``aiter.logger``: the package's logger, set up as upstream aiter's is, so
scripts written for upstream (its op_tests log through it) print the same way.

Messages go to stderr as ``[aiter] message``. ``AITER_LOG_LEVEL`` (DEBUG,
INFO, WARNING or ERROR; default INFO) sets the level. The logger does not
propagate to the root logger, so an application's logging set-up neither
duplicates nor swallows these lines.
"""
import logging
import os
import sys

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _StderrHandler(logging.StreamHandler):
    """Writes to sys.stderr as it is when a record is emitted: test runners
    swap sys.stderr, and a stream kept from import time may be closed by
    the time the exit-time tally (aiter.test_common) is logged."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _configured(name: str) -> logging.Logger:
    log = logging.getLogger(name)
    if log.handlers:  # already set up (the package imported twice, or by the caller)
        return log
    level = os.environ.get("AITER_LOG_LEVEL", "INFO").upper()
    if level not in _LEVELS:
        print(f"[aiter] AITER_LOG_LEVEL={level!r} is not one of {', '.join(_LEVELS)}; using INFO", file=sys.stderr)
        level = "INFO"
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return log


logger = _configured("aiter")

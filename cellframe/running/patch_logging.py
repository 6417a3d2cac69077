"""Log records made while a patch runs name the patch, in the driver and in worker processes alike.

A warning from a stage (a plugin logs to its own logger and knows nothing of patches) reads
``<sample_id>: <message>``, so on a slide of thousands of patches the user can tell which one it
was about. Spawned workers inherit none of the driver's logging set-up: :func:`worker_logging`
gives them a stderr handler in the driver's format, for warnings and errors.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Iterator

FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"  # Hydra's default job log format

_patch: contextvars.ContextVar[str] = contextvars.ContextVar("cellframe_patch", default="")
_installed = False


def _install() -> None:
    """Wrap the log record factory once per process: records made in :func:`in_patch` name the patch."""
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = base(*args, **kwargs)
        patch = _patch.get()
        if patch and isinstance(record.msg, str) and not record.msg.startswith(patch):
            record.msg = f"{patch}: {record.msg}"
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


@contextlib.contextmanager
def in_patch(sample_id: str) -> Iterator[None]:
    """Within the block, every log record made in this thread starts with ``sample_id``."""
    _install()
    token = _patch.set(sample_id)
    try:
        yield
    finally:
        _patch.reset(token)


def worker_logging(level: int = logging.WARNING) -> logging.Handler:
    """In a worker process: records of ``level`` and above to stderr, formatted as the driver's."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    logging.getLogger().addHandler(handler)
    return handler

"""Importing a template function's handler and applying its environment, without Docker."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

from devtools.template import FunctionSpec
from shared.entry.runtime import set_runtime

Handler = Callable[[dict[str, Any], Any], Any]


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing (it may be replaced, as tests do)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def logs_to_stderr() -> None:
    """Send the functions' structured logs to stderr, keeping stdout for what the command prints.

    Powertools' handler holds the stream it was created with, which may be any earlier stdout.
    """
    import logging

    from shared.domain.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(_CurrentStderr())


def apply_environment(specs: list[FunctionSpec]) -> None:
    """Set the template's variables that the user has not set (the user's own values win)."""
    for spec in specs:
        for name, value in spec.environment.items():
            os.environ.setdefault(name, value)
    set_runtime(None)  # settings are read again with the new environment


def load_handler(spec: FunctionSpec) -> Handler:
    """The function's ``lambda_handler``, imported the way Lambda would import it."""
    handler: Handler = getattr(import_module(spec.module), spec.attribute)
    return handler

"""``app-tokens invoke``: one function of the template, one event file, no Docker.

The result goes to stdout as JSON, alone, so that it can be piped (``| jq``);
the function's logs and metrics go to stderr, as ``sam local invoke`` does.

Event files may hold the placeholder ``{{ADMIN_TOKEN}}`` (in the Authorization
header): on the embedded server it becomes the admin token minted for the demo
org and app; against an endpoint of your own it becomes ``$ADMIN_TOKEN``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from devtools.context import LocalContext
from devtools.embedded import LocalAwsUnavailable, ensure_hash_key, local_aws, prepare_table
from devtools.handlers import apply_environment, load_handler, logs_to_stderr
from devtools.template import DEFAULT_TEMPLATE, FunctionSpec, TemplateError, functions, load_template
from shared.entry.runtime import set_runtime

ADMIN_TOKEN_PLACEHOLDER = "{{ADMIN_TOKEN}}"
EXIT_USAGE = 2
EXIT_FUNCTION_ERROR = 1


class FunctionError(dict[str, str]):
    """What Lambda returns for a handler that raised: ``errorMessage`` and ``errorType``.

    The authorizer raises ``Exception("Unauthorized")`` by API Gateway's convention.
    """


class InvokeError(Exception):
    """What the user asked for cannot be run; the message says why, in one line."""


def invoke(logical_id: str, event_path: Path, template_path: Path = DEFAULT_TEMPLATE) -> int:
    """Call the function's handler with the event and print its result as JSON.

    Exit status: 0, 1 when the function raised (its error printed as Lambda returns it), 2 on a
    usage error.
    """
    try:
        spec = _function(logical_id, template_path)
        text = _event_text(event_path)
        with preserved_environment():
            result = _run(spec, text)
    except (InvokeError, TemplateError, LocalAwsUnavailable) as error:
        sys.stderr.write(f"app-tokens invoke: {error}\n")
        return EXIT_USAGE
    sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    return EXIT_FUNCTION_ERROR if isinstance(result, FunctionError) else 0


def _function(logical_id: str, template_path: Path) -> FunctionSpec:
    specs = functions(load_template(template_path))
    if logical_id not in specs:
        raise InvokeError(f"no function {logical_id!r} in {template_path.name}; it has: {', '.join(specs)}")
    return specs[logical_id]


def _event_text(event_path: Path) -> str:
    try:
        text = event_path.read_text()
    except OSError as error:
        raise InvokeError(f"cannot read {event_path}: {error.strerror}") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise InvokeError(f"{event_path} is not JSON: {error}") from None
    return text


@contextmanager
def preserved_environment() -> Iterator[None]:
    """Undo any change to the environment afterwards, so that a caller in the same process is unaffected."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        set_runtime(None)


def _run(spec: FunctionSpec, text: str) -> Any:
    warnings.filterwarnings("ignore", "No application metrics to publish")
    apply_environment([spec])
    if ensure_hash_key() and os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", os.environ.get("AWS_ENDPOINT_URL")):
        sys.stderr.write("note: TOKEN_HASH_KEY is not set, so no token stored at that endpoint will verify\n")
    logs_to_stderr()
    with local_aws() as aws, redirect_stdout(sys.stderr):
        demo = prepare_table(aws)
        token = demo.plaintext_token if demo else os.environ.get("ADMIN_TOKEN")
        if ADMIN_TOKEN_PLACEHOLDER in text:
            if token:
                text = text.replace(ADMIN_TOKEN_PLACEHOLDER, token)
            else:
                sys.stderr.write(f"note: set ADMIN_TOKEN to replace {ADMIN_TOKEN_PLACEHOLDER} in the event\n")
        # Imported here, with stdout sent to stderr: Powertools' logger keeps the stream it starts with.
        handler = load_handler(spec)
        try:
            return handler(json.loads(text), LocalContext(spec.logical_id))
        except Exception as error:
            traceback.print_exc(file=sys.stderr)  # as Lambda logs it
            return FunctionError(errorMessage=str(error), errorType=type(error).__name__)

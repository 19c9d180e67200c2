"""``app-tokens invoke``: one function of the template, one event file, no Docker."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from shared.local.context import LocalContext
from shared.local.embedded import ensure_hash_key, local_aws, prepare_table
from shared.local.handlers import apply_environment, load_handler
from shared.local.template import DEFAULT_TEMPLATE, functions, load_template

ADMIN_TOKEN_PLACEHOLDER = "{{ADMIN_TOKEN}}"


def invoke(logical_id: str, event_path: Path, template_path: Path = DEFAULT_TEMPLATE) -> int:
    """Call the function's handler with the event and print its result as JSON."""
    specs = functions(load_template(template_path))
    spec = specs.get(logical_id)
    if spec is None:
        sys.stderr.write(
            f"app-tokens invoke: no function {logical_id!r}; the template has: {', '.join(specs)}\n"
        )
        return 2
    text = event_path.read_text()
    apply_environment([spec])
    ensure_hash_key()
    with local_aws() as aws:
        demo = prepare_table(with_demo=aws.embedded)
        # Event files carry a placeholder where the admin token goes: the one just minted on the
        # embedded server, or $ADMIN_TOKEN against an endpoint of your own.
        token = demo.plaintext_token if demo else os.environ.get("ADMIN_TOKEN")
        if token:
            text = text.replace(ADMIN_TOKEN_PLACEHOLDER, token)
        result = load_handler(spec)(json.loads(text), LocalContext(logical_id))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0

"""The README's examples, followed literally against a fresh ``app-tokens serve`` (issue 13).

Every ```sh block of README.md runs, in order, in one bash session, unless it is in ``SKIPPED``
below with its reason. The output blocks that follow a command block in the same section
(```json, ```http or a plain ```) are what it must print: the HTTP status where one is shown,
the header names shown, and the JSON's shape (the same keys at every level, the same JSON types,
a list non-empty where the example's is); values (ids, times, secrets) may differ. A block that
shows no output must print nothing.

The only rewrites are the ones the README asks of its reader: the ``export ADMIN_TOKEN=atok_...``
and ``export API_URL=...`` lines get the values from the server's banner, and ``/tmp/`` is this
test's own directory so that runs never share files.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
START_SECONDS = 60
RUN_SECONDS = 120
BASH = shutil.which("bash") or "/bin/bash"

# The README's command blocks that this test does not run, by their first line, and why.
SKIPPED = {
    "make run    # the API on http://127.0.0.1:3000, on an embedded DynamoDB, with an admin token printed": (
        "the README's two commands: this test is part of `make test` and starts its own `app-tokens serve`"
    ),
    "make test-dynamodb-local   # the race, lost-answer and stream tests on DynamoDB Local": (
        "a test tier of its own (.ci/run runs it) and a server that runs until Ctrl-C"
    ),
    "aws ssm put-parameter --type SecureString --name /app-tokens/token-hash-key \\": (
        "deploys to an AWS account"
    ),
    "make bench        # the whole suite: prints the tables below, writes benchmarks/results.json": (
        "the benchmarks take minutes; `make bench-quick` runs in .ci/run"
    ),
    'for i in 1 2 3; do curl -s -o /dev/null -w "%{http_code} " -H "Authorization: Bearer $HELLO_TOKEN" '
    '"$API_URL/v1/hello"; done; echo': (
        "wall-clock dependent: the 403s need four requests within the second the bucket takes to refill one; "
        "the same bucket is tested on a fake clock in tests/integration/test_authorizer.py"
    ),
}
_PLACEHOLDERS = {
    re.compile(
        r"^export ADMIN_TOKEN=atok_\.\.\.(?=\s|$)", re.MULTILINE
    ): 'export ADMIN_TOKEN="$TOUR_ADMIN_TOKEN"',
    re.compile(
        r"^export API_URL=http://127\.0\.0\.1:3000(?=\s|$)", re.MULTILINE
    ): 'export API_URL="$TOUR_API_URL"',
    # Issue 17: the command-line client's section puts the console script on PATH from the
    # repository's folder; this test's session runs elsewhere, so it gets this interpreter's.
    re.compile(r'^export PATH="\$PWD/\.venv/bin:\$PATH"(?=\s|$)', re.MULTILINE): (
        f'export PATH="{Path(sys.executable).parent}:$PATH"'
    ),
}
_SECRET = re.compile(r"a(tok|ref)_[0-9a-z]{26}_[0-9A-Za-z]+")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    language: str
    text: str
    line: int  # 1-based line of its opening fence

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0] if self.text else ""


@dataclass
class Example:
    command: Block
    outputs: list[Block] = field(default_factory=list)


def parse_examples(markdown: str) -> list[Example]:
    """Each ```sh block with the output blocks after it, up to the next command block or heading."""
    examples: list[Example] = []
    lines = markdown.splitlines()
    current: Example | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            current = None
        fence = _FENCE.match(line)
        if fence is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while lines[index] != "```":
            body.append(lines[index])
            index += 1
        index += 1
        block = Block(fence.group(1), "\n".join(body), start + 1)
        if block.language == "sh":
            current = Example(block)
            examples.append(current)
        elif block.language in ("json", "http", "") and current is not None:
            current.outputs.append(block)
    return examples


def redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


# ---- Shapes ------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}[type(value)]


def shape_differences(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """How ``actual`` differs from ``expected`` in keys, JSON types and empty lists; not values."""
    if _kind(expected) != _kind(actual):
        return [f"{where}: {_kind(actual)} where the README shows {_kind(expected)}"]
    if isinstance(expected, dict):
        problems = []
        if set(expected) != set(actual):
            missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
            problems.append(f"{where}: keys missing {missing}, keys not in the README {extra}")
        for key in sorted(set(expected) & set(actual)):
            problems += shape_differences(expected[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if expected and not actual:
            return [f"{where}: an empty list where the README shows {len(expected)} items"]
        problems = []
        for position, item in enumerate(actual):
            model = expected[min(position, len(expected) - 1)] if expected else None
            if model is not None:
                problems += shape_differences(model, item, f"{where}[{position}]")
        return problems
    return []


def _http(text: str) -> tuple[int, list[str], str]:
    """Status, header names (lower case) and body of an HTTP response as ``curl -i`` prints it."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status_line, *headers = head.splitlines()
    status = int(status_line.split()[1])
    return status, [h.split(":", 1)[0].strip().lower() for h in headers], body.strip()


def _json_or_none(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def output_differences(shown: list[Block], printed: str) -> list[str]:
    """How what a command printed differs from the output blocks the README shows for it."""
    if not shown:
        return [] if printed == "" else [f"printed {printed[:300]!r} where the README shows no output"]
    problems: list[str] = []
    rest = printed
    for position, block in enumerate(shown):
        last = position == len(shown) - 1
        if block.language == "json":
            piece, rest = (rest, "") if last else _split_json(rest)
            actual = _json_or_none(piece)
            if actual is None:
                problems.append(f"not JSON: {piece[:300]!r}")
                continue
            problems += shape_differences(json.loads(block.text), actual)
        elif block.language == "http":
            piece, rest = (rest, "") if last else _split_http(rest)
            want_status, want_headers, want_body = _http(block.text)
            status, headers, body = _http(piece)
            if status != want_status:
                problems.append(f"HTTP {status} where the README shows {want_status}")
            missing = [name for name in want_headers if name not in headers]
            if missing:
                problems.append(f"headers missing: {missing}")
            problems += _body_differences(want_body, body)
        else:
            count = len(block.text.splitlines())
            piece_lines = rest.splitlines()
            if last:  # everything left: a line more than shown is a difference too
                count = len(piece_lines)
            piece, rest = "\n".join(piece_lines[:count]), "\n".join(piece_lines[count:])
            problems += _plain_differences(block.text, piece)
    return problems


def _split_json(text: str) -> tuple[str, str]:
    _, end = json.JSONDecoder().raw_decode(text.lstrip())
    skipped = len(text) - len(text.lstrip())
    return text[: skipped + end], text[skipped + end :].lstrip("\n")


def _split_http(text: str) -> tuple[str, str]:
    normalized = text.replace("\r\n", "\n")
    head, _, after = normalized.partition("\n\n")
    body, _, rest = after.partition("\n")
    return f"{head}\n\n{body}", rest


def _body_differences(shown: str, printed: str) -> list[str]:
    expected = _json_or_none(shown)
    if expected is None:
        return [] if shown == printed else [f"body {printed[:300]!r} where the README shows {shown!r}"]
    actual = _json_or_none(printed)
    if actual is None:
        return [f"body not JSON: {printed[:300]!r}"]
    return shape_differences(expected, actual)


def _plain_differences(shown: str, printed: str) -> list[str]:
    """Line by line: a JSON line by its shape, any other line word for word."""
    want, got = shown.splitlines(), printed.splitlines()
    if len(want) != len(got):
        return [f"{len(got)} lines {printed[:300]!r} where the README shows {len(want)}: {shown!r}"]
    problems: list[str] = []
    for expected_line, actual_line in zip(want, got, strict=True):
        expected = _json_or_none(expected_line)
        if expected is not None:
            problems += _body_differences(expected_line, actual_line)
        elif expected_line.split() != actual_line.split():
            problems.append(f"{actual_line!r} where the README shows {expected_line!r}")
    return problems


# ---- The server and the session ----------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    admin_token: str


def _environment() -> dict[str, str]:
    """A newcomer's shell: no endpoint, key or table of the developer's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOKEN_HASH_KEY", "TABLE_NAME"))}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh ``app-tokens serve --port 0``, started through the console script a user runs."""
    command = Path(sys.executable).with_name("app-tokens")
    stderr = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [str(command), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**_environment(), "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    banner: dict[str, str] = {}
    deadline = time.monotonic() + START_SECONDS
    try:
        while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) != "Ctrl-C stops.":
            name, equals, value = line.partition("=")
            if equals and name.isupper():
                banner[name] = value
        yield Served(process, banner["API_URL"], banner["ADMIN_TOKEN"])
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
        stderr.close()


def _prepare(text: str, workdir: Path) -> str:
    # The README's /tmp paths first: a placeholder's replacement may itself lie under /tmp (a
    # clone in /tmp has its interpreter there), and must not be rewritten.
    text = text.replace("/tmp/", f"{workdir}/")  # noqa: S108 - the README's paths, made this test's own
    for pattern, replacement in _PLACEHOLDERS.items():
        text = pattern.sub(replacement, text)
    return text


def run_in_one_session(commands: list[str], workdir: Path, served: Served) -> list[tuple[int, str, str]]:
    """Source each command block in turn in one bash session: exit status, stdout, stderr of each."""
    driver = []
    for number, text in enumerate(commands):
        (workdir / f"block{number}.sh").write_text(text + "\n")
        driver.append(
            f"source {workdir}/block{number}.sh >{workdir}/out{number} 2>{workdir}/err{number}; "
            f"echo $? >{workdir}/rc{number}"
        )
    (workdir / "session.sh").write_text("\n".join(driver) + "\n")
    environment = {**_environment(), "TOUR_ADMIN_TOKEN": served.admin_token, "TOUR_API_URL": served.url}
    subprocess.run(
        [BASH, str(workdir / "session.sh")],
        cwd=workdir,
        env=environment,
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=RUN_SECONDS,
    )
    return [
        (
            int((workdir / f"rc{number}").read_text()),
            (workdir / f"out{number}").read_text(),
            (workdir / f"err{number}").read_text(),
        )
        for number in range(len(commands))
    ]


# ---- The tests ---------------------------------------------------------------------------------


def test_every_command_block_is_run_or_skipped_with_a_reason() -> None:
    examples = parse_examples(README.read_text())
    first_lines = [example.command.first_line for example in examples]
    stale = sorted(set(SKIPPED) - set(first_lines))
    assert not stale, f"SKIPPED names blocks the README no longer has: {stale}"
    assert all(reason.strip() for reason in SKIPPED.values())
    run = [example for example in examples if example.command.first_line not in SKIPPED]
    assert len(run) >= 12, [example.command.first_line for example in run]  # the tour is there
    text = README.read_text()
    for pattern in _PLACEHOLDERS:  # the lines a reader fills in are there, once each
        assert len(pattern.findall(text)) == 1, pattern.pattern


def test_the_readme_examples_give_the_output_shown(served: Served, tmp_path: Path) -> None:
    examples = [e for e in parse_examples(README.read_text()) if e.command.first_line not in SKIPPED]
    workdir = tmp_path / "tour"
    workdir.mkdir()
    results = run_in_one_session([_prepare(e.command.text, workdir) for e in examples], workdir, served)
    failures = []
    for example, (status, stdout, stderr) in zip(examples, results, strict=True):
        problems = [] if status == 0 else [f"exit status {status}"]
        if stderr:
            problems.append(f"stderr: {stderr[:300]!r}")
        problems += output_differences(example.outputs, stdout)
        if problems:
            failures.append(
                f"README.md line {example.command.line} ({example.command.first_line}): {problems}"
            )
    assert not failures, redact("\n".join(failures))


# ---- The comparison itself fails where it should -----------------------------------------------


def test_a_changed_key_type_or_emptied_list_is_a_difference() -> None:
    shown = {"token": {"token_id": "a", "scopes": ["x"], "description": None}, "next": None}
    assert shape_differences(shown, {"token": {"token_id": "b", "scopes": ["y", "z"], "description": None},
                                     "next": None}) == []  # fmt: skip
    assert shape_differences(shown, {"token": {"token_ids": "b", "scopes": ["y"], "description": None},
                                     "next": None})  # fmt: skip
    assert shape_differences(
        shown, {"token": {"token_id": 1, "scopes": ["y"], "description": None}, "next": None}
    )
    assert shape_differences(
        shown, {"token": {"token_id": "b", "scopes": [], "description": None}, "next": None}
    )
    assert shape_differences(
        shown, {"token": {"token_id": "b", "scopes": ["y"], "description": "d"}, "next": None}
    )
    assert shape_differences([{"a": 1}], [{"a": 1}, {"b": 1}])


def test_an_http_or_plain_output_is_compared_by_status_and_words() -> None:
    shown = [Block("http", 'HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Bearer\n\n{"message": "m"}', 1)]
    assert (
        output_differences(
            shown, 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\r\n{"message": "x"}'
        )
        == []
    )
    assert output_differences(
        shown, 'HTTP/1.1 403 Forbidden\r\nWWW-Authenticate: Bearer\r\n\r\n{"message": "x"}'
    )
    assert output_differences(shown, 'HTTP/1.1 401 Unauthorized\r\n\r\n{"message": "x"}')
    assert output_differences([Block("", "204", 1)], "204\n") == []
    assert output_differences([Block("", "204", 1)], "200\n")
    assert output_differences([Block("", "204", 1)], "204\nand more\n")
    assert output_differences([], "") == []
    assert output_differences([], "something")

"""The body guards: what a request body must be before the resolver and pydantic see it.

Run before routing, so that a hostile body is refused in our shapes (413, 422) instead of
costing the resolver time or memory, or becoming a 500 inside Powertools' parsing.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from annotated_types import MaxLen

from shared.domain.errors import PayloadTooLarge
from shared.http.error_map import InvalidRequest
from shared.http.models import RequestBody
from shared.http.request import header

# A JSON integer with more digits than this cannot be valid anywhere in the API (the largest limit
# has 7): refused while parsing, before Python's int() meets thousands of digits (a ValueError).
MAX_INTEGER_DIGITS = 20


def _refuse_constant(name: str) -> Any:
    raise InvalidRequest(
        ("body",),
        f"JSON does not allow {name} (RFC 8259)",
        "json_invalid",
        name,
        {"error": "non-finite number"},
    )


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidRequest(
            ("body",),
            f"Number should have at most {MAX_INTEGER_DIGITS} digits",
            "json_invalid",
            text,
            {"max_digits": MAX_INTEGER_DIGITS},
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e309: valid JSON, but no float holds it
        raise InvalidRequest(("body",), "Number is out of range", "json_invalid", text, {"error": "overflow"})
    return value


def _parse_json(body: str) -> Any:
    try:
        return json.loads(
            body, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_refuse_constant
        )
    except RecursionError:
        # json.loads recurses once per level: JSON nested deeper than the interpreter's recursion
        # limit (about 1,000) raises inside Powertools' parsing, which would be a 500.
        raise InvalidRequest(("body",), "JSON is nested too deeply", "json_too_deep", None, {}) from None


def _too_long(loc: tuple[str, ...], kind: str, limit: int, actual: int) -> InvalidRequest:
    return InvalidRequest(
        loc,
        f"{kind} should have at most {limit} {'items' if kind == 'List' else 'members'}, not {actual}",
        "too_long",
        None,
        {"field_type": kind, "max_length": limit, "actual_length": actual},
    )


def _check_shape(parsed: Any, model: type[RequestBody]) -> None:
    """Refuse objects and lists larger than the model allows before pydantic walks them.

    pydantic reports every unknown key and every bad list item: 400,000 keys make 400,000
    errors. No valid body has more members than the model has fields, nor a list longer than
    its field allows, so one error says it.
    """
    if not isinstance(parsed, dict):
        # Every body of this API is an object; revoke's is optional, so it may be absent, but a JSON
        # `null` is no more an object than an array (Powertools took `[null, null]` for no body,
        # and the document says an optional body is `required: false`, not nullable).
        raise InvalidRequest(
            ("body",),
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
            parsed,
            {},
        )
    fields = model.model_fields
    if len(parsed) > len(fields):
        raise _too_long(("body",), "Object", len(fields), len(parsed))
    for name, value in parsed.items():
        field = fields.get(name)
        if field is None or not isinstance(value, list):
            continue
        for limit in field.metadata:
            if isinstance(limit, MaxLen) and len(value) > limit.max_length:
                raise _too_long(("body", name), "List", limit.max_length, len(value))


def check_body(event: Mapping[str, Any], model: type[RequestBody] | None) -> None:
    """Refuse, in our shapes, what the resolver would spend on or turn into a 500.

    In this order: a body larger than the largest valid one (413, unread), bytes that are not
    UTF-8, a media type other than JSON, JSON that Python cannot hold (too deep, huge integers,
    NaN and Infinity), and objects or lists larger than the model allows.
    """
    body = event.get("body")
    if not body:
        return
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                ("body",), "Body must be UTF-8 encoded JSON", "utf8_invalid", None, {}
            ) from None
    else:
        raw = str(body).encode("utf-8", "surrogatepass")
    limit = model.MAX_BODY_BYTES if model is not None else 0
    if len(raw) > limit:
        raise PayloadTooLarge(limit, len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(("body",), "Body must be UTF-8 encoded JSON", "utf8_invalid", None, {}) from None
    _check_media_type(event)
    try:
        parsed = _parse_json(text)
    except ValueError:
        return  # malformed JSON: Powertools reports it, with the position
    assert model is not None  # a route without a body model has refused every body above
    _check_shape(parsed, model)


# The one media type a body may have; RFC 8259 JSON is UTF-8, so charset may only say that.
_JSON_MEDIA_TYPE = re.compile(r'application/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?', re.IGNORECASE)


def _check_media_type(event: Mapping[str, Any]) -> None:
    content_type = (header(event, "content-type") or "application/json").strip()
    if not _JSON_MEDIA_TYPE.fullmatch(content_type):
        raise InvalidRequest(
            ("header", "content-type"),
            "Content-Type must be application/json (charset, if given, utf-8)",
            "content_type_unsupported",
            content_type,
            {"expected": "application/json"},
        )
    _lower_content_type(event)


def _lower_content_type(event: Mapping[str, Any]) -> None:
    """Media types are case-insensitive (RFC 9110), but Powertools compares ``application/json`` as is."""
    for field in ("headers", "multiValueHeaders"):
        headers = event.get(field)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if name.lower() == "content-type":
                headers[name] = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()

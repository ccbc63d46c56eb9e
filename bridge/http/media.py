"""Reading request bodies and writing ``application/scim+json`` responses.

Bodies are read by hand rather than through Falcon's media negotiation so that the size limit, the
content type and malformed JSON each get the SCIM error the RFC names. The size limit bounds every array
in the body; the SCIM layer caps the arrays it works on (``bridge.scim.canonical``: PATCH operations,
values of one attribute), so a long array of an ignored attribute costs nothing but its bytes.
"""

from __future__ import annotations

import json
from typing import Any

import falcon
import falcon.media

from bridge.scim.errors import InvalidSyntax, PayloadTooLarge, UnsupportedMediaType

SCIM_JSON = "application/scim+json"
_ACCEPTED = ("application/scim+json", "application/json")

MAX_JSON_DEPTH = 32
"""Objects and arrays nested in one another, at most. The deepest SCIM body nests six levels (a PatchOp,
its Operations, an operation, its value, an extension, the manager object); 32 leaves room for any
client while keeping every walk over the body far from Python's recursion limit."""


def read_json(req: falcon.Request, limit: int) -> Any:
    """The JSON body of ``req``: 415 unless it is (scim+)json, 413 over ``limit`` bytes, 400 if broken."""
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if content_type not in _ACCEPTED:
        raise UnsupportedMediaType(
            f"send the body as application/scim+json (or application/json), not {content_type or 'no type'}"
        )
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(f"the body is {req.content_length} bytes; the limit is {limit}")
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
    try:
        body = json.loads(data, parse_constant=_not_json)
    except UnicodeDecodeError as exc:
        raise InvalidSyntax("the body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InvalidSyntax(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InvalidSyntax(f"the body is nested too deeply: more than {MAX_JSON_DEPTH} levels") from exc
    check_shape(body)
    return body


def check_shape(body: Any) -> None:
    """Refuse a body nested deeper than ``MAX_JSON_DEPTH``, or holding a string that is not Unicode text.

    JSON's ``"\\ud800"`` escape decodes to a lone surrogate, which no UTF-8 can carry (RFC 8259 section 8.2
    warns of them); left in, it fails far from the client: in the directory, or rendering the response.
    Both are the body's structure, hence invalidSyntax (RFC 7644 section 3.12), as a body that is not
    UTF-8 is. Iterative, so a deep body costs no stack.
    """
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node)
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise InvalidSyntax(f"the body is nested too deeply: more than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            for key in node:
                _check_text(key)
            stack.extend((item, depth + 1) for item in node.values())
        else:
            stack.extend((item, depth + 1) for item in node)


def _not_json(word: str) -> Any:
    """Python's parser takes NaN and Infinity, which are no JSON (RFC 8259 section 6)."""
    raise InvalidSyntax(f"the body is not valid JSON: {word} is no JSON number")


def _check_text(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise InvalidSyntax(
            f"the body holds a lone surrogate escape (\\u{ord(text[exc.start]):04x}), which is no Unicode "
            "character; send characters outside the Basic Multilingual Plane as UTF-8 or as a surrogate pair"
        ) from None


def read_message(req: falcon.Request, limit: int, urn: str) -> dict[str, Any]:
    """The body of ``req`` as the SCIM message ``urn``: a JSON object whose ``schemas`` names ``urn``
    (RFC 7644 3.5.2: "The body of each request MUST contain the "schemas" attribute with the URI value
    of "urn:ietf:params:scim:api:messages:2.0:PatchOp""). Matched without regard to case, as Entra
    spells keys in any case."""
    body = read_json(req, limit)
    name = urn.rsplit(":", 1)[-1]
    if not isinstance(body, dict):
        raise InvalidSyntax(f"a {name} request is a JSON object")
    schemas = next((value for key, value in body.items() if key.lower() == "schemas"), None)
    if not isinstance(schemas, list) or urn.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidSyntax(f'a {name} request names its schema: "schemas": ["{urn}"]')
    return body


# One encoder for every response, as json.dumps would build for these options on each call (it keeps only
# the one of its defaults); encoding keeps no state in it, so threads share it.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(obj: Any) -> str:
    return _ENCODER.encode(obj)


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Responses in ``application/scim+json`` (RFC 7644 section 8.1)."""
    handler = falcon.media.JSONHandler(dumps=_dumps)
    app.resp_options.media_handlers.update({SCIM_JSON: handler, falcon.MEDIA_JSON: handler})
    app.resp_options.default_media_type = SCIM_JSON

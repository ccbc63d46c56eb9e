"""Reading request bodies and writing ``application/scim+json`` responses.

Bodies are read by hand rather than through Falcon's media negotiation so that the size limit, the
content type and malformed JSON each get the SCIM error the RFC names.
"""

from __future__ import annotations

import json
from typing import Any

import falcon
import falcon.media

from bridge.scim.errors import InvalidSyntax, PayloadTooLarge, UnsupportedMediaType

SCIM_JSON = "application/scim+json"
_ACCEPTED = ("application/scim+json", "application/json")


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
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise InvalidSyntax("the body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InvalidSyntax(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InvalidSyntax("the body is nested too deeply") from exc


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


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Responses in ``application/scim+json`` (RFC 7644 section 8.1)."""
    handler = falcon.media.JSONHandler(dumps=_dumps)
    app.resp_options.media_handlers.update({SCIM_JSON: handler, falcon.MEDIA_JSON: handler})
    app.resp_options.default_media_type = SCIM_JSON

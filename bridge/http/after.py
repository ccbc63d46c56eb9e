"""Work a request leaves until its response is sent, which the client need not wait for: its access line,
as web servers write theirs. The server (:mod:`bridge.http.connections`) gives each request a list under
:data:`AFTER_RESPONSE` and runs it once the response has left; under any other server (``falcon.testing``,
the demo's waitress) there is no list, and the work is done at once."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

import falcon

AFTER_RESPONSE = "bridge.after_response"


def after_response(req: falcon.Request, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``action(*args, **kwargs)`` once the response to ``req`` is sent, in this request's context
    (its request id, what it recorded); at once when the server runs nothing after a response."""
    later = req.env.get(AFTER_RESPONSE)
    if later is None:
        action(*args, **kwargs)
    else:
        later.append(functools.partial(contextvars.copy_context().run, action, *args, **kwargs))

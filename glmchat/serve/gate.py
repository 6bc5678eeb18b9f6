"""The token gate: every request to the served app (page, assets, websocket) proves the token."""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

QUERY = "token"
REFUSAL = (
    "glmchat serve: this page needs the token; open the address `glmchat serve` printed "
    "(http://HOST:PORT/?token=...)\n"
)


def cookie_name(request: web.Request) -> str:
    """The cookie's name for the port the request came in on (the socket's, not the Host
    header's). Cookies are not kept apart by port: two servers on one host need two names."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if isinstance(sockname, tuple) else 0
    return f"glmchat_serve_{port}"


def token_gate(token: str) -> Middleware:
    """An aiohttp middleware that answers 403 to any request without `token`.

    The page is opened with `?token=`; its answer sets the token as an HttpOnly, SameSite=Strict
    cookie, which the page's own asset and websocket requests then carry (textual-serve's page
    builds those URLs without our query). A token in the query wins over the cookie, so a wrong
    one is refused even where an earlier visit left the right cookie."""
    expected = token.encode()

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = cookie_name(request)
        given = request.query.get(QUERY)
        if given is None:
            given = request.cookies.get(name, "")
        # Bytes, not str: compare_digest refuses non-ASCII strings, and the query is anyone's.
        if not hmac.compare_digest(given.encode(), expected):
            raise web.HTTPForbidden(text=REFUSAL, headers={"Cache-Control": "no-store"})
        response = await handler(request)
        # A websocket or a download has sent its headers by now; the page and assets have not.
        if QUERY in request.query and not response.prepared:
            response.set_cookie(name, token, httponly=True, samesite="Strict", path="/")
            # The page's address holds the token: keep it out of caches and Referer headers.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return gate

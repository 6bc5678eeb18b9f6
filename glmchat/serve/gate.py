"""The gate: every request to the served app (page, assets, websocket) proves the token, and
none comes from another site's page."""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

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


def foreign_origin(request: web.Request) -> str | None:
    """Why `request` comes from another site's page, or None if it does not.

    A browser names the page behind a script's request (a websocket's above all) in `Origin`;
    ours is `http://` and the Host the request was sent to. Any other (another host, port or
    scheme, `null`) is another page's, refused whatever cookie the browser sent along. No
    Origin is a non-browser client (curl) or a plain navigation: the token decides."""
    origins = request.headers.getall(hdrs.ORIGIN, [])
    if not origins:
        return None
    ours = f"http://{request.host}"
    try:
        given, served = URL(origins[0]), URL(ours)
        # An origin is scheme, host and port only (yarl fills in the default port).
        same = (
            len(origins) == 1
            and given == given.origin()
            and (given.scheme, given.host, given.port) == ("http", served.host, served.port)
        )
    except ValueError:  # not a URL at all: `null`, a port out of range
        same = False
    if same:
        return None
    # Both are the client's: repr escapes the Origin, and the Host's undecodable bytes (kept
    # as surrogates, which no response can encode) are escaped too.
    shown = ours.encode(errors="backslashreplace").decode()
    return (
        f"glmchat serve: refused a request from the page at {origins[0]!r}: only this "
        f"server's own page ({shown}) may use it; open the address `glmchat serve` printed\n"
    )


def token_gate(token: str) -> Middleware:
    """An aiohttp middleware that answers 403 to any request from another site's page (see
    `foreign_origin`) and to any request without `token`.

    The page is opened with `?token=`; its answer sets the token as an HttpOnly, SameSite=Strict
    cookie, which the page's own asset and websocket requests then carry (textual-serve's page
    builds those URLs without our query). A token in the query wins over the cookie, so a wrong
    one is refused even where an earlier visit left the right cookie."""
    expected = token.encode()

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Before the token: a browser sends our cookie along with another site's websocket
        # wherever SameSite does not hold it back (older browsers, a same-site subdomain).
        if (reason := foreign_origin(request)) is not None:
            raise web.HTTPForbidden(text=reason, headers={"Cache-Control": "no-store"})
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

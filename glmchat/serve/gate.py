"""The gate: every request to the served app (page, assets, websocket) is addressed to this
server by one of its own names, comes from no other site's page, and proves the token."""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Iterable

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

QUERY = "token"
REFUSAL = (
    "glmchat serve: this page needs the token; open the address `glmchat serve` printed "
    "(http://HOST:PORT/?token=...)\n"
)
# Where a loopback socket is reached from: its address, the other loopback one, and the name
# that always means this machine (browsers never send it to the network).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

# A Host header: a name or IPv4 address, or an IPv6 one in brackets; then an optional port.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/?#@\s]+)(?::([0-9]{1,5}))?")
# An origin as browsers write it: scheme://host[:port], nothing before the host, nothing after.
_ORIGIN = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://(\[[0-9A-Fa-f:.]+\]|[^\[\]:/?#@\s]+)(?::([0-9]{1,5}))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_key(host: str) -> str:
    """`host` as compared: an IP address in one spelling (no brackets, no zone, an IPv4 one
    mapped into IPv6 as itself), a name in lower case."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:  # only an IPv6 address has a zone (a socket's link-local address)
        bare = bare.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return bare.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def machine_names() -> frozenset[str]:
    """This machine's own names, as other machines may reach it with `--allow-remote`: its host
    name, its fully qualified name and its mDNS one (NAME.local)."""
    name = socket.gethostname()
    return frozenset(n.lower() for n in (name, socket.getfqdn(), f"{name}.local") if n)


def _sockname(request: web.Request) -> tuple[str, int] | None:
    """The address and port the request's connection came in on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return None


def cookie_name(request: web.Request) -> str:
    """The cookie's name for the port the request came in on (the socket's, not the Host
    header's). Cookies are not kept apart by port: two servers on one host need two names."""
    sockname = _sockname(request)
    return f"glmchat_serve_{sockname[1] if sockname else 0}"


def foreign_host(request: web.Request, host: str, names: frozenset[str]) -> str | None:
    """Why `request` is not addressed to this server, or None if it is.

    A browser's Host is the name in the page's address. A page of another site whose name the
    attacker points at 127.0.0.1 (DNS rebinding) is same-origin to itself, cookie aside: only
    the name tells it apart. Ours are `host` (the printed address's), the address the
    connection came in on, 127.0.0.1, ::1 and localhost when that is loopback, and `names`;
    each with the port the connection came in on. An IP address is no attacker's name."""
    hosts = request.headers.getall(hdrs.HOST, [])
    sockname = _sockname(request)
    shown = f"[{host}]" if ":" in host else host
    if sockname is not None:
        shown = f"http://{shown}:{sockname[1]}"
    match = _HOST.fullmatch(hosts[0]) if len(hosts) == 1 else None
    if match is not None and sockname is not None:
        local = _host_key(sockname[0])
        ours = {_host_key(host), local, *names}
        if _is_loopback(local):
            ours |= LOOPBACK_HOSTS
        port = int(match.group(2)) if match.group(2) else 80
        if _host_key(match.group(1)) in ours and port == sockname[1]:
            return None
    given = repr(hosts[0]) if len(hosts) == 1 else "several hosts" if hosts else "no host"
    return (
        f"glmchat serve: refused a request addressed to {given}: this server answers only at "
        f"its own address ({_escaped(shown)}); open the address `glmchat serve` printed\n"
    )


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _escaped(text: str) -> str:
    # The client's undecodable bytes (kept as surrogates, which no response can encode).
    return text.encode(errors="backslashreplace").decode()


def _origin_parts(text: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin written exactly as scheme://host[:port]; None for
    anything else (`null`, a path, user info, a port out of range)."""
    match = _ORIGIN.fullmatch(text)
    if match is None:
        return None
    scheme = match.group(1).lower()
    port = int(match.group(3)) if match.group(3) else _DEFAULT_PORTS.get(scheme, 0)
    if not 0 < port < 65536:
        return None
    return scheme, _host_key(match.group(2)), port


def foreign_origin(request: web.Request) -> str | None:
    """Why `request` comes from another site's page, or None if it does not.

    A browser names the page behind a script's request (a websocket's above all) in `Origin`;
    ours is `http://` and the Host the request was sent to. Any other (another host, port or
    scheme, `null`, anything that is not exactly an origin) is another page's, refused whatever
    cookie the browser sent along. No Origin is a non-browser client (curl) or a plain
    navigation: the token decides."""
    origins = request.headers.getall(hdrs.ORIGIN, [])
    if not origins:
        return None
    ours = f"http://{request.host}"
    if len(origins) == 1 and (given := _origin_parts(origins[0])) is not None:
        if given == _origin_parts(ours):
            return None
    return (
        f"glmchat serve: refused a request from the page at {origins[0]!r}: only this "
        f"server's own page ({_escaped(ours)}) may use it; open the address `glmchat serve` "
        "printed\n"
    )


def token_gate(token: str, *, host: str, names: Iterable[str] = ()) -> Middleware:
    """An aiohttp middleware that answers 403 to any request not addressed to this server (see
    `foreign_host`; `host` is the one in the printed address, `names` the machine's own with
    `--allow-remote`), to any from another site's page (see `foreign_origin`) and to any
    without `token`.

    The page is opened with `?token=`; its answer sets the token as an HttpOnly, SameSite=Strict
    cookie, which the page's own asset and websocket requests then carry (textual-serve's page
    builds those URLs without our query). A token in the query wins over the cookie, so a wrong
    one is refused even where an earlier visit left the right cookie."""
    expected = token.encode()
    own_names = frozenset(_host_key(name) for name in names)

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Before the token: a browser sends our cookie along with another site's websocket
        # wherever SameSite does not hold it back (older browsers, a same-site subdomain).
        if (reason := foreign_host(request, host, own_names)) is not None:
            raise web.HTTPForbidden(text=reason, headers={"Cache-Control": "no-store"})
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

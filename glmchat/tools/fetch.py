"""The fetch_url built-in: an HTTP GET whose readable text the model gets, size-capped, and never
to loopback, private or link-local addresses unless `[tools] fetch_private` allows them.

Every hop is checked twice: the host's addresses (all of them) before connecting, and the
address actually connected to before anything is read, so a name that resolves differently the
second time (DNS rebinding) still cannot reach an inside address."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from glmchat.tools.base import ToolOutput, ToolSpec
from glmchat.tools.files import size_text

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Why an address is refused, or None when it may be fetched.
AddressPolicy = Callable[[IPAddress], "str | None"]
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_REDIRECTS = 5
USER_AGENT = "glmchat-fetch_url/1 (a terminal chat client's tool)"
# Markup is thrown away, so more bytes are read than the result may hold.
RAW_FACTOR = 8
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")
_TEXT_SUFFIXES = ("+json", "+xml", "/javascript", "/ecmascript", "/x-yaml", "/yaml", "/csv")


class Refused(Exception):
    """A fetch that is not done or did not work; the message is one line."""


def address_problem(ip: IPAddress) -> str | None:
    """Why `ip` is an inside address (loopback, private, link-local, ...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:127.0.0.1, 6to4, Teredo) is judged as itself.
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        for inner in filter(None, embedded):
            if (problem := address_problem(inner)) is not None:
                return problem
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def allow_all(ip: IPAddress) -> str | None:
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_text(content_type: str) -> bool:
    return content_type.startswith(_TEXT_TYPES) or content_type.endswith(_TEXT_SUFFIXES)


class FetchUrl:
    """HTTP GET of a public http(s) URL, following at most MAX_REDIRECTS redirects."""

    def __init__(
        self,
        max_bytes: int,
        *,
        policy: AddressPolicy = address_problem,
        resolve: Resolver = system_resolve,
        timeout: float = 20.0,
    ) -> None:
        self.max_bytes = max_bytes
        self.policy = policy
        self.resolve = resolve
        self.timeout = timeout
        self.spec = ToolSpec(
            name="fetch_url",
            title="fetch_url",
            description=(
                "Fetch a web page or text document with HTTP GET and return its readable text "
                "(HTML is reduced to text; long pages are cut)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "An http:// or https:// URL"}
                },
                "required": ["url"],
            },
            read_only=True,
        )

    async def call(self, arguments: dict[str, Any]) -> ToolOutput:
        url = arguments.get("url")
        try:
            if not isinstance(url, str) or not url.strip():
                raise Refused("give the url as a non-empty string")
            return ToolOutput(await self._fetch(url.strip()))
        except Refused as exc:
            return ToolOutput(f"fetch_url: {exc}", is_error=True)

    async def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise Refused(f"{url}: only http:// and https:// URLs can be fetched")
        host = parts.hostname
        if not host:
            raise Refused(f"{url}: no host in the URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise Refused(f"{url}: the port is not a number from 0 to 65535") from None
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                found = await self.resolve(host, port)
            except OSError as exc:
                raise Refused(f"cannot resolve {host} ({exc.strerror or exc})") from None
            addresses = [ipaddress.ip_address(a.partition("%")[0]) for a in found]
        if not addresses:
            raise Refused(f"cannot resolve {host}")
        for ip in addresses:
            self._check_address(host, ip)

    def _check_address(self, host: str, ip: IPAddress) -> None:
        if (problem := self.policy(ip)) is not None:
            named = str(ip) if host == str(ip) else f"{host} ({ip})"
            raise Refused(
                f"{named} is {problem}; fetch_url reaches only public addresses unless "
                "[tools] fetch_private = true"
            )

    async def _fetch(self, url: str) -> str:
        import httpx  # the HTTP client is loaded on the first fetch, not at start-up

        # trust_env off: a proxy from the environment would hide where the request goes.
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=10.0),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/*;q=0.9, */*;q=0.5"},
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await self._check_host(url)
                try:
                    async with client.stream("GET", url) as response:
                        self._check_peer(url, response)
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        return await self._read(url, response)
                except httpx.HTTPError as exc:
                    raise Refused(f"{url}: {_http_error(exc)}") from None
            raise Refused(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if not peer:
            raise Refused(f"{url}: cannot tell which address answered, so it is not read")
        host = urlsplit(url).hostname or ""
        self._check_address(host, ipaddress.ip_address(str(peer[0]).partition("%")[0]))

    async def _read(self, url: str, response: httpx.Response) -> str:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code >= 400:
            raise Refused(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
        if content_type and not _is_text(content_type):
            raise Refused(f"{url} is {content_type}, not text; fetch_url reads text and HTML")
        limit = self.max_bytes * RAW_FACTOR
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                break
        cut = len(body) > limit
        charset = response.charset_encoding or "utf-8"
        try:
            text = bytes(body[:limit]).decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            text = bytes(body[:limit]).decode("utf-8", errors="replace")
        title = ""
        if content_type in ("text/html", "application/xhtml+xml") or (
            not content_type and text.lstrip()[:1] == "<"
        ):
            from glmchat.tools.html_text import html_to_text

            title, text = html_to_text(text)
        encoded = text.encode("utf-8")
        if len(encoded) > self.max_bytes:
            text = encoded[: self.max_bytes].decode("utf-8", errors="ignore")
            cut = True
        head = f"URL: {url}\n" + (f"Title: {title}\n" if title else "")
        note = f"\n[fetch_url: cut at {size_text(self.max_bytes)} of text]" if cut else ""
        return f"{head}\n{text}{note}"


def _http_error(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})" if str(exc) else "cannot connect"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

"""`glmchat serve`: the real command on a loopback port, its token gate, its app processes, and
the page driven in a real headless Chromium (Debian's, through Playwright) against the wire server.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from glmchat import paths
from glmchat.cli.launch import WEB_DRIVER
from glmchat.cli.serve_cmd import is_loopback
from glmchat.store import SessionStore
from tests.tui_helpers import API_KEY, stream
from tests.wire_server import Reply, WireServer

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# As the machine's notes give them: without the networking flags Chromium keeps trying (and
# failing) to reach Google's hosts from a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous limits for a slow, shared machine; nothing here measures time.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


# --- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None once it is gone (or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def descendants(pid: int) -> set[int]:
    """Every live process under `pid`, however deep."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat[1]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def wait_until(
    condition: Callable[[], bool],
    what: str,
    timeout: float = START_TIMEOUT,
    shown: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{shown()}")
        time.sleep(0.05)


# --- the server ------------------------------------------------------------------------------


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str  # as printed: http://127.0.0.1:PORT/?token=TOKEN
    token: str
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def apps(self) -> set[int]:
        return descendants(self.proc.pid)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Send `signum`, wait for the exit; (status, stderr)."""
        self.proc.send_signal(signum)
        _, err = self.proc.communicate(timeout=STOP_TIMEOUT)
        return self.proc.returncode, err


def glmchat(*args: str) -> list[str]:
    return [sys.executable, "-m", "glmchat", *args]


def start_serve(*args: str) -> Served:
    proc = subprocess.Popen(
        glmchat("serve", "--port", "0", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the first line is the address
    if not line:
        proc.kill()
        raise AssertionError(f"glmchat serve printed no address: {proc.communicate()}")
    match = re.fullmatch(r"http://([^/]+):(\d+)/\?token=([A-Za-z0-9_-]{32,})", line)
    assert match, line
    return Served(proc, line, match.group(3), int(match.group(2)))


@pytest.fixture
def served(zai: WireServer) -> Iterator[Served]:
    server = start_serve()
    try:
        yield server
    finally:
        # Apps left by a failed test: noted before the server goes (its orphans are not its
        # descendants any more), killed if a stop did not end them.
        apps = server.apps
        if server.proc.poll() is None:
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.communicate()
        for pid in apps:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def handshake(
    port: int,
    target: str,
    cookie: str | None = None,
    *,
    origin: str | None = None,
    host: str | None = None,
) -> str:
    """A raw websocket handshake on `target` (as a browser page at `origin` makes it, if
    given, to the server named `host`); the server's status line."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return head.split(b"\r\n", 1)[0].decode()


def cookie_of(served: Served) -> str:
    """The Cookie header a browser sends after opening the printed address."""
    response = httpx.get(served.url)
    assert response.status_code == 200
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


# --- the command's edge ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.1.2.3", False),
        ("192.168.0.7", False),
        ("2001:db8::1", False),
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.0.7", ""])
def test_a_reachable_host_is_refused_without_allow_remote(host: str) -> None:
    proc = subprocess.run(
        glmchat("serve", "--host", host, "--port", "0"), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith("glmchat: --host ")
    assert "--allow-remote" in line and "API keys and conversations" in line
    assert proc.stdout == ""


def test_allow_remote_serves_with_a_warning(zai: WireServer) -> None:
    server = start_serve("--host", "0.0.0.0", "--allow-remote")
    status, err = server.stop()
    assert status == 0
    assert server.url.startswith("http://0.0.0.0:")
    warning = [line for line in err.splitlines() if "warning" in line]
    assert warning and "full access to your API keys and conversations" in warning[0]


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_a_port_out_of_range_is_one_line_and_status_2(port: str) -> None:
    proc = subprocess.run(
        glmchat("serve", "--port", port), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line == f"glmchat: --port {port} is not a port; give 1 to 65535 (or 0 for any free one)"


def test_open_hands_the_printed_address_to_the_web_browser(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))  # the webbrowser module's own override
    server = start_serve("--open")
    try:
        wait_until(lambda: opened.exists() and opened.read_text() != "", "the browser to open")
    finally:
        status, _ = server.stop()
    assert opened.read_text() == server.url
    assert status == 0


def test_an_address_not_of_this_machine_is_one_line_and_status_2() -> None:
    # 203.0.113.0/24 is documentation's (TEST-NET-3): no machine has it; binding sends nothing.
    proc = subprocess.run(
        glmchat("serve", "--host", "203.0.113.5", "--allow-remote", "--port", "0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "glmchat: cannot listen on 203.0.113.5: it is not an address of this machine"
    ]


def test_a_port_in_use_is_one_line_and_status_2(zai: WireServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            glmchat("serve", "--port", str(port)), capture_output=True, text=True, timeout=30
        )
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line == (
        f"glmchat: port {port} on 127.0.0.1 is in use (another server?); pick another with --port"
    )
    assert proc.stdout == ""


# --- the token gate --------------------------------------------------------------------------

GATED = [
    "/",
    "/static/js/textual.js",
    "/static/css/xterm.css",
    "/static/",
    "/download/x",
    "/favicon.ico",
]


@pytest.mark.parametrize("path", GATED)
def test_every_request_without_the_right_token_is_refused(served: Served, path: str) -> None:
    right = cookie_of(served)
    name = right.split("=", 1)[0]
    wrong = served.token[:-1] + ("A" if served.token[-1] != "A" else "B")
    refused = [
        httpx.get(served.base + path),
        httpx.get(served.base + path, params={"token": wrong}),
        httpx.get(served.base + path, params={"token": ""}),
        httpx.get(served.base + path, params={"token": served.token[:8]}),
        httpx.get(served.base + path, params={"token": "é" + served.token}),
        httpx.get(served.base + path, headers={"Cookie": f"{name}={wrong}"}),
        # A wrong token in the address is refused even next to the right cookie.
        httpx.get(served.base + path, params={"token": wrong}, headers={"Cookie": right}),
        # Another server's cookie (another port) is not this one's.
        httpx.get(served.base + path, headers={"Cookie": f"glmchat_serve_1={served.token}"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert all("token" in r.text for r in refused)
    assert all("set-cookie" not in r.headers for r in refused)


def test_the_printed_address_opens_the_page_and_its_assets(served: Served) -> None:
    page = httpx.get(served.url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    [set_cookie] = page.headers.get_list("set-cookie")
    assert set_cookie.startswith(f"glmchat_serve_{served.port}={served.token};")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    # The page's own URLs carry no token: the cookie opens them.
    assert f'data-session-websocket-url="ws://127.0.0.1:{served.port}/ws"' in page.text
    assert 'src="/static/js/textual.js"' in page.text
    # Nothing from another site (textual-serve's template loads a Google web font), and the
    # browser is told so: no other origin, no framing by another page.
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page.text) == []
    assert "googleapis" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    cookie = cookie_of(served)
    for path in ("/static/js/textual.js", "/static/css/xterm.css"):
        assert httpx.get(served.base + path, headers={"Cookie": cookie}).status_code == 200
        assert httpx.get(served.base + path, params={"token": served.token}).status_code == 200


def test_the_websocket_needs_the_token_and_refused_ones_start_no_app(served: Served) -> None:
    cookie = cookie_of(served)
    name = cookie.split("=", 1)[0]
    wrong = "x" * len(served.token)
    for target, sent in [
        ("/ws?width=80&height=24", None),
        (f"/ws?width=80&height=24&token={wrong}", None),
        ("/ws?width=80&height=24", f"{name}={wrong}"),
        (f"/ws?token={wrong}", cookie),
    ]:
        assert handshake(served.port, target, sent) == "HTTP/1.1 403 Forbidden", (target, sent)
    assert served.apps == set()
    assert handshake(served.port, "/ws", cookie) == "HTTP/1.1 101 Switching Protocols"
    assert handshake(served.port, f"/ws?token={served.token}") == "HTTP/1.1 101 Switching Protocols"


SWITCHED = "HTTP/1.1 101 Switching Protocols"
FORBIDDEN = "HTTP/1.1 403 Forbidden"


def foreign_origins(port: int) -> list[str]:
    """Origins of pages that are not this server's own: another host, port or scheme, an
    opaque origin (a sandboxed frame, a file), a URL that is no origin."""
    return [
        "http://evil.example",
        f"http://evil.example:{port}",
        f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}",
        "http://127.0.0.1",
        f"https://127.0.0.1:{port}",
        f"ws://127.0.0.1:{port}",
        f"http://127.0.0.2:{port}",
        # localhost is another site to the browser (its cookie is not sent there): not ours.
        f"http://localhost:{port}",
        f"http://user@127.0.0.1:{port}",
        f"http://127.0.0.1:{port}/elsewhere",
        # An origin has no path, query or fragment, not even an empty one.
        f"http://127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}?",
        f"http://127.0.0.1:{port}#",
        f"http://127.0.0.1:{port}/?token=x",
        f"http://127.0.0.1:{port}, http://127.0.0.1:{port}",
        f"http://127.0.0.1:+{port}",
        f"http:127.0.0.1:{port}",
        "null",
        "",
        "http://127.0.0.1:99999",
    ]


def test_a_websocket_from_another_sites_page_is_refused_even_with_the_token(
    served: Served,
) -> None:
    """Cross-site websocket hijacking: a page elsewhere opening our websocket in a browser that
    sends our cookie along. Refused before any app starts, with the token or without."""
    cookie = cookie_of(served)
    port = served.port
    for origin in foreign_origins(port):
        assert handshake(port, "/ws", cookie, origin=origin) == FORBIDDEN, origin
        assert handshake(port, f"/ws?token={served.token}", origin=origin) == FORBIDDEN, origin
    assert served.apps == set()
    # The reason is one line, and says what to do.
    refused = httpx.get(
        served.base + "/ws",
        headers={"Cookie": cookie, "Origin": "http://evil.example", "Upgrade": "websocket"},
    )
    assert refused.status_code == 403
    assert refused.text == (
        "glmchat serve: refused a request from the page at 'http://evil.example': only this "
        f"server's own page (http://127.0.0.1:{port}) may use it; open the address "
        "`glmchat serve` printed\n"
    )


def test_an_origin_or_host_that_is_not_text_is_refused_in_one_line(served: Served) -> None:
    """Bytes that are not UTF-8 in Origin or Host: 403 with the reason, not a server error."""
    port = served.port
    ours = b"127.0.0.1:%d" % port
    for origin, host in [(b"http://\xff\xfe", ours), (b"http://" + ours, b"\xff:1")]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"GET /ws?token=%s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n"
                b"Connection: close\r\n\r\n" % (served.token.encode(), host, origin)
            )
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n"), answer
        [line] = body.decode().splitlines()
        assert line.startswith("glmchat serve: refused a request "), line
        assert ("addressed to '\\udcff:1'" in line) is (host != ours), line
    assert served.apps == set()


def test_a_websocket_from_the_servers_own_page_follows_the_token_rule(served: Served) -> None:
    cookie = cookie_of(served)
    port = served.port
    own = f"http://127.0.0.1:{port}"
    # The page's origin as the browser writes it, and the same one in other spellings.
    for origin in (own, own.upper(), f"HTTP://127.0.0.1:{port}"):
        assert handshake(port, "/ws", cookie, origin=origin) == SWITCHED, origin
    # Its own page wherever the server is reached: the Host the request was sent to.
    for name in ("localhost", "LocalHost", "[::1]"):
        host = f"{name}:{port}"
        assert (
            handshake(port, f"/ws?token={served.token}", origin=f"http://{host}", host=host)
            == SWITCHED
        ), name
    # A page of ours still needs the token.
    wrong = "x" * len(served.token)
    assert handshake(port, "/ws", origin=own) == FORBIDDEN
    assert handshake(port, f"/ws?token={wrong}", cookie, origin=own) == FORBIDDEN
    # No Origin (curl, a script): the token alone decides, as before.
    assert handshake(port, "/ws") == FORBIDDEN
    assert handshake(port, "/ws", cookie) == SWITCHED


@pytest.mark.parametrize("path", [*GATED, "/ws"])
def test_no_request_from_another_sites_page_is_served(served: Served, path: str) -> None:
    """Not only the websocket: no path answers another site's page (nor sets the cookie for
    it), whatever the method."""
    cookie = cookie_of(served)
    for origin in foreign_origins(served.port):
        for method in ("GET", "POST"):
            response = httpx.request(
                method,
                served.base + path,
                params={"token": served.token},
                headers={"Cookie": cookie, "Origin": origin},
            )
            assert response.status_code == 403, (method, origin)
            assert "set-cookie" not in response.headers
            assert response.text.startswith("glmchat serve: refused a request from the page at")
    # The same requests from the page itself are served.
    page = httpx.get(served.url, headers={"Origin": served.base})
    assert page.status_code == 200 and "set-cookie" in page.headers


def raw_get(port: int, target: str, headers: list[str], version: str = "1.1") -> tuple[str, str]:
    """A GET of `target` with exactly `headers` (no Host unless among them): (status line,
    body)."""
    lines = [f"GET {target} HTTP/{version}", *headers, "Connection: close"]
    head = "".join(f"{line}\r\n" for line in lines)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    return status.decode(), rest.partition(b"\r\n\r\n")[2].decode()


def foreign_hosts(port: int) -> list[list[str]]:
    """Host headers that do not name a loopback server on `port`: another name (DNS
    rebinding: a foreign name resolving to 127.0.0.1), ours with another port or none, none."""
    other = port + 1 if port < 65535 else port - 1
    return [
        ["Host: evil.example"],
        [f"Host: evil.example:{port}"],
        [f"Host: 127.0.0.1.evil.example:{port}"],
        [f"Host: localhost.:{port}"],
        [f"Host: 127.0.0.2:{port}"],
        [f"Host: 10.1.2.3:{port}"],
        [f"Host: 127.0.0.1:{other}"],
        [f"Host: localhost:{other}"],
        ["Host: 127.0.0.1"],
        ["Host: localhost"],
        [f"Host: ::1:{port}"],
        [f"Host: 127.0.0.1%25lo:{port}"],
        [f"Host: [::1%25lo]:{port}"],
        [f"Host: user@127.0.0.1:{port}"],
        ["Host: "],
        [],  # (two Host headers never reach the gate: aiohttp answers 400)
    ]


def test_only_a_host_that_names_this_server_is_served(served: Served) -> None:
    """DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1 is
    same-origin to itself; only the Host tells it apart. Refused before the token and the
    Origin are looked at, before any app starts, whatever the path."""
    port, token = served.port, served.token
    cookie = f"Cookie: {cookie_of(served)}"
    for path in [f"/?token={token}", "/static/js/textual.js", "/favicon.ico", "/ws"]:
        for hosts in foreign_hosts(port):
            host = hosts[0].removeprefix("Host: ") if hosts else ""
            origin = [f"Origin: http://{host}"] if host else []
            # HTTP/1.1 needs a Host (aiohttp answers 400 without one); HTTP/1.0 does not.
            version = "1.1" if hosts else "1.0"
            status, body = raw_get(port, path, [*hosts, *origin, cookie], version)
            assert status == f"HTTP/{version} 403 Forbidden", (path, hosts)
            [line] = body.splitlines()
            assert line.startswith("glmchat serve: refused a request addressed to "), line
            assert f"(http://127.0.0.1:{port})" in line and "glmchat serve` printed" in line
    assert served.apps == set()
    status, body = raw_get(port, "/", ["Host: evil.example", cookie])
    assert body == (
        "glmchat serve: refused a request addressed to 'evil.example': this server answers only "
        f"at its own address (http://127.0.0.1:{port}); open the address `glmchat serve` printed\n"
    )
    # The names of a loopback server: the printed address's, and localhost or ::1 with its port;
    # the page's websocket goes to the one the browser used.
    for host in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]", "[0:0::1]"):
        status, body = raw_get(port, f"/?token={token}", [f"Host: {host}:{port}"])
        assert status == "HTTP/1.1 200 OK", host
        assert f'data-session-websocket-url="ws://{host}:{port}/ws"' in body
        assert raw_get(port, "/favicon.ico", [f"Host: {host}:{port}", cookie])[0].endswith("200 OK")
    assert httpx.get(served.url).status_code == 200
    assert httpx.get(served.url.replace("127.0.0.1", "localhost")).status_code == 200


def test_with_allow_remote_the_machines_addresses_and_names_are_served(zai: WireServer) -> None:
    """Every interface: the printed address (0.0.0.0), the address each connection came in on,
    this machine's name; still no other name and no other port."""
    server = start_serve("--host", "0.0.0.0", "--allow-remote")
    try:
        port, token = server.port, server.token
        name = socket.gethostname()
        for host in ("0.0.0.0", "127.0.0.1", "localhost", name, name.upper()):
            status, _ = raw_get(port, f"/?token={token}", [f"Host: {host}:{port}"])
            assert status == "HTTP/1.1 200 OK", host
        other = port + 1 if port < 65535 else port - 1
        for host in ("evil.example", f"evil.example:{port}", f"{name}:{other}", "0.0.0.0", ""):
            status, body = raw_get(port, f"/?token={token}", [f"Host: {host}"])
            assert status == "HTTP/1.1 403 Forbidden", host
            assert f"only at its own address (http://0.0.0.0:{port})" in body
        assert server.apps == set()
    finally:
        server.stop()


def test_the_tab_icon_is_served_behind_the_token(served: Served) -> None:
    """Browsers ask every page's server for /favicon.ico: a 404 there was an error in the
    console on every load."""
    icon = httpx.get(served.base + "/favicon.ico", headers={"Cookie": cookie_of(served)})
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg ") and icon.content.endswith(b"</svg>")
    assert (
        httpx.head(served.base + "/favicon.ico", params={"token": served.token}).status_code == 200
    )
    assert httpx.get(served.base + "/favicon.ico").status_code == 403


# --- the app processes -----------------------------------------------------------------------


# The terminal's control sequences (CSI, OSC): Textual may break a word between two styled runs.
_CONTROLS = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-_]")


def on_screen(drawn: bytes) -> str:
    """The text of what a tab was sent, without its control sequences."""
    return _CONTROLS.sub(b"", drawn).decode(errors="replace")


async def _open_tabs_then_stop(served: Served, count: int, signum: int) -> None:
    """`count` websockets held open as browser tabs hold them, until each app has drawn."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        sockets = [
            await session.ws_connect(f"ws://127.0.0.1:{served.port}/ws?token={served.token}")
            for _ in range(count)
        ]
        for ws in sockets:
            drawn = b""  # a frame may come in several messages: "Pal" in one, "ette" in the next
            while "Palette" not in on_screen(drawn):  # the app's first frame: it is up
                message = await asyncio.wait_for(ws.receive(), START_TIMEOUT)
                assert message.type == aiohttp.WSMsgType.BINARY, message
                drawn = drawn[-4096:] + message.data
        apps = served.apps
        assert len(apps) == count
        # Each tab's app is the server's own child running glmchat: `exec` left no shell.
        for pid in apps:
            assert cmdline(pid)[1:3] == ["-m", "glmchat"], cmdline(pid)
            assert _stat(pid)[1] == served.proc.pid  # type: ignore[index]
        status, err = await asyncio.to_thread(served.stop, signum)
        assert status == 0, err
        assert [pid for pid in apps if alive(pid)] == []
        # The page learns that its app ended (the server closed each websocket).
        ended = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        for ws in sockets:
            while (await asyncio.wait_for(ws.receive(), STOP_TIMEOUT)).type not in ended:
                pass  # frames the app drew before it quit


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_ends_every_app_it_started(served: Served, signum: int) -> None:
    asyncio.run(_open_tabs_then_stop(served, 2, signum))
    assert served.proc.returncode == 0


def test_a_broken_message_from_a_tab_ends_that_tab_only(served: Served) -> None:
    async def send_garbage() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            url = f"ws://127.0.0.1:{served.port}/ws?token={served.token}"
            async with session.ws_connect(url) as ws:
                wait_until(lambda: len(served.apps) == 1, "the tab's app")
                [pid] = served.apps
                await ws.send_str("{not json")
                ended = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                while (await asyncio.wait_for(ws.receive(), STOP_TIMEOUT)).type not in ended:
                    pass
        wait_until(lambda: not alive(pid), "the tab's app to end")

    asyncio.run(send_garbage())
    assert httpx.get(served.url).status_code == 200  # the server goes on
    status, err = served.stop()
    assert status == 0
    [line] = [line for line in err.splitlines() if "tab" in line]
    assert line.startswith("glmchat: a browser tab's connection failed: JSONDecodeError(")


async def _tab_text(port: int, token: str) -> str:
    """Everything a new tab is sent until nothing more comes (its app drew or gave up)."""
    import aiohttp

    received = b""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            while True:
                try:
                    message = await asyncio.wait_for(ws.receive(), 3 if received else START_TIMEOUT)
                except TimeoutError:
                    return received.decode()
                if message.type != aiohttp.WSMsgType.BINARY:
                    return received.decode()
                received += message.data


def test_an_app_that_cannot_start_says_why_in_its_tab(served: Served, db_path: Path) -> None:
    # Before, the tab stayed blank: the reason went only to the server's output.
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"not a database at all")
    shown = asyncio.run(_tab_text(served.port, served.token))
    assert shown == (
        f"glmchat: {db_path} is not a glmchat database (not an SQLite file). Move it aside or "
        "set GLMCHAT_DATA_DIR to another directory; glmchat leaves it untouched\r\n"
        "\r\n"
        "glmchat did not start. Fix what it says, then reload this page.\r\n"
    )
    # Fixed, a reload (a new tab) starts the app; the server went on meanwhile.
    db_path.rename(db_path.with_name("damaged.db"))
    assert "Palette" in on_screen(asyncio.run(_tab_text(served.port, served.token)).encode())


@pytest.mark.parametrize(
    ("app", "shown"),
    [
        ("import sys; sys.exit(3)", "glmchat ended before it started (exit status 3)"),
        # Its output is text on the page: no escape code of it reaches the tab's terminal.
        (
            "import sys; sys.stderr.write('boom \\x1b[2J\\x1b]0;title\\x07 end\\n'); sys.exit(1)",
            "boom \\x1b[2J\\x1b]0;title\\x07 end\r\n\r\nglmchat did not start.",
        ),
    ],
)
def test_a_tab_shows_its_failed_app_as_plain_text(tmp_path: Path, app: str, shown: str) -> None:
    proc, port = _serve_stand_in(app, tmp_path / "unused")
    try:
        text = asyncio.run(_tab_text(port, "t" * 43))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=STOP_TIMEOUT)
    assert shown in text
    assert "\x1b" not in text and "\x07" not in text
    assert text.endswith("glmchat did not start. Fix what it says, then reload this page.\r\n")


# Stand-in apps for the server's side of an app's life: each announces itself as a Textual
# app does, then behaves badly in its own way when asked to quit.
LINGERING_APP = """
import os, sys, time
sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
seen = b""
while b"quit" not in seen:
    seen += os.read(0, 4096)
os.close(1)  # as Python's own shutdown does, before the process has ended
open(sys.argv[1], "w").close()
time.sleep(3)
"""
STUBBORN_APP = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdout.write("__GANGLION__\\n"); sys.stdout.flush()
open(sys.argv[1], "w").close()
while True:
    time.sleep(1)
"""
SERVER = """
import asyncio, sys
from glmchat.serve.server import GlmchatServer, serve
server = GlmchatServer(sys.argv[1], host="127.0.0.1", port=0, token="t" * 43, quit_grace=0.5)
asyncio.run(serve(server, on_listening=lambda port: print(port, flush=True)))
"""


def _serve_stand_in(app: str, marker: Path) -> tuple[subprocess.Popen[str], int]:
    import shlex

    command = shlex.join(["exec", sys.executable, "-c", app, str(marker)])
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, command], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


@pytest.mark.parametrize(
    ("app", "tab_closed_first"), [(LINGERING_APP, True), (STUBBORN_APP, False)]
)
def test_the_server_outlives_none_of_its_apps(
    tmp_path: Path, app: str, tab_closed_first: bool
) -> None:
    """An app that has closed its output is not yet gone: a stop that comes then still waits
    for it. One that will not quit at all is killed after the grace period."""
    marker = tmp_path / "marker"
    proc, port = _serve_stand_in(app, marker)
    pid = 0
    try:
        with socket.create_connection(("127.0.0.1", port)) as tab:
            key = base64.b64encode(os.urandom(16)).decode()
            tab.sendall(
                (
                    f"GET /ws?token={'t' * 43} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            assert tab.recv(4096).startswith(b"HTTP/1.1 101")
            wait_until(lambda: len(descendants(proc.pid)) == 1, "the app process")
            [pid] = descendants(proc.pid)
            if tab_closed_first:
                tab.close()  # the server asks the app to quit
                wait_until(marker.exists, "the app's output to close")
            else:
                wait_until(marker.exists, "the app to start")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=STOP_TIMEOUT) == 0
        assert not alive(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        for left in descendants(proc.pid) | ({pid} if pid and alive(pid) else set()):
            os.kill(left, signal.SIGKILL)


def test_the_terminal_guard_lets_the_web_driver_through_and_no_other(zai: WireServer) -> None:
    """Under textual-serve stdin and stdout are pipes: the app starts (its first packet is the
    web driver's prelude) and quits on the server's quit packet; any other driver without a
    terminal is still refused at once."""
    quit_packet = b'{"type": "quit"}'
    env = dict(os.environ, TEXTUAL_DRIVER=WEB_DRIVER)
    proc = subprocess.run(
        glmchat(),
        input=b"M" + len(quit_packet).to_bytes(4, "big") + quit_packet,
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.stdout.startswith(b"__GANGLION__\n"), proc.stderr
    assert proc.returncode == 0, proc.stderr
    env = dict(os.environ, TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver")
    proc = subprocess.run(
        glmchat(), stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("glmchat: the chat screen needs a terminal")


@pytest.mark.parametrize(
    "code", ["import glmchat.cli as c; c.build_parser()", "import glmchat.tui.app"]
)
def test_textual_serve_loads_only_for_serve(code: str) -> None:
    """Every other command, and the chat screen, start without textual-serve and aiohttp."""
    heavy = ("textual_serve", "aiohttp", "aiohttp_jinja2", "jinja2", "glmchat.serve.server")
    check = f"import sys\n{code}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


# --- textual-serve, as this code relies on it (a tripwire for upgrades) ----------------------


def test_textual_serve_is_as_glmchat_serve_relies_on_it() -> None:
    from importlib.metadata import version

    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    pinned = re.search(r'"textual-serve==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and version("textual-serve") == pinned.group(1)
    # glmchat/serve/server.py's three reaches into it.
    assert inspect.iscoroutinefunction(Server._make_app)
    assert list(inspect.signature(Server._process_messages).parameters) == [
        "self",
        "websocket",
        "app_service",
    ]
    assert list(inspect.signature(AppService._open_app_process).parameters) == [
        "self",
        "width",
        "height",
    ]
    # The driver it names is the one the terminal guard lets through.
    service = AppService(
        "true", write_bytes=None, write_str=None, close=None, download_manager=None
    )  # type: ignore[arg-type]
    assert service._build_environment()["TEXTUAL_DRIVER"] == WEB_DRIVER
    # The page template still reads the values handle_index gives it.
    template = (Path(inspect.getfile(Server)).parent / "templates" / "app_index.html").read_text()
    for name in ("app_websocket_url", "config.static.url", "font_size", "application.name"):
        assert "{{ " + name in template, name
    # The one outside request the served page leaves out is still the template's only one.
    from glmchat.serve.server import _WEB_FONT

    assert len(_WEB_FONT.findall(template)) == 1
    assert re.findall(r'(?:src|href)="(?:https?:)?//', _WEB_FONT.sub("", template)) == []


# --- the page in a real browser --------------------------------------------------------------

# Keeps the page's xterm.js Terminal when textual-serve's script assigns it (`this.terminal =
# new Terminal(...)`): the buffer then reads as text, whatever renders it (canvas or WebGL).
KEEP_TERMINAL = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
    window.__terminals.push(value);
  },
});
"""
READ_SCREEN = """() => {
  const terminal = window.__terminals[0];
  if (!terminal) return "";
  const buffer = terminal.buffer.active;
  const rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def test_the_page_in_a_real_browser_chats_with_the_loopback_server(
    served: Served, zai: WireServer, tmp_path: Path
) -> None:
    """The printed address in headless Chromium: the app appears, a prompt typed into the page
    gets the wire server's answer (thinking panel and all) on screen and into the store, and
    stopping the server ends the tab's app. GLMCHAT_SCREENSHOT=1 also writes docs/serve.png."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium; .ci/run installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    zai.reply(
        Reply(
            chunks=stream(
                ["The capital of Burkina Faso is **Ouagadougou**."],
                reasoning=["The user asks for a capital. ", "Burkina Faso's is Ouagadougou."],
            ),
            delay=0.01,
        )
    )
    outside: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile each run
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 640},
        )
        try:
            browser.grant_permissions(["clipboard-read", "clipboard-write"])
            page = browser.new_page()
            page.add_init_script(KEEP_TERMINAL)

            def refuse_outside(route) -> None:  # noqa: ANN001
                # No request may leave the loopback (textual-serve's own page asks Google for a
                # font; glmchat's leaves that out).
                outside.append(route.request.url)
                route.abort()

            page.route(lambda url: urlsplit(url).hostname != "127.0.0.1", refuse_outside)
            # Whatever the page's own policy blocks, and any request that fails (a 403, a
            # 404), shows as a console error.
            blocked: list[str] = []
            page.on(
                "console",
                lambda message: (
                    blocked.append(message.text)
                    if message.type == "error" or "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(served.url)

            def screen() -> str:
                return page.evaluate(READ_SCREEN)

            wait_until(lambda: "thinking ON" in screen(), "the app in the page", shown=screen)
            assert "^p Palette" in screen()
            [tab] = served.apps
            # Keys go to xterm.js's input element (a click would land in the app, as a mouse
            # click on the message list, and take the focus from the prompt).
            page.focus("textarea.xterm-helper-textarea")
            page.keyboard.type("What is the capital of Burkina Faso?")
            page.keyboard.press("Enter")
            wait_until(lambda: "Ouagadougou." in screen(), "the answer in the page", shown=screen)
            text = screen()
            assert "What is the capital of Burkina Faso?" in text
            assert "The capital of Burkina Faso is Ouagadougou." in text  # Markdown drawn
            assert "Thought for" in text, text
            # Control keys pass through xterm.js as a terminal's would: ctrl+o unfolds the
            # thinking panel, ctrl+y copies the answer (OSC 52, which the page hands to the
            # browser's clipboard).
            page.keyboard.press("Control+o")
            wait_until(lambda: "The user asks for a capital." in screen(), "thinking", shown=screen)
            page.keyboard.press("Control+y")
            wait_until(
                lambda: "Ouagadougou" in page.evaluate("navigator.clipboard.readText()"),
                "the answer in the browser's clipboard",
            )
            # The tab's icon, as the page's own request gets it (headless Chromium asks for
            # none). The empty query: Playwright aborts any routed URL ending in /favicon.ico.
            icon = "fetch('/favicon.ico?').then(r => [r.status, r.headers.get('content-type')])"
            assert page.evaluate(icon) == [200, "image/svg+xml"]
            page.screenshot(path=str(tmp_path / "serve.png"))
            if os.environ.get("GLMCHAT_SCREENSHOT"):
                shutil.copy(tmp_path / "serve.png", ROOT / "docs" / "serve.png")
        finally:
            browser.close()
    assert outside == [] and blocked == []
    [request] = zai.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json["messages"][-1] == {
        "role": "user",
        "content": "What is the capital of Burkina Faso?",
    }
    status, _ = served.stop(signal.SIGINT)
    assert status == 0
    assert not alive(tab)
    # The tab's app used the same store as the command.
    with SessionStore(paths.database_path()) as store:
        [conversation] = store.list_conversations()
        answer = store.get_conversation(conversation.id).messages[-1]
    assert answer.content == "The capital of Burkina Faso is **Ouagadougou**."

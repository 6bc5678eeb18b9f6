"""The served app: textual-serve's aiohttp server behind the token gate, ending every app it starts.

textual-serve offers no hook for a middleware, for the page's URLs or for the processes it
starts, so this module reaches into it in three places, all pinned by the exact version in
pyproject.toml and tripwired in tests/test_serve.py: `Server._make_app` (the aiohttp app, to add
the gate), `Server._process_messages` (the websocket's read loop) and
`AppService._open_app_process` (to keep each app's process, so that stopping ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import re
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from glmchat.serve.gate import token_gate
from glmchat.terminal_text import neutralize_controls

# How long an app has to quit as closing its tab would make it (saving what streamed)
# before it is killed.
QUIT_GRACE_SECONDS = 5.0


class PortInUse(OSError):
    """The address is taken by another server."""


# How much of a failed app's stderr the tab is shown: its last lines, as a terminal shows them.
SHOWN_ERROR_LINES = 20


class _KeptStream:
    """An app's stderr as textual-serve reads it, keeping what was read (the last 64 KiB)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.kept = bytearray()

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        self.kept += data
        del self.kept[: -64 * 1024]
        return data


class ServedApp(AppService):
    """One browser tab's app process, kept so that the server can end it."""

    process: Process | None = None
    _stderr: _KeptStream | None = None
    _spoke = False  # the app has sent the tab something: it started

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self.process = process = await super()._open_app_process(width, height)
        if process.stderr is not None:
            self._stderr = _KeptStream(process.stderr)
            process.stderr = self._stderr  # type: ignore[assignment]
        return process

    async def on_data(self, payload: bytes) -> None:
        self._spoke = True
        await super().on_data(payload)

    async def on_meta(self, data: bytes) -> None:
        self._spoke = True
        await super().on_meta(data)

    async def run(self) -> None:
        await super().run()
        if not self._spoke:
            # It ended before its first frame (a damaged database, a store it may not write):
            # the tab would stay blank, the reason only in the server's output. Show it there.
            if self.process is not None:  # its output has ended; its exit status comes next
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.process.wait(), 2.0)
            with contextlib.suppress(Exception):  # the tab may have gone already
                await self.remote_write_bytes(self.failure_text().encode())

    def failure_text(self) -> str:
        """What the tab shows when its app did not start: the app's own last lines (glmchat's
        one-line errors), then what to do."""
        said = self._stderr.kept.decode("utf-8", "replace") if self._stderr else ""
        lines = [neutralize_controls(line) for line in said.splitlines() if line.strip()]
        shown = lines[-SHOWN_ERROR_LINES:]
        if not shown:
            code = self.process.returncode if self.process else None
            status = "unknown" if code is None else str(code)
            shown = [
                f"glmchat ended before it started (exit status {status}) and said nothing; "
                "run `glmchat` in a terminal to see why"
            ]
        shown += ["", "glmchat did not start. Fix what it says, then reload this page."]
        return "\r\n".join(shown) + "\r\n"

    async def end(self, grace: float) -> None:
        """Ask the app to quit; kill it if it has not within `grace` seconds."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):  # its stdin may be closed already
            await self.send_meta({"type": "quit"})
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


# The page's one request to another site: textual-serve's template loads a web font from
# Google, which would tell Google of every page opened (and wait on it offline). Without it the
# page uses the browser's monospace font.
_WEB_FONT = re.compile(
    r'\s*<link\s+rel="stylesheet"\s+href="https://fonts\.googleapis\.com/[^"]*"\s*/>'
)

# The page may load only from this server, and no other page may frame it (it gives full access
# to the API keys). Its template has inline scripts and styles.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


class _OwnFontsOnly(jinja2.BaseLoader):
    """textual-serve's templates, without the link to Google's web fonts."""

    def __init__(self, loader: jinja2.BaseLoader | None) -> None:
        assert loader is not None
        self.loader = loader

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.loader.get_source(environment, template)
        return _WEB_FONT.sub("", source), filename, uptodate


# The tab's icon: a speech bubble. Without one every page load asks for /favicon.ico and puts its
# 404 in the browser's console. Behind the gate like every other path.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<rect width="16" height="16" rx="3" fill="#1e2030"/>'
    b'<path d="M3 4h10v6H7l-3 3v-3H3z" fill="#7aa2f7"/></svg>'
)


async def handle_favicon(request: web.Request) -> web.Response:
    return web.Response(body=FAVICON, content_type="image/svg+xml")


async def _page_policy(request: web.Request, response: web.StreamResponse) -> None:
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = PAGE_POLICY


class GlmchatServer(Server):
    """textual-serve's Server, quiet, with URLs taken from the request and its apps tracked."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str,
        names: Iterable[str] = (),
        quit_grace: float = QUIT_GRACE_SECONDS,
    ) -> None:
        """`names`: the machine's names the page may also be reached by (with --allow-remote),
        besides `host` and the address each connection comes in on."""
        super().__init__(command, host=host, port=port, title="glmchat")
        self.token = token
        self.names = frozenset(names)
        self.quit_grace = quit_grace
        self.apps: set[ServedApp] = set()

    async def make_app(self) -> web.Application:
        app = await self._make_app()
        # First in the chain: nothing (not even the page's template) runs before the gate.
        # An empty host listens on every interface; the printed address says 0.0.0.0.
        gate = token_gate(self.token, host=self.host or "0.0.0.0", names=self.names)
        app.middlewares.insert(0, gate)
        app.router.add_get("/favicon.ico", handle_favicon, name="favicon")
        env = aiohttp_jinja2.get_env(app)
        env.loader = _OwnFontsOnly(env.loader)
        app.on_response_prepare.append(_page_policy)
        return app

    async def on_startup(self, app: web.Application) -> None:
        # textual-serve prints a banner and its own address here (without the token):
        # `glmchat serve` prints the one address that works instead.
        pass

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # textual-serve writes its configured host into the page (`0.0.0.0` with --allow-remote,
        # which no browser can reach); the host the browser used always can.
        websocket_scheme = "wss" if request.secure else "ws"
        websocket_path = request.app.router["websocket"].url_for()
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{websocket_scheme}://{request.host}{websocket_path}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # textual-serve's handler, with the app kept in `self.apps` while it runs.
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        served: ServedApp | None = None

        async def close() -> None:
            # AppService wants an awaitable of None; the websocket's close answers a bool.
            await websocket.close()

        try:
            await websocket.prepare(request)
            served = ServedApp(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.apps.add(served)
            await served.start(width, height)
            await self._process_messages(websocket, served)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as exc:  # one tab's broken connection or message ends that tab only
            print(f"glmchat: a browser tab's connection failed: {exc!r}", file=sys.stderr)
        finally:
            if served is not None:
                await served.stop()
                # stop() returns at the end of the app's output, which Python closes before the
                # process has exited: the app stays tracked until it has, so that a stop
                # arriving now still waits for it.
                await served.end(self.quit_grace)
                self.apps.discard(served)
        return websocket

    async def end_apps(self) -> None:
        """End every app process this server started (each asked to quit first)."""
        await asyncio.gather(*(app.end(self.quit_grace) for app in list(self.apps)))


async def serve(
    server: GlmchatServer, *, on_listening: Callable[[int], None] | None = None
) -> None:
    """Run `server` until SIGINT or SIGTERM, then end its apps and close. `on_listening` gets
    the port bound (the one asked for, or the one chosen for port 0)."""
    runner = web.AppRunner(await server.make_app(), handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, server.host, server.port)
        try:
            await site.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(exc.errno, exc.strerror) from exc
            raise
        port = runner.addresses[0][1]
        server.port = port
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if on_listening is not None:
            on_listening(port)
        await stop.wait()
    finally:
        # The apps first, while their websockets are open: each quits as closing its tab would.
        await server.end_apps()
        await runner.cleanup()
        # A tab opened while the others were ending.
        await server.end_apps()

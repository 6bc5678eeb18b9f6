"""`glmchat serve`: the chat app in a browser (glmchat/serve), behind a token printed here."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import secrets
import shlex
import socket
import sys
import threading

from glmchat.cli.errors import CliError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        description="Serve the chat app to a browser: each tab runs its own app with the same "
        "config, keys and conversations. Open the address printed (it carries a random token; "
        "any request without it is refused). Ctrl+C stops the server and every app it started.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0: any free one)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on an address other machines can reach (the page gives full access to "
        "your API keys and conversations)",
    )
    p.add_argument("--open", action="store_true", help="open the address in a web browser")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is this machine's loopback. An empty host or a
    wildcard (0.0.0.0, ::) listens on every interface; a name is resolved."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise CliError(f"--host {host!r} is not an address this machine can listen on") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def address(host: str, port: int, token: str) -> str:
    """The address to open: `http://HOST:PORT/?token=TOKEN` (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def app_command() -> str:
    """The shell command textual-serve runs for each tab: this interpreter's glmchat, so the
    app is the installed one the server itself runs. `exec` makes the app the process the
    server started (not a shell around it), so that ending it ends the app."""
    return f"exec {shlex.quote(sys.executable)} -m glmchat"


def run(args: argparse.Namespace) -> int:
    host, port = args.host.strip(), args.port
    if not 0 <= port <= 65535:
        raise CliError(f"--port {port} is not a port; give 1 to 65535 (or 0 for any free one)")
    remote = not is_loopback(host)
    if remote and not args.allow_remote:
        raise CliError(
            f"--host {host or '(every interface)'} can be reached from other machines, and the "
            "page gives full access to your API keys and conversations; add --allow-remote "
            "to serve it anyway"
        )
    from glmchat import paths
    from glmchat.config import load_settings

    # A broken config is reported here, once, not in every browser tab.
    settings = load_settings()
    for warning in settings.warnings:
        print(f"glmchat: warning: {warning}", file=sys.stderr)
    # Each app process inherits this environment: the same config and store as this command,
    # even where the directories were given relative to the current one.
    os.environ[paths.CONFIG_DIR_ENV] = str(paths.config_dir().resolve())
    os.environ[paths.DATA_DIR_ENV] = str(paths.data_dir().resolve())

    import asyncio

    from glmchat.serve.gate import machine_names
    from glmchat.serve.server import GlmchatServer, PortInUse, serve

    token = secrets.token_urlsafe(32)
    # Other machines reach it by an address of this one (each connection's own) or its name.
    names = machine_names() if remote else frozenset[str]()
    server = GlmchatServer(app_command(), host=host, port=port, token=token, names=names)

    def listening(bound: int) -> None:
        url = address(host or "0.0.0.0", bound, token)
        if remote:
            print(
                "glmchat: warning: serving to other machines: whoever opens this address has "
                "full access to your API keys and conversations",
                file=sys.stderr,
            )
        print(url, flush=True)
        print("Press Ctrl+C to stop (it ends every app started from the page).", flush=True)
        if args.open:
            import webbrowser

            # A browser may take a while to start (or be a text one): never hold up the server.
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    try:
        asyncio.run(serve(server, on_listening=listening))
    except PortInUse:
        raise CliError(
            f"port {port} on {host} is in use (another server?); pick another with --port"
        ) from None
    except OSError as exc:
        raise CliError(_cannot_listen(host, port, exc)) from None
    print("glmchat: stopped", file=sys.stderr)
    return 0


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    # asyncio's message repeats the address as a Python tuple: say it plainly instead.
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: it is not an address of this machine"
    if exc.errno == errno.EACCES:
        return f"cannot listen on port {port}: it needs privileges; pick one above 1023"
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"cannot listen on {host}:{port}: {reason}"

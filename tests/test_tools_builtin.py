"""The built-in tools: read_file and list_dir stay inside the allowed directories whatever the
path says (`..`, absolute, symbolic links), cap what they read and say what they refuse;
fetch_url reads text over real loopback HTTP only when private addresses are allowed."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from glmchat.tools.base import ToolSettings
from glmchat.tools.builtin import builtin_tools
from glmchat.tools.fetch import FetchUrl, address_problem
from glmchat.tools.files import MAX_ENTRIES, ListDir, ReadFile, allowed_roots
from glmchat.tools.html_text import html_to_text
from tests.wire_server import Reply, WireServer


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """allowed/ (the allowed directory) next to outside/ (a secret it must never show)."""
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "notes.txt").write_text("line 1\nline 2\n", encoding="utf-8")
    (allowed / "sub" / "deep.txt").write_text("deep\n", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET\n", encoding="utf-8")
    return allowed


def read_file(root: Path, max_bytes: int = 65536) -> ReadFile:
    return ReadFile(allowed_roots([str(root)]), max_bytes)


# --- containment -------------------------------------------------------------------------


async def test_read_file_reads_inside(tree: Path) -> None:
    tool = read_file(tree)
    for path in ("notes.txt", str(tree / "notes.txt"), "sub/../notes.txt", "./notes.txt"):
        out = await tool.call({"path": path})
        assert (out.text, out.is_error) == ("line 1\nline 2\n", False), path
    out = await tool.call({"path": "notes.txt", "start_line": 2})
    assert out.text == "line 2\n"


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "{outside}/secret.txt",
        "{allowed}/../outside/secret.txt",
        "/etc/passwd",
        "~/secret.txt",
        "link_out/secret.txt",  # a directory link leading out
        "file_link",  # a file link leading out
        "sub/chain",  # a link to a link leading out
    ],
)
async def test_read_file_refuses_every_way_out(
    tree: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tree.parent / "outside"
    (tree / "link_out").symlink_to(outside)
    (tree / "file_link").symlink_to(outside / "secret.txt")
    (tree / "sub" / "chain").symlink_to(tree / "file_link")
    monkeypatch.setenv("HOME", str(outside))  # ~ expands to a place outside too
    out = await read_file(tree).call({"path": path.format(outside=outside, allowed=tree)})
    assert out.is_error
    assert "SECRET" not in out.text
    assert "is outside the allowed directories" in out.text
    assert str(tree) in out.text
    assert out.text.count("\n") == 0


async def test_list_dir_refuses_every_way_out(tree: Path) -> None:
    (tree / "link_out").symlink_to(tree.parent / "outside")
    tool = ListDir(allowed_roots([str(tree)]))
    for path in ("..", "link_out", str(tree.parent), "/", "sub/../.."):
        out = await tool.call({"path": path})
        assert out.is_error and "outside the allowed directories" in out.text, path
        assert "secret.txt" not in out.text


async def test_a_link_inside_that_stays_inside_is_followed(tree: Path) -> None:
    (tree / "alias.txt").symlink_to(tree / "sub" / "deep.txt")
    out = await read_file(tree).call({"path": "alias.txt"})
    assert out.text == "deep\n" and not out.is_error


async def test_relative_allowed_dirs_resolve_against_the_start_directory(tree: Path) -> None:
    settings = ToolSettings(builtin=("read_file", "list_dir"), allowed_dirs=("allowed",))
    reader, lister = builtin_tools(settings, cwd=tree.parent)
    assert (await reader.call({"path": "notes.txt"})).text.startswith("line 1")
    listing = (await lister.call({})).text.splitlines()
    assert listing[0] == f"{tree}:"
    assert listing[1:] == ["notes.txt  14 bytes", "sub/"]
    out = await reader.call({"path": "../outside/secret.txt"})
    assert out.is_error


async def test_several_allowed_dirs(tree: Path) -> None:
    other = tree.parent / "other"
    other.mkdir()
    (other / "x.txt").write_text("x", encoding="utf-8")
    tool = ReadFile(allowed_roots([str(tree), str(other)]), 1000)
    assert (await tool.call({"path": str(other / "x.txt")})).text == "x"
    assert (await tool.call({"path": "../other/x.txt"})).text == "x"
    assert (await tool.call({"path": "../outside/secret.txt"})).is_error


# --- what is read, and the caps ----------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "read_file: give a path as a non-empty string"),
        ({"path": 3}, "read_file: give a path as a non-empty string"),
        ({"path": "a\0b"}, "read_file: a path cannot contain a NUL character"),
        ({"path": "missing.txt"}, "read_file: missing.txt: no such file"),
        ({"path": "sub"}, "read_file: sub is a directory; use list_dir"),
        ({"path": "notes.txt", "start_line": 0}, "read_file: start_line must be a whole number"),
        ({"path": "notes.txt", "start_line": 9}, "read_file: notes.txt has only 2 lines"),
        ({"path": "blob.bin"}, "read_file: blob.bin is a binary file (6 bytes)"),
        ({"path": "latin1.txt"}, "read_file: latin1.txt is not UTF-8 text"),
        ({"path": "fifo"}, "read_file: fifo is not a regular file"),
    ],
)
async def test_read_file_says_what_it_refuses(
    tree: Path, arguments: dict[str, object], message: str
) -> None:
    (tree / "blob.bin").write_bytes(b"\x89PNG\0\1")
    (tree / "latin1.txt").write_bytes("café".encode("latin-1"))
    os.mkfifo(tree / "fifo")
    out = await read_file(tree).call(arguments)
    assert out.is_error and out.text.startswith(message), out.text
    assert "\n" not in out.text


async def test_read_file_cuts_a_long_file_on_a_line_and_says_where_to_go_on(tree: Path) -> None:
    lines = [f"line {i:04d} é\n" for i in range(1, 2001)]  # 14 bytes each
    (tree / "long.txt").write_text("".join(lines), encoding="utf-8")
    tool = read_file(tree, max_bytes=1024)
    first = await tool.call({"path": "long.txt"})
    text, _, note = first.text.rpartition("\n[read_file: ")
    assert text.endswith("\n") and len(text.encode()) <= 1024
    shown = text.count("\n")
    assert text == "".join(lines[:shown])
    assert note == f"cut at 1 KB of a {len(''.join(lines).encode())}-byte file; " + (
        f"read on with start_line={shown + 1}]"
    )
    second = await tool.call({"path": "long.txt", "start_line": shown + 1})
    assert second.text.startswith(lines[shown])


async def test_read_file_cut_inside_a_character_is_still_text(tree: Path) -> None:
    (tree / "wide.txt").write_text("é" * 100, encoding="utf-8")  # no newline: cut mid-line
    out = await read_file(tree, max_bytes=51).call({"path": "wide.txt"})
    assert not out.is_error
    assert out.text == "é" * 25 + (
        "\n[read_file: cut at 51 bytes: line 1 of this 200-byte file is longer than that, so the "
        "rest of it cannot be read]"
    )


async def test_list_dir_marks_kinds_and_caps_entries(tree: Path) -> None:
    (tree / "link").symlink_to(tree / "notes.txt")
    many = tree / "many"
    many.mkdir()
    for i in range(MAX_ENTRIES + 3):
        (many / f"f{i:04d}").touch()
    tool = ListDir(allowed_roots([str(tree)]))
    assert (await tool.call({"path": "."})).text.splitlines()[1:] == [
        "link@",
        "many/",
        "notes.txt  14 bytes",
        "sub/",
    ]
    listing = (await tool.call({"path": "many"})).text.splitlines()
    assert len(listing) == 1 + MAX_ENTRIES + 1
    assert listing[-1] == "[list_dir: 3 more entries not shown]"
    out = await tool.call({"path": "notes.txt"})
    assert out.is_error and out.text == "list_dir: notes.txt is a file; use read_file"


def test_only_the_listed_builtins_are_made(tree: Path) -> None:
    assert builtin_tools(ToolSettings()) == []
    made = builtin_tools(ToolSettings(builtin=("fetch_url", "read_file")), cwd=tree)
    assert [tool.spec.name for tool in made] == ["fetch_url", "read_file"]
    assert all(tool.spec.read_only and tool.spec.source == "builtin" for tool in made)
    for tool in made:
        wire = tool.spec.wire()
        assert wire["function"]["parameters"]["type"] == "object"


# --- fetch_url ---------------------------------------------------------------------------


def html_reply(body: str, status: int = 200, **headers: str) -> Reply:
    return Reply(
        body=body.encode("utf-8"),
        status=status,
        headers={"Content-Type": "text/html; charset=utf-8", **headers},
    )


def private_fetch(max_bytes: int = 65536) -> FetchUrl:
    settings = ToolSettings(builtin=("fetch_url",), fetch_private=True, max_result_kb=64)
    (tool,) = builtin_tools(settings)
    assert isinstance(tool, FetchUrl)
    tool.max_bytes = max_bytes
    return tool


PAGE = """<!doctype html><html><head><title>The  Page</title>
<style>body { color: red }</style><script>alert("x")</script></head>
<body><h1>Heading</h1><p>First &amp; <b>bold</b>
paragraph.</p><ul><li>one</li><li>two</li></ul><noscript>enable js</noscript></body></html>"""


async def test_fetch_url_reads_text_from_html_over_loopback_when_allowed(
    wire: WireServer,
) -> None:
    wire.reply(html_reply(PAGE))
    out = await private_fetch().call({"url": f"{wire.url}/page"})
    assert not out.is_error, out.text
    assert out.text == (
        f"URL: {wire.url}/page\nTitle: The Page\n\n"
        "Heading\n\nFirst & bold paragraph.\n\n- one\n\n- two"
    )
    assert wire.requests[0].method == "GET" and wire.requests[0].path == "/page"


async def test_fetch_url_refuses_loopback_by_default(wire: WireServer) -> None:
    (tool,) = builtin_tools(ToolSettings(builtin=("fetch_url",)))
    for url in (wire.url, f"http://localhost:{wire.port}/", "http://[::1]/", "http://0.0.0.0/"):
        out = await tool.call({"url": url})
        assert out.is_error
        assert "fetch_url reaches only public addresses unless [tools] fetch_private = true" in (
            out.text
        )
    assert "127.0.0.1 is a loopback address" in (await tool.call({"url": wire.url})).text
    assert wire.requests == []  # refused before connecting


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.2", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("192.0.2.1", "private"),  # documentation
        ("64:ff9b::7f00:1", "reserved"),  # NAT64
    ],
)
def test_inside_addresses_are_named(address: str, kind: str) -> None:
    article = "an" if kind[0] in "aeiou" else "a"
    assert address_problem(ipaddress.ip_address(address)) == f"{article} {kind} address"


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


async def test_a_name_with_any_inside_address_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    out = await FetchUrl(1024, resolve=resolve).call({"url": "https://mixed.example/"})
    assert out.is_error
    assert out.text.startswith("fetch_url: mixed.example (10.0.0.5) is a private address;")


def loopback_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The default policy, except that this test's server on 127.0.0.1 counts as public."""
    return None if str(ip) == "127.0.0.1" else address_problem(ip)


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/"]
)
async def test_a_redirect_to_an_inside_address_is_refused(wire: WireServer, location: str) -> None:
    wire.reply(Reply(status=302, headers={"Location": location}))
    out = await FetchUrl(1024, policy=loopback_is_public).call({"url": f"{wire.url}/go"})
    assert out.is_error
    assert "fetch_url reaches only public addresses" in out.text
    assert len(wire.requests) == 1


async def test_the_address_connected_to_is_checked_too(wire: WireServer) -> None:
    """A name that resolves to a public address when checked and to an inside one when
    connecting (DNS rebinding) is refused before anything is read."""

    async def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    wire.reply(html_reply("<p>internal</p>"))
    tool = FetchUrl(1024, resolve=rebinding)
    out = await tool.call({"url": f"http://localhost:{wire.port}/"})
    assert out.is_error and "internal" not in out.text
    assert "127.0.0.1" in out.text and "loopback" in out.text


async def test_fetch_url_follows_redirects_up_to_a_limit(wire: WireServer) -> None:
    wire.reply(
        Reply(status=301, headers={"Location": "/second"}),
        Reply(status=307, headers={"Location": f"{wire.url}/third"}),
        Reply(body=b'{"ok": true}', headers={"Content-Type": "application/json"}),
    )
    out = await private_fetch().call({"url": f"{wire.url}/first"})
    assert out.text == f'URL: {wire.url}/third\n\n{{"ok": true}}'
    assert [r.path for r in wire.requests] == ["/first", "/second", "/third"]

    wire.default = Reply(status=302, headers={"Location": "/again"})
    out = await private_fetch().call({"url": f"{wire.url}/loop"})
    assert out.is_error and out.text.endswith("more than 5 redirects")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(status=404, body=b"nope", headers={"Content-Type": "text/plain"}), "HTTP 404"),
        (Reply(body=b"\x89PNG", headers={"Content-Type": "image/png"}), "is image/png, not text"),
        (Reply(status=302, headers={"Location": "ftp://example.com/x"}), "only http:// and"),
    ],
)
async def test_fetch_url_errors_are_one_line(wire: WireServer, reply: Reply, message: str) -> None:
    wire.reply(reply)
    out = await private_fetch().call({"url": f"{wire.url}/x"})
    assert out.is_error and message in out.text and "\n" not in out.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http:// and https:// URLs can be fetched"),
        ("http:///nohost", "no host in the URL"),
        ("http://127.0.0.1:99999/", "the port is not a number"),
        ("", "give the url as a non-empty string"),
    ],
)
async def test_fetch_url_refuses_bad_urls(url: str, message: str) -> None:
    out = await private_fetch().call({"url": url})
    assert out.is_error and message in out.text


async def test_fetch_url_connection_refused_is_one_line(wire: WireServer) -> None:
    port = wire.port
    wire.close()
    out = await private_fetch().call({"url": f"http://127.0.0.1:{port}/"})
    assert out.is_error and out.text.startswith("fetch_url: http://127.0.0.1:")
    assert "cannot connect" in out.text and "\n" not in out.text
    wire.close = lambda: None  # type: ignore[method-assign]  # already closed


async def test_fetch_url_caps_what_it_reads_and_returns(wire: WireServer) -> None:
    sent = 10_000_000
    wire.reply(
        Reply(
            headers={"Content-Type": "text/plain; charset=utf-8"},
            chunks=lambda: (b"x" * 10_000 for _ in range(sent // 10_000)),
        )
    )
    out = await private_fetch(max_bytes=2048).call({"url": f"{wire.url}/big"})
    body, _, note = out.text.partition("\n\n")[2].partition("\n[fetch_url: ")
    assert body == "x" * 2048
    assert note == "cut at 2 KB of text]"


def test_html_to_text_keeps_blocks_apart_and_drops_hidden_content() -> None:
    title, text = html_to_text(
        "<title>T</title><div>a<br>b</div><template><p>no</p></template>"
        "<table><tr><td>c</td><td>d</td></tr></table><svg><text>no</text></svg>&lt;tag&gt;"
    )
    assert title == "T"
    assert text == "a\nb\n\nc\n\nd\n\n<tag>"

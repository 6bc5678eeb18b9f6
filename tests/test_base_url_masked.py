"""A provider's base_url is shown as an MCP server's url is (secret_values): its userinfo's
password, its query and fragment values and a token-like path segment masked, everywhere it is
turned into text for the user; the request still goes to the whole URL.

Found by QA: with providers.zai.base_url = 'http://bob:hunter2@127.0.0.1:1/v4?token=abc123',
`config show`, its --json and `ask`'s "Could not connect to Z.ai at …" showed both in clear."""

from __future__ import annotations

import dataclasses
import io
import json
import socket
from collections.abc import Callable

import httpx
import pytest

from glmchat import paths
from glmchat.backend import errors as E
from glmchat.backend.events import ChatRequest, Message
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.backend.providers import BUILTIN_PROVIDERS, ProviderConfig
from glmchat.cli import main
from glmchat.config import load_settings, save_value
from glmchat.secret_values import shown_url
from glmchat.store import SessionStore
from glmchat.tui.screens.key_prompt import KeyPrompt
from tests.tui_helpers import API_KEY, running, screen_text, send, wait_for_stream
from tests.wire_server import Reply, WireServer

# (the URL with {host} for host:port, its secrets, how it is shown)
SECRET_URLS = [
    ("http://bob:hunter2@{host}/v4", ("hunter2",), "http://bob:****@{host}/v4"),
    ("http://{host}/v4?token=abc123def", ("abc123def",), "http://{host}/v4?token=****"),
    (
        "http://{host}/gw/a1B2c3D4e5F6g7H8/v4",
        ("a1B2c3D4e5F6g7H8",),
        "http://{host}/gw/****/v4",
    ),
    (
        "http://al:pw-9x7@{host}/k/Zq81hXk02Lm9Vb/v4?key=s3cr3tv4lue#sig=frag0xyz",
        ("pw-9x7", "Zq81hXk02Lm9Vb", "s3cr3tv4lue", "frag0xyz"),
        "http://al:****@{host}/k/****/v4?key=****#sig=****",
    ),
]
IDS = ["password", "query", "path", "all"]
PLAIN = "https://api.z.ai/api/paas/v4"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _closed_host() -> str:
    return f"127.0.0.1:{_closed_port()}"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _hidden(text: str, secrets: tuple[str, ...]) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} shown in:\n{text}"


# -- the one helper ------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_shown_url_masks_each_secret_part(url: str, secrets: tuple[str, ...], shown: str) -> None:
    host = "gw.example:8443"
    assert shown_url(url.format(host=host)) == shown.format(host=host)


@pytest.mark.parametrize(
    "url",
    [
        PLAIN,
        "https://api.z.ai/api/coding/paas/v4",
        "https://openrouter.ai/api/v1",
        "http://localhost:11434/v1",
        "http://127.0.0.1:8000/v1/",
        "https://my-gateway.example.com/my-project-2024/openai/v1",
    ],
)
def test_a_plain_url_is_shown_unchanged(url: str) -> None:
    assert shown_url(url) == url


def test_every_builtin_provider_url_is_shown_unchanged() -> None:
    for provider in BUILTIN_PROVIDERS.values():
        assert shown_url(provider.base_url) == provider.base_url


# -- config show ---------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_config_show_masks_the_base_url(
    capsys: pytest.CaptureFixture[str], url: str, secrets: tuple[str, ...], shown: str
) -> None:
    host = "127.0.0.1:1"
    save_value("providers.zai.base_url", url.format(host=host))
    save_value("providers.zai-coding.base_url", PLAIN)
    code, out, err = _run(capsys, "config", "show")
    assert code == 0
    _hidden(out + err, secrets)
    [line] = [line for line in out.splitlines() if line.startswith("  zai ")]
    assert shown.format(host=host) in line
    [coding] = [line for line in out.splitlines() if line.startswith("  zai-coding ")]
    assert PLAIN in coding  # a plain URL is shown as it is
    code, out, err = _run(capsys, "config", "show", "--json")
    assert code == 0
    _hidden(out + err, secrets)
    providers = json.loads(out)["providers"]
    assert providers["zai"]["base_url"] == shown.format(host=host)
    assert providers["zai-coding"]["base_url"] == PLAIN
    # The URL used for requests is whole.
    assert load_settings().providers["zai"].base_url == url.format(host=host)


# -- the client's errors -------------------------------------------------------------------


def _provider(url: str) -> ProviderConfig:
    return ProviderConfig(name="zai", dialect="zai", base_url=url, api_key_env="ZAI_API_KEY")


async def _stream_error(client: OpenAICompatClient) -> E.ProviderError:
    request = ChatRequest(model="glm-4.5", messages=(Message(role="user", content="hi"),))
    with pytest.raises(E.ProviderError) as caught:
        async for _ in client.stream(request):
            pass
    return caught.value


def _failing(exc: Callable[[httpx.Request], Exception]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


# Each way a request can fail before an answer, its exception quoting the URL as it was sent
# (httpx's words may: a proxy's, a redirect's).
FAILURES: dict[str, Callable[[httpx.Request], Exception]] = {
    "connect timeout": lambda r: httpx.ConnectTimeout(f"timed out: {r.url}", request=r),
    "connect error": lambda r: httpx.ConnectError(f"refused: {r.url}", request=r),
    "unsupported protocol": lambda r: httpx.UnsupportedProtocol(f"bad URL {r.url}", request=r),
    "proxy error": lambda r: httpx.ProxyError(f"proxy failed for {r.url}", request=r),
    "read error": lambda r: httpx.ReadError(f"broken: {r.url}", request=r),
    "read timeout": lambda r: httpx.ReadTimeout(f"slow: {r.url}", request=r),
    "other": lambda r: httpx.TooManyRedirects(f"loop at {r.url}", request=r),
    "invalid url": lambda r: httpx.InvalidURL(f"cannot use {r.url}"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
async def test_a_failed_request_never_shows_the_url_secrets(
    failure: str, url: str, secrets: tuple[str, ...], shown: str
) -> None:
    whole = url.format(host="gw.example")
    sent: list[str] = []

    def fail(request: httpx.Request) -> Exception:
        sent.append(str(request.url))
        return FAILURES[failure](request)

    async with OpenAICompatClient(
        _provider(whole), API_KEY, client=_failing(fail), max_attempts=1
    ) as client:
        error = await _stream_error(client)
        _hidden(error.message + str(error) + json.dumps(error.as_dict()) + repr(client), secrets)
        if "at http" in error.message:
            assert f"at {shown.format(host='gw.example')}" in error.message
        sent.clear()
        with pytest.raises(E.ProviderError) as listed:
            await client.model_list()
        _hidden(listed.value.message + str(listed.value), secrets)
    # The request went to the URL as configured.
    assert sent and sent[0].startswith(whole)


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS[1:], ids=IDS[1:])
async def test_a_server_that_echoes_the_url_has_its_secrets_masked(
    wire: WireServer, url: str, secrets: tuple[str, ...], shown: str
) -> None:
    """A 404 page that quotes the path asked for (and a retried 500's, and the model list's)."""
    host = wire.url.removeprefix("http://")

    def echo(status: int) -> Reply:
        said = f"no route for {url.format(host=host)}/chat/completions"
        body = json.dumps({"error": {"message": said}}).encode()
        return Reply(body=body, status=status, headers={"Content-Type": "application/json"})

    wire.reply(echo(404), echo(503), echo(503), echo(404))
    provider = _provider(url.format(host=host))
    async with OpenAICompatClient(provider, API_KEY, retry_budget=0.0) as client:
        _hidden(repr(client), secrets)
        error = await _stream_error(client)
        _hidden(error.message, secrets)
        assert "no route for" in error.message
        error = await _stream_error(client)  # 503 is retried: once more, then given up
        _hidden(error.message, secrets)
        with pytest.raises(E.ProviderError) as listed:
            await client.model_list()
        _hidden(listed.value.message, secrets)


# -- ask, models and the key check ---------------------------------------------------------


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_ask_names_the_url_masked(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    secrets: tuple[str, ...],
    shown: str,
) -> None:
    host = _closed_host()
    whole, masked = url.format(host=host), shown.format(host=host)
    monkeypatch.setenv("ZAI_API_KEY", API_KEY)
    monkeypatch.setenv("GLMCHAT_DEBUG", "1")  # the debug log too
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    save_value("providers.zai.base_url", whole)
    code, out, err = _run(capsys, "ask", "--no-tools", "hi")
    assert code == 5, err
    _hidden(out + err, secrets)
    assert f"Could not connect to Z.ai at {masked} (" in err
    code, out, err = _run(capsys, "ask", "--no-save", "--no-tools", "--json", "hi")
    _hidden(out + err, secrets)
    assert json.loads(out)["error"]["kind"] == "network"
    # --base-url names it the same way.
    save_value("providers.zai.base_url", "")
    code, out, err = _run(capsys, "ask", "--no-save", "--no-tools", "--base-url", whole, "hi")
    assert code == 5
    _hidden(out + err, secrets)
    assert masked in err
    # The failed exchange is saved with its error: a saved or exported error is masked too.
    with SessionStore(paths.database_path()) as store:
        [summary] = store.list_conversations()
    for argv in (["sessions", "show", summary.id], ["sessions", "export", summary.id]):
        code, out, err = _run(capsys, *argv, "--format", "json")
        _hidden(out + err, secrets)


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_a_bad_base_url_flag_is_refused_masked(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    secrets: tuple[str, ...],
    shown: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for bad in (
        url.format(host="h").replace("http://", "ftp://"),
        url.format(host="127.0.0.1:notaport"),
    ):
        code, out, err = _run(capsys, "ask", "--no-save", "--base-url", bad, "hi")
        assert code == 2 and "--base-url" in err
        _hidden(out + err, secrets)


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_models_and_the_key_check_name_the_url_masked(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    secrets: tuple[str, ...],
    shown: str,
) -> None:
    host = _closed_host()
    whole, masked = url.format(host=host), shown.format(host=host)
    monkeypatch.setenv("ZAI_API_KEY", API_KEY)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = _run(capsys, "models", "--provider", "zai", "--base-url", whole)
    assert code != 0
    _hidden(out + err, secrets)
    assert masked in err
    save_value("providers.zai.base_url", whole)
    monkeypatch.setattr("sys.stdin", io.StringIO(API_KEY))
    code, out, err = _run(capsys, "config", "set-key", "zai", "--check")
    assert code != 0
    _hidden(out + err, secrets)
    assert masked in err


# -- the chat screen -----------------------------------------------------------------------


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
async def test_the_key_dialog_names_the_url_masked(
    url: str, secrets: tuple[str, ...], shown: str
) -> None:
    host = _closed_host()
    save_value("providers.zai.base_url", url.format(host=host))
    async with running(size=(160, 40)) as pilot:
        await send(pilot, "hi")
        await pilot.pause()
        assert isinstance(pilot.app.screen, KeyPrompt)
        text = screen_text(pilot.app)
        _hidden(text, secrets)
        assert shown.format(host=host) in text


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
async def test_the_chat_screen_error_names_the_url_masked(
    monkeypatch: pytest.MonkeyPatch, url: str, secrets: tuple[str, ...], shown: str
) -> None:
    host = _closed_host()
    monkeypatch.setenv("ZAI_API_KEY", API_KEY)
    save_value("providers.zai.base_url", url.format(host=host))
    async with running(size=(200, 40)) as pilot:
        await send(pilot, "hi")
        await wait_for_stream(pilot)
        await pilot.pause()
        text = screen_text(pilot.app)
        _hidden(text, secrets)
        assert "Could not connect" in text


@pytest.mark.parametrize(("url", "secrets", "shown"), SECRET_URLS, ids=IDS)
def test_a_provider_repr_names_the_url_masked(
    url: str, secrets: tuple[str, ...], shown: str
) -> None:
    """A traceback that shows its locals (Textual's does) prints a provider by its repr."""
    provider = dataclasses.replace(
        _provider(url.format(host="gw.example")),
        headers=(("X-Api-Key", "hdr-s3cr3t-value"), ("X-Title", "glmchat")),
    )
    text = repr(provider) + str(provider)
    _hidden(text, (*secrets, "hdr-s3cr3t-value"))
    assert shown.format(host="gw.example") in text and "glmchat" in text
    assert repr(BUILTIN_PROVIDERS["zai"]).count(PLAIN) == 1

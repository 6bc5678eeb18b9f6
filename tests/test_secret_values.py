"""Secrets in MCP server settings never shown unmasked: the rule (secret-looking names; URL
userinfo, query and fragment values, in any value or message) and every place that shows a
server's settings or a message built from them: `config show` (text and --json), `tools list`
(text and --json), `ask`'s warning line and the chat's notice, with a real unreachable URL on
the loopback."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from glmchat import paths
from glmchat.cli import main
from glmchat.secret_names import secret_name
from glmchat.secret_values import mask_args, mask_setting, mask_text
from glmchat.tools.base import McpServerConfig
from glmchat.tools.mcp_servers import McpManager
from tests.test_ask_cli import ask
from tests.wire_server import WireServer

# Every secret in these tests holds SECRET; none may appear in what is shown.
KEY = "sk-SECRET-0123456789abcdefWXYZ"  # key-length: shown as sk-…WXYZ


def write_config(text: str) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # userinfo: the password goes, user and host stay; a lone userinfo is often a token
        ("https://user:SECRET-pass@mcp.example.com/mcp", "https://user:****@mcp.example.com/mcp"),
        (f"https://{KEY}@github.com/o/r.git", "https://****@github.com/o/r.git"),
        ("postgres://u:SECRET-dburl@db:5432/app", "postgres://u:****@db:5432/app"),
        # every query value goes, the names stay
        (
            "https://h/mcp?api_key=SECRET-q&token=SECRET-t&profile=me",
            "https://h/mcp?api_key=****&token=****&profile=****",
        ),
        (f"https://h/mcp?key={KEY}", "https://h/mcp?key=****"),
        ("https://h/mcp?SECRETBARE", "https://h/mcp?****"),
        ("https://h/mcp?empty=&x", "https://h/mcp?empty=&****"),
        # fragments too (OAuth's implicit flow puts the token there)
        (
            "https://h/cb#access_token=SECRET-frag&state=1",
            "https://h/cb#access_token=****&state=****",
        ),
        ("https://h/p?a=SECRET-1#b=SECRET-2", "https://h/p?a=****#b=****"),
        # a URL inside a longer value or message, ending a sentence
        (
            "cannot reach https://u:SECRET-p@127.0.0.1:9/mcp?k=SECRET-v: refused.",
            "cannot reach https://u:****@127.0.0.1:9/mcp?k=****: refused.",
        ),
        ("--url=https://h/mcp?token=SECRET-arg", "--url=https://h/mcp?token=****"),
        ("(see https://h/x?t=SECRET-paren)", "(see https://h/x?t=****)"),
        # outside URLs: NAME=value with a secret-looking name, and a Bearer credential
        ("the server said: token=SECRET-free, retry", "the server said: token=****, retry"),
        ("Authorization: Bearer SECRET-bearer-value", "Authorization: Bearer ****"),
        # nothing to hide: untouched
        ("https://mcp.example.com/api/mcp", "https://mcp.example.com/api/mcp"),
        ("plain words: mode=fast, Basic auth", "plain words: mode=fast, Basic auth"),
        ("/usr/bin/uvx", "/usr/bin/uvx"),
        ("", ""),
        # a credential after its scheme word is a header's: no part of it shows
        (f"Authorization: Bearer {KEY}", "Authorization: Bearer ****"),
        # a NAME=value pair, NAME glued to a short secret word
        ("PGPASS=SECRET-pg failed", "PGPASS=**** failed"),
        # `Name: value`: a cookie's runs to the line's end, another's is one word
        ("error: sent Cookie: a=SECRET-1; b=SECRET-2.", "error: sent Cookie: ****."),
        ("(Set-Cookie: sid=SECRET-c)\nnext", "(Set-Cookie: ****)\nnext"),
        ("invalid token: SECRET-tok, retry", "invalid token: ****, retry"),
        (f"X-Api-Key: {KEY}\nnext", "X-Api-Key: ****\nnext"),
        ("Authorization: token SECRET-gh", "Authorization: token ****"),
        ("KeyError: MY_PAT", "KeyError: MY_PAT"),
        ("error: auth failed", "error: auth failed"),
    ],
)
def test_text_masks_urls_pairs_and_credentials(value: str, shown: str) -> None:
    assert mask_text(value) == shown


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_PAT",
        "GITHUB_PERSONAL_ACCESS_TOKEN",
        "OPENAI_API_KEY",
        "APIKEY",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "CLIENT_SECRET",
        "DB_PASSWORD",
        "DB_PASS",
        "DB_PWD",
        "PGPASSWORD",
        "SENTRY_DSN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "PRIVATE_KEY_PEM",
        "BEARER",
        "URL_SIG",
        "--api-key",
        "--token",
        # a short secret word glued to one end of a word of the name
        "PGPASS",
        "SMTPPASS",
        "pgPass",
        "MYSQL_PWD",
        "MYSQLPWD",
        "GHPAT",
        "GITHUBPAT",
        "SENTRYDSN",
        "URLSIG",
        "TOTP",
        "PASSPHRASE",
        "PASSCODE",
        "JWTSIGNER",
        "--pgpass",
        # long secret words anywhere
        "XAPIKEY",
        "SECRETKEY",
        "AUTHORIZATION",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        *("PATH", "HOME", "MODE", "DATABASE_URL", "PASSAGE", "X-Title", "--url", "LANG"),
        # English words glued to a short secret word, and the shell's directories
        *("COMPASS", "BYPASS", "NO_PROXY_BYPASS", "PASSENGER", "PASSTHROUGH", "PASSPORT_ID"),
        *("PATTERN", "PATCH_DIR", "PYTHONPATH", "COMPAT_MODE", "PWD", "OLDPWD"),
        *("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "AUTHORS_FILE"),
        *("-p", "-t", "-k"),  # a short flag's name alone is no secret name (see the args)
    ],
)
def test_ordinary_names(name: str) -> None:
    assert not secret_name(name)


def test_settings_mask_by_name_or_by_value() -> None:
    assert mask_setting("GITHUB_PAT", "ghp_SECRET_0123456789abcdWXYZ") == "ghp…WXYZ"
    assert mask_setting("Authorization", f"Bearer {KEY}") == "Bearer ****"
    assert mask_setting("GITHUB_PAT", KEY) == "sk-…WXYZ"
    # a cookie never shows its ends (the first would be its name, the last its value's)
    cookie = "session=SECRET0123456789abcET08; theme=dark"
    assert mask_setting("SESSION_COOKIE", cookie) == "****"
    assert mask_setting("Cookie", cookie, header=True) == "****"
    # a header's value is no part of itself, whatever its name or shape
    assert mask_setting("X-Api-Key", KEY, header=True) == "****"
    assert mask_setting("Authorization", f"Bearer {KEY}", header=True) == "Bearer ****"
    assert mask_setting("X-Title", "glmchat", header=True) == "glmchat"
    assert mask_setting("X-Api-Key", "SECRET-short") == "****"
    assert mask_setting("DATABASE_URL", "postgres://u:SECRET@h/db") == "postgres://u:****@h/db"
    assert mask_setting("MODE", "fast") == "fast"
    # only an authentication scheme is shown before a credential, not a passphrase's first word
    assert mask_setting("DB_PASSWORD", "SECRETword horse battery") == "****"
    assert mask_setting("API_KEY", "Token SECRET-x") == "Token ****"


def test_args_mask_secret_flags_their_values_and_urls() -> None:
    args = [
        "mcp-remote",
        "https://h/sse?api_key=SECRET-1",
        "--header",
        "Authorization: Bearer SECRET-2-bearer",
        "--token",
        "SECRET-3",
        "--api-key=SECRET-4",
        "GITHUB_PAT=SECRET-5",
        "--verbose",
        "--port",
        "8080",
        "--header",
        f"X-Api-Key: {KEY}",
        "--header=Cookie: session=SECRET0123456789abcET08",
        "-k",
        "SECRET-6",
        "-t",
        "SECRET-7",
        "-k=SECRET-8",
        "--pgpass",
        "SECRET-9",
    ]
    assert mask_args(args) == [
        "mcp-remote",
        "https://h/sse?api_key=****",
        "--header",
        "Authorization: Bearer ****",
        "--token",
        "****",
        "--api-key=****",
        "GITHUB_PAT=****",
        "--verbose",
        "--port",
        "8080",
        "--header",
        "X-Api-Key: ****",
        "--header=Cookie: ****",
        "-k",
        "****",
        "-t",
        "****",
        "-k=****",
        "--pgpass",
        "****",
    ]


def test_p_is_a_port_or_a_package_not_a_password() -> None:
    """`-p` is npx's --package, docker's --publish and many servers' --port: masking it would
    hide what runs. (A password belongs in a long flag or the environment, both masked.)"""
    npx = ["-y", "-p", "@scope/mcp-server@1.2", "mcp-server"]
    docker = ["run", "-i", "--rm", "-p", "8080:80", "-t", "-e", "GITHUB_PAT", "img"]
    assert mask_args(npx) == npx
    assert mask_args(docker) == docker


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # a webhook's path after its fixed prefix is its credential
        (
            "https://hooks.slack.com/services/T000/B000/SECRET",
            "https://hooks.slack.com/services/****/****/****",
        ),
        (
            "https://discord.com/api/webhooks/1234/SECRET-hook",
            "https://discord.com/api/webhooks/****/****",
        ),
        (
            "https://hooks.zapier.com/hooks/catch/12/SECRET/",
            "https://hooks.zapier.com/hooks/catch/****/****/",
        ),
        # elsewhere, a segment with a long run of letters and digits mixed
        ("https://h/mcp/PATHSECRET02", "https://h/mcp/****"),
        ("https://h:8443/mcp/PATHSECRET02/sse?x=1", "https://h:8443/mcp/****/sse?x=****"),
        ("https://h/s/zz9SECRETc2VjcmV0LXRva2VuLTAx/mcp", "https://h/s/****/mcp"),
        ("https://h/b/123e4567-e89b-12d3-a456-SECRET174000", "https://h/b/****"),
        # A webhook's secret goes whole, as its ids do (found by QA: it kept 7 characters).
        (
            "https://hooks.slack.com/services/T024BE7LD/B08ABCDEF/aBcD1234eFgH5678iJkL9012",
            "https://hooks.slack.com/services/****/****/****",
        ),
        (
            "https://user:pw@host.example/mcp/a1b2c3d4e5f6g7h8i9j0kk?api_key=zzz",
            "https://user:****@host.example/mcp/****?api_key=****",
        ),
        ("see https://h/mcp/PATHSECRET02.", "see https://h/mcp/****."),
        # ordinary paths stay readable
        ("https://open.bigmodel.cn/api/paas/v4", "https://open.bigmodel.cn/api/paas/v4"),
        ("https://api.z.ai/api/coding/paas/v4", "https://api.z.ai/api/coding/paas/v4"),
        (
            "https://api.z.ai/api/mcp/web_search_prime/mcp",
            "https://api.z.ai/api/mcp/web_search_prime/mcp",
        ),
        ("https://h/v1/mcp", "https://h/v1/mcp"),
        (
            "https://h/@modelcontextprotocol/server-everything",
            "https://h/@modelcontextprotocol/server-everything",
        ),
        ("https://h/my-project-2024-final/v2", "https://h/my-project-2024-final/v2"),
        ("https://h/builds/202401011200", "https://h/builds/202401011200"),
        ("https://h/docs/IncomingWebhookGuide", "https://h/docs/IncomingWebhookGuide"),
        ("https://slack.com/services/T000", "https://slack.com/services/T000"),
    ],
)
def test_a_token_like_path_segment_is_masked(url: str, shown: str) -> None:
    assert mask_text(url) == shown


# --- config show ---------------------------------------------------------------------------

QA_CONFIG = (
    "[mcp.servers.web]\n"
    'url = "https://user:SECRET-pass@127.0.0.1:9/mcp/PATHSECRET02?api_key=SECRET-q&token=SECRET-t"\n'
    'headers = { Authorization = "Bearer SECRET-bearer", Referer = '
    '"https://h/?sig=SECRET-ref", Cookie = "session=SECRET0123456789abcdET08" }\n'
    "[mcp.servers.db]\n"
    'command = "uvx"\n'
    'args = ["db-server", "--url=postgres://u:SECRET-arg@h/db", "--token", "SECRET-flag", '
    '"-k", "SECRET-k"]\n'
    'env = { GITHUB_PAT = "SECRET-pat", DATABASE_URL = "postgres://u:SECRET-dburl@h/db", '
    'MODE = "fast", PGPASS = "SECRET-pg", '
    'HOOK = "https://hooks.slack.com/services/T000/B000/SECRET" }\n'
)


def test_config_show_masks_every_secret(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(QA_CONFIG)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    section = out.partition("mcp servers")[2].splitlines()[1:]
    assert section[0].split() == [
        "web",
        "on",
        "https://user:****@127.0.0.1:9/mcp/****?api_key=****&token=****",
        "Authorization=Bearer",
        "****",
        "Referer=https://h/?sig=****",
        "Cookie=****",
    ]
    assert section[1].split() == [
        "db",
        "on",
        "uvx",
        "db-server",
        "'--url=postgres://u:****@h/db'",
        "--token",
        "'****'",
        "-k",
        "'****'",
        "GITHUB_PAT=****",
        "DATABASE_URL=postgres://u:****@h/db",
        "MODE=fast",
        "PGPASS=****",
        "HOOK=https://hooks.slack.com/services/****/****/****",
    ]

    assert main(["config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    servers = json.loads(out)["mcp_servers"]
    web, db = servers["web"], servers["db"]
    assert web["url"] == "https://user:****@127.0.0.1:9/mcp/****?api_key=****&token=****"
    assert web["headers"]["Cookie"] == "****"
    assert db["args"] == [
        "db-server",
        "--url=postgres://u:****@h/db",
        "--token",
        "****",
        "-k",
        "****",
    ]
    assert db["env"] == {
        "GITHUB_PAT": "****",
        "DATABASE_URL": "postgres://u:****@h/db",
        "MODE": "fast",
        "PGPASS": "****",
        "HOOK": "https://hooks.slack.com/services/****/****/****",
    }


# --- a server's failure, in every front-end -------------------------------------------------


def unreachable_config() -> tuple[str, str]:
    """An HTTP server with credentials in its URL on a loopback port nobody listens on, and a
    stdio server that fails echoing its secret environment value on stderr."""
    port = free_port()
    url = (
        f"http://user:SECRET-pass@127.0.0.1:{port}/mcp/PATHSECRET02?api_key=SECRET-q&token=SECRET-t"
    )
    echo = "import os, sys; sys.exit('bad token ' + os.environ['MY_PAT'])"
    config = (
        "[mcp.servers.web]\n"
        f"url = {json.dumps(url)}\n"
        "[mcp.servers.echo]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = ['-c', {json.dumps(echo)}]\n"
        'env = { MY_PAT = "SECRET-echoed" }\n'
    )
    return config, f"http://user:****@127.0.0.1:{port}/mcp/****?api_key=****&token=****"


async def test_the_failure_reason_is_masked_at_its_source() -> None:
    port = free_port()
    url = f"http://u:SECRET-pass@127.0.0.1:{port}/mcp/PATHSECRET02?token=SECRET-t"
    servers = [
        McpServerConfig(name="web", url=url),
        McpServerConfig(
            name="echo",
            command=sys.executable,
            args=("-c", "import os, sys; sys.exit('bad token ' + os.environ['MY_PAT'])"),
            env=(("MY_PAT", "SECRET-echoed"),),
        ),
    ]
    manager = McpManager(servers, start_timeout=10)
    await manager.start_all()
    try:
        web, echo = manager.statuses()
        assert web.state == echo.state == "failed"
        shown = f"http://u:****@127.0.0.1:{port}/mcp/****?token=****"
        assert web.reason and web.reason.startswith(f"cannot reach {shown}: ")
        assert echo.reason and "bad token ****" in echo.reason
        for status in (web, echo):  # the TUI's notification and ask's warning are line()
            assert "SECRET" not in status.line()
    finally:
        await manager.aclose()


def test_tools_list_shows_the_reason_masked(capsys: pytest.CaptureFixture[str]) -> None:
    config, shown = unreachable_config()
    write_config(config)
    assert main(["tools", "list", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    assert f'MCP server "web" failed: cannot reach {shown}' in out
    assert "bad token ****" in out

    assert main(["tools", "list", "--json", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    reasons = {entry["server"]: entry["reason"] for entry in json.loads(out)}
    assert reasons["web"].startswith(f"cannot reach {shown}")
    assert "bad token ****" in reasons["echo"]


def test_asks_warning_line_is_masked(wire: WireServer) -> None:
    from tests.test_ask_tools import answer

    config, shown = unreachable_config()
    write_config(config)
    wire.reply(answer("ok"))
    proc = ask("--no-save", "--base-url", wire.url, "hi")
    assert proc.returncode == 0, proc.stderr
    assert "SECRET" not in proc.stderr + proc.stdout
    warnings = proc.stderr.splitlines()
    assert any(f"cannot reach {shown}" in line for line in warnings), warnings
    assert any("bad token ****" in line for line in warnings), warnings


async def test_the_chats_notice_is_masked(zai: WireServer) -> None:
    from tests.tui_helpers import build_app, record_notices, running, screen_text, wait_until

    config, shown = unreachable_config()
    path = paths.config_path()
    path.write_text(path.read_text(encoding="utf-8") + config, encoding="utf-8")
    app = build_app()
    toasts = record_notices(app)
    async with running(app) as pilot:
        await wait_until(pilot, lambda: len(toasts) >= 2, "both servers' failure notices")
        await pilot.pause()
        screen = screen_text(app)
    said = "\n".join(toasts)
    assert "SECRET" not in said + screen
    assert f'MCP server "web" failed: cannot reach {shown}' in said
    assert "bad token ****" in said


@pytest.mark.parametrize(
    "setting",
    [
        '[mcp.servers.web]\nurl = "ftp://u:HDRSECRET-pw@h/mcp?token=HDRSECRET-t"\n',
        '[providers.zai]\nbase_url = "ftp://HDRSECRET-tok@h/v4?key=HDRSECRET-k"\n',
    ],
)
def test_a_rejected_value_is_quoted_masked(
    setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config error quotes the bad value: a URL's password or token was quoted whole."""
    write_config(setting)
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "expected" in err and "HDRSECRET" not in err and "****" in err


async def test_a_reason_cut_to_its_length_stays_well_formed() -> None:
    """A long stderr line is cut to fit the one-line reason: the aside around it, and a quote
    or bracket it opened, are closed after the "…" (the cut dropped the `)`)."""
    say = "import sys; sys.exit('auth failed (for \"' + 'x' * 400 + '\")')"
    manager = McpManager([McpServerConfig(name="long", command=sys.executable, args=("-c", say))])
    await manager.start_all()
    try:
        (status,) = manager.statuses()
        reason = status.reason or ""
        assert status.state == "failed"
        assert reason.startswith('exited while starting (auth failed (for "xxx'), reason
        assert reason.endswith('xxx…"))') and len(reason) <= 300, reason
    finally:
        await manager.aclose()


# --- token shapes, user:password, flags in text, names, closing brackets (QA, third pass) ----

GHP = "ghp_SECRETfghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # well-known token shapes, wherever they stand: a plain argument, a value, a message
        (GHP, "ghp…6789"),
        (f"token {GHP} rejected", "token ghp…6789 rejected"),
        (f"GH={GHP}", "GH=ghp…6789"),
        ("gho_SECRET1234567890abcdefghij", "gho…ghij"),
        ("github_pat_11SECRET0_abcdefghijklmnopqrstuv", "git…stuv"),
        ("xoxb-123456789012-SECRETdefghij", "xox…ghij"),
        ("xoxp-1234-SECRET", "****"),  # short: no part of it
        ("sk-proj-ABCSECRET1234567890XYZ", "sk-…0XYZ"),
        ("key sk-ant-api03-SECRET_abc123-xyz0.", "key sk-…xyz0."),
        ("AKIASECRET0123456789", "AKI…6789"),
        ("AIzaSyASECRET-0123456789abcdefghijklmnop", "AIz…mnop"),
        ("sk_live_SECRET0123456789abcd", "sk_…abcd"),
        ("rk_live_SECRET01", "****"),
        ("glpat-SECRET0123456789ab", "glp…89ab"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJTRUNSRVQifQ.SECRETsig", "eyJ…Tsig"),
        ("https://h/hook/xoxb-1234-SECRET-abc", "https://h/hook/xox…-abc"),
        # any long word holding a run of 12+ mixed letters and digits, as in a URL's path
        ("invalid key a1B2c3SECRET9x, retry", "invalid key ****, retry"),
        ("bad key SECRETb2c3d4e5f6a7b8c9d0e1f2a3b4.", "bad key SEC…a3b4."),
        ("no file /srv/SECRETa1b2c3d4e5/run.py", "no file /srv/****/run.py"),
        # user:password outside a URL: the password after -u / --user goes
        ("curl -u admin:UPW99SECRET failed", "curl -u admin:**** failed"),
        ("--user=admin:UPW98SECRET", "--user=admin:****"),
        ("run with -uadmin:SECRETpw", "run with -uadmin:****"),
        ("docker run -u 1000:1000 img", "docker run -u 1000:1000 img"),
        ("python -u server.py", "python -u server.py"),
        # a secret flag's value in a message, as in the arguments
        ("called with -k KSECRET94 and failed", "called with -k **** and failed"),
        ("bad --api-key SECRET-x here", "bad --api-key **** here"),
        ("docker run -i -t -e MODE img", "docker run -i -t -e MODE img"),
        # curl's -k takes no value: a URL after it is shown as URLs are
        ("curl -k https://h/x?t=SECRET-u failed", "curl -k https://h/x?t=**** failed"),
        ("sk-SECRETghijklmnopqrstuvwxyz", "sk-…wxyz"),
        # a secret name's value with spaces around `=`, or quoted as JSON and dicts print it
        ("aws_secret_access_key = SECRET/K7MDENG/bPxRfiCY", "aws_secret_access_key = SEC…fiCY"),
        (
            "{'Authorization': 'Bearer SECRET-1', 'X-Title': 'me'}",
            "{'Authorization': 'Bearer ****', 'X-Title': 'me'}",
        ),
        ('{"password": "SECRET 2", "user": "me"}', '{"password": "****", "user": "me"}'),
        ("mode = fast, a == b", "mode = fast, a == b"),
        # ordinary words stay
        (
            "error: module sha256 not found in x86_64 build",
            "error: module sha256 not found in x86_64 build",
        ),
        ("see skills/task-runner and ask-me", "see skills/task-runner and ask-me"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id 123e4567-e89b-12d3-a456-426614174000"),
    ],
)
def test_token_shapes_and_passwords_in_any_text(text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_token_shapes_in_args_and_ordinary_env_values() -> None:
    args = [GHP, "-u", "admin:UPW99SECRET", "--user=admin:UPW98SECRET", "-u", "1000:1000"]
    assert mask_args(args) == [
        "ghp…6789",
        "-u",
        "admin:****",
        "--user=admin:****",
        "-u",
        "1000:1000",
    ]
    assert mask_args(["-k", "https://u:SECRET@h/x"]) == ["-k", "https://u:****@h/x"]
    assert mask_setting("GH", GHP) == "ghp…6789"
    assert mask_setting("SLACK", "xoxb-123456789012-SECRETdefghij") == "xox…ghij"
    assert mask_setting("CURL_ARGS", "-u admin:SECRET1") == "-u admin:****"


@pytest.mark.parametrize(
    "name",
    [
        # KEY as a word, or ending one (not inside KEYBOARD or MONKEY)
        *(
            "KEY",
            "API_KEYS",
            "APIKEYVALUE",
            "PASSKEY",
            "SSHKEY",
            "MY_SECRETKEY",
            "AWS_ACCESS_KEY_ID",
        ),
        # a qualifier ends the name, but what it qualifies is a secret
        *("SESSION_ID", "VAULT_SECRET_ID", "AUTH_HEADER", "SECRET_KEY_BASE", "PASSTHROUGH_TOKEN"),
        *("TOKENFILE", "--token"),
    ],
)
def test_secret_looking_names_third_pass(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        *("KEYBOARD", "MONKEY", "keyboardLayout", "HOTKEY", "PASS_THROUGH", "pass-through"),
        # the last word says the value is about the secret, not the secret
        *("TOKEN_TTL", "KEY_FILE", "SECRET_FILE", "PASSWORD_FILE", "TOKEN_URL", "AUTH_URL"),
        *("PRIVATE_KEY_PATH", "tokenUrl", "SECRETS_DIR", "TOKEN_TIMEOUT", "SESSION_MAX_AGE"),
        *("KEY_NAME", "TOKEN_TYPE", "API_KEY_LENGTH", "OAUTH_CLIENT_ID", "--token-file"),
    ],
)
def test_ordinary_names_third_pass(name: str) -> None:
    assert not secret_name(name)


def test_a_qualified_name_shows_its_value_through_the_value_rules() -> None:
    assert mask_setting("KEY_FILE", "/etc/ssl/key.pem") == "/etc/ssl/key.pem"
    assert mask_setting("TOKEN_URL", "https://auth.example.com/oauth/token") == (
        "https://auth.example.com/oauth/token"
    )
    assert mask_setting("TOKEN_URL", "https://u:SECRET-pw@h/token") == "https://u:****@h/token"
    assert mask_setting("PASSWORD_FILE", GHP) == "ghp…6789"  # a token put there is still one
    assert mask_args(["--token-file", "/run/secrets/x"]) == ["--token-file", "/run/secrets/x"]


def test_config_show_reads_qualified_names(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(
        "[mcp.servers.s]\n"
        'command = "srv"\n'
        'env = { KEYBOARD = "us", MONKEY = "banana", PASS_THROUGH = "true", TOKEN_TTL = "3600", '
        'KEY_FILE = "/etc/ssl/key.pem", SECRET_FILE = "/run/secrets/x", '
        'PASSWORD_FILE = "/run/pw.txt", TOKEN_URL = "https://auth.example.com/oauth/token", '
        f'AUTH_URL = "https://auth.example.com/authorize", GH = "{GHP}", API_KEY = "SECRET-k" }}\n'
    )
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "SECRET-k" not in out and GHP not in out
    section = out.partition("mcp servers")[2].splitlines()[1:]
    assert section[0].split()[3:] == [
        "KEYBOARD=us",
        "MONKEY=banana",
        "PASS_THROUGH=true",
        "TOKEN_TTL=3600",
        "KEY_FILE=/etc/ssl/key.pem",
        "SECRET_FILE=/run/secrets/x",
        "PASSWORD_FILE=/run/pw.txt",
        "TOKEN_URL=https://auth.example.com/oauth/token",
        "AUTH_URL=https://auth.example.com/authorize",
        "GH=ghp…6789",
        "API_KEY=****",
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # a masked value ends before the bracket or quote closing one opened before it
        (
            "exited (connecting to postgres://admin:SECRET@db:5432/x with PGPASSWORD=SECRET9)",
            "exited (connecting to postgres://admin:****@db:5432/x with PGPASSWORD=****)",
        ),
        ("failed (export OPENAI_API_KEY=SECRET-k)", "failed (export OPENAI_API_KEY=****)"),
        ("failed [token=SECRET-a] {TOKEN=SECRET-b}", "failed [token=****] {TOKEN=****}"),
        ("run `export API_KEY=SECRET-c` first", "run `export API_KEY=****` first"),
        ("(saw `token: SECRET-d`)", "(saw `token: ****`)"),
        ("(called with -k SECRET-e)", "(called with -k ****)"),
        ("(curl -u admin:SECRET-f)", "(curl -u admin:****)"),
        ("(sent Cookie: a=SECRET-g)", "(sent Cookie: ****)"),
        # a bracket the value opened itself is its own
        ("TOKEN=SECRET(h) done", "TOKEN=**** done"),
    ],
)
def test_a_masked_value_keeps_the_closing_bracket(text: str, shown: str) -> None:
    assert mask_text(text) == shown


async def test_a_failure_reason_masks_token_shapes_and_keeps_its_bracket() -> None:
    """A server's stderr echoes a token set under an ordinary name, a curl password and a
    -k value none of the settings hold, and ends on a masked pair: the reason's `)` stays."""
    say = (
        "import os, sys; sys.exit('token ' + os.environ['GH'] + ' rejected; curl -u "
        "admin:UPW99SECRET; -k KSECRET94; with PGPASSWORD=SECRET-pg')"
    )
    server = McpServerConfig(name="s", command=sys.executable, args=("-c", say), env=(("GH", GHP),))
    manager = McpManager([server], start_timeout=10)
    await manager.start_all()
    try:
        (status,) = manager.statuses()
        assert status.state == "failed"
        assert status.reason == (
            "exited while starting (token ghp…6789 rejected; curl -u admin:****; -k ****; "
            "with PGPASSWORD=****)"
        )
        assert "SECRET" not in status.line()
    finally:
        await manager.aclose()

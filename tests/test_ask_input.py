"""What `ask` sends: PROMPT and piped text together, and flags checked by the config's rules."""

from __future__ import annotations

import json
import subprocess

import pytest

from glmchat import paths
from glmchat.store import SessionStore
from tests.test_ask_cli import GLMCHAT, ask
from tests.wire_server import WireServer, fixture_reply


def sent_prompt(wire: WireServer, index: int = -1) -> str:
    return wire.requests[index].json["messages"][-1]["content"]


def test_piped_text_and_prompt_are_both_sent(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    numbers = "".join(f"{n}\n" for n in range(1, 101))  # seq 1 100
    proc = ask("--base-url", wire.url, "summarise these numbers", stdin=numbers)
    assert proc.returncode == 0, proc.stderr
    assert sent_prompt(wire) == f"summarise these numbers\n\n```\n{numbers}```"
    with SessionStore(paths.database_path()) as store:
        conv = store.most_recent()
    assert conv is not None and conv.title == "summarise these numbers"
    assert conv.messages[0].content == sent_prompt(wire)  # saved as sent


@pytest.mark.parametrize(
    ("text", "fence"),
    [
        ("no backticks", "```"),
        ("inline `code` only", "```"),
        ("```python\nx = 1\n```\n", "````"),
        ("a ```` run of four, then ``````six", "```````"),
    ],
)
def test_the_fence_is_longer_than_any_backtick_run(wire: WireServer, text: str, fence: str):
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--no-save", "--base-url", wire.url, "explain", stdin=text)
    assert proc.returncode == 0, proc.stderr
    body = text if text.endswith("\n") else text + "\n"
    assert sent_prompt(wire) == f"explain\n\n{fence}\n{body}{fence}"


@pytest.mark.parametrize("piped", ["", "  \n\n", None])
def test_empty_or_no_piped_text_sends_the_prompt_alone(wire: WireServer, piped: str | None):
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask("--no-save", "--base-url", wire.url, "just this", stdin=piped)
    assert proc.returncode == 0, proc.stderr
    assert sent_prompt(wire) == "just this"


def test_dash_and_no_prompt_still_read_stdin_alone(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"), fixture_reply("zai_nothinking_stream"))
    assert ask("--no-save", "--base-url", wire.url, "-", stdin="from a dash").returncode == 0
    assert ask("--no-save", "--base-url", wire.url, stdin="no argument").returncode == 0
    assert [sent_prompt(wire, 0), sent_prompt(wire, 1)] == ["from a dash", "no argument"]


def test_stdin_that_is_not_utf8_is_one_clear_line(wire: WireServer) -> None:
    proc = subprocess.run(
        [GLMCHAT, "ask", "--no-save", "--base-url", wire.url, "summarise"],
        input=b"caf\xe9 latin-1\n",
        capture_output=True,
        env={**__import__("os").environ, "ZAI_API_KEY": "sk-x"},
        timeout=30,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and "UTF-8" in err, err
    assert wire.requests == []


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--temperature", "5", "--temperature: expected a number from 0 to 2, got 5"),
        ("--temperature", "-0.1", "--temperature: expected a number from 0 to 2, got -0.1"),
        ("--temperature", "nan", "--temperature: expected a number from 0 to 2"),
        ("--temperature", "warm", "--temperature: expected a number from 0 to 2"),
        ("--max-tokens", "0", "--max-tokens: expected a whole number from 1 to"),
        ("--max-tokens", "-5", "--max-tokens: expected a whole number from 1 to"),
        ("--max-tokens", "1.5", "--max-tokens: expected a whole number from 1 to"),
        ("--max-tokens", "lots", "--max-tokens: expected a whole number from 1 to"),
    ],
)
def test_bad_flags_are_refused_before_sending(
    wire: WireServer, flag: str, value: str, expected: str
) -> None:
    proc = ask("--no-save", "--base-url", wire.url, f"{flag}={value}", "hi")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"glmchat: {expected}")
    assert wire.requests == []


def test_flags_share_the_config_rule() -> None:
    """One rule, two callers: `config set` refuses the same values with the same words."""
    from glmchat.config import ConfigError, save_value

    for key, flag, value in (
        ("temperature", "--temperature", "5"),
        ("max_tokens", "--max-tokens", "0"),
    ):
        with pytest.raises(ConfigError) as info:
            save_value(key, value)
        said = str(info.value).split(": ", 1)[1]
        proc = ask("--no-save", flag, value, "hi")
        assert proc.stderr.strip() == f"glmchat: {flag}: {said}"


def test_good_flags_are_sent(wire: WireServer) -> None:
    wire.reply(fixture_reply("zai_nothinking_stream"))
    proc = ask(
        "--no-save", "--base-url", wire.url, "--temperature", "0.7", "--max-tokens", "100", "hi"
    )
    assert proc.returncode == 0, proc.stderr
    body = wire.requests[0].json
    assert body["temperature"] == 0.7 and body["max_tokens"] == 100
    assert json.dumps(body)  # a plain JSON body

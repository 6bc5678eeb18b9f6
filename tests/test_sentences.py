"""Messages joined from parts (ours and a provider's) end each sentence with one stop."""

from __future__ import annotations

import json

import pytest

from glmchat.backend.dialects import classify_error
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.sentences import end_sentence, join_sentences
from tests.test_ask_cli import ask
from tests.wire_server import FIXTURES, WireServer, fixture_reply


@pytest.mark.parametrize(
    ("part", "ended"),
    [
        ("Please recharge.", "Please recharge."),
        ("timed out", "timed out."),
        ("  padded  ", "padded."),
        ("Really?", "Really?"),
        ("Stop!", "Stop!"),
        ("(see the docs.)", "(see the docs.)"),
        ('he said "done."', 'he said "done."'),
        ("余额不足。", "余额不足。"),
        ("and so on…", "and so on…"),
        ("details:", "details."),
        ("a list,", "a list."),
        ("", ""),
    ],
)
def test_end_sentence(part: str, ended: str) -> None:
    assert end_sentence(part) == ended


def test_join_sentences_never_doubles_a_stop() -> None:
    assert join_sentences("Please recharge.", "Recharge the account.") == (
        "Please recharge. Recharge the account."
    )
    assert join_sentences("no stop", None, "  ", "Next") == "no stop. Next."


@pytest.mark.parametrize("status", [400, 401, 402, 404, 408, 413, 429, 500, 503])
@pytest.mark.parametrize(
    "words", ["Please recharge.", "Bad thing!", "Why?", "trailing colon:", "plain", "。"]
)
def test_every_error_kind_ends_each_sentence_once(status: int, words: str) -> None:
    for provider in ("zai", "openrouter"):
        message = classify_error(BUILTIN_PROVIDERS[provider], status, None, words).message
        assert ".." not in message and ":." not in message and "?." not in message, message
        assert message.endswith(".")
    mid = classify_error(BUILTIN_PROVIDERS["openrouter"], None, "x", words, mid_stream=True)
    assert ".." not in mid.message and mid.message.endswith(".")


ERROR_FIXTURES = sorted(
    p.stem
    for p in FIXTURES.glob("*error*.json")
    if json.loads(p.read_text()).get("body_file", "").endswith(".body")
    and "anthropic" not in p.stem
)


@pytest.mark.parametrize("fixture", ERROR_FIXTURES)
def test_ask_error_lines_have_no_doubled_stop(wire: WireServer, fixture: str) -> None:
    wire.reply(*(fixture_reply(fixture) for _ in range(4)))
    model = "openrouter/z-ai/glm-4.5" if fixture.startswith("openrouter") else "zai/glm-4.5"
    proc = ask("--no-save", "-m", model, "--base-url", wire.url, "hi")
    assert proc.returncode != 0
    # Every line (retry notices too) is the provider's words and ours, joined.
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith("glmchat: ") for line in lines)
    assert ".." not in proc.stderr, proc.stderr


def test_a_rejected_key_check_is_one_sentence_each(
    zai: WireServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from glmchat.cli import main

    zai.reply(fixture_reply("zai_error_401"))
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-wrong-000000000000\n"))
    assert main(["config", "set-key", "zai", "--check"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".." not in err and err.endswith("The key was not saved.\n")

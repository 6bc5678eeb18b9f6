"""What a pane says about itself: saving that failed, its figures and state in the status bar at
any width, estimated versus reported thinking tokens, a refused key, the edit cursor, the
thinking toggle, and the keys the footer shows."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from textual.widgets import Static

from glmchat import paths
from glmchat.backend.openai_compat import OpenAICompatClient
from glmchat.config import BINDING_IDS, save_value
from glmchat.credentials import CredentialStore
from glmchat.keybindings import TYPED_KEYS_ALLOWED
from glmchat.store import NotFoundError, SessionStore
from glmchat.token_estimate import estimate_tokens
from glmchat.tui.screens.key_prompt import KeyPrompt
from glmchat.tui.widgets.chat_pane import ChatPane
from glmchat.tui.widgets.messages import ThinkingPanel
from tests.test_tui_palette import run_command
from tests.tui_helpers import (
    API_KEY,
    USAGE,
    active,
    glm,
    message,
    region_text,
    running,
    screen_lines,
    screen_text,
    seed,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer, fixture_reply


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAI_API_KEY", API_KEY)


# --- saving that fails mid-stream ------------------------------------------------------------


def _delete_conversations() -> None:
    """Another shell's `glmchat sessions rm`: its own connection, while the answer streams."""
    other = sqlite3.connect(paths.database_path())
    other.execute("DELETE FROM messages")
    other.execute("DELETE FROM conversations")
    other.commit()
    other.close()


def _damage_database() -> None:
    """The database file and its journal overwritten under the running app."""
    folder = paths.database_path().parent
    for path in folder.glob(paths.database_path().name + "*"):
        path.write_bytes(b"\xab" * path.stat().st_size)


def _banner(pane: ChatPane) -> str:
    """The pane's "not saved" banner, which must be on screen (a toast may cover part)."""
    banner = pane.query_one("#unsaved", Static)
    assert banner.region.height >= 2, banner.region
    return str(banner.render())


@pytest.mark.parametrize(
    ("break_store", "said"),
    [(_delete_conversations, "no longer in"), (_damage_database, "not a glmchat database")],
    ids=["deleted-from-another-shell", "damaged-file"],
)
async def test_saving_that_fails_mid_stream_leaves_a_lasting_not_saved_state(
    zai: WireServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, break_store, said: str
) -> None:
    gate = threading.Event()
    first = ["The first ", "answer, ", "kept on screen."]
    zai.reply(
        Reply(chunks=stream(first, holds={1: gate}), delay=0.005),
        Reply(chunks=stream(["A second answer."])),
    )
    monkeypatch.chdir(tmp_path)  # where Export writes
    async with running(size=(80, 30)) as pilot:
        pane = active(pilot)
        await send(pilot, "first question")
        await wait_until(pilot, lambda: "The first" in region_text(pane.log_view), "a delta")
        break_store()
        # Found by the next checkpoint (about a second), while the answer still streams.
        await wait_until(pilot, lambda: pane.save_error is not None, "the failed save")
        # The engine tells the pane in its event stream; the banner comes with that event.
        await wait_until(
            pilot,
            lambda: pane.query("#unsaved") and pane.query_one("#unsaved").region.height,
            "the banner",
        )
        assert pane.streaming is not None
        status = region_text(pane.status)
        assert "not saved" in status and "streaming" in status, status
        banner = _banner(pane)
        assert "Not saved" in banner and said in banner and "ctrl+y" in banner, banner
        gate.set()
        await wait_for_stream(pilot)
        await send(pilot, "second question")
        await wait_for_stream(pilot)
        # The chat went on, and the state stayed: on the pane and in the status bar.
        log = region_text(pane.log_view)
        assert "The first answer, kept on screen." in log and "A second answer." in log
        assert "not saved" in region_text(pane.status)
        assert "Not saved" in _banner(pane)
        assert len(pane.query("#unsaved")) == 1  # said once, not once per failed write
        # Export writes what the pane holds, since the store does not have it.
        await run_command(pilot, "Export conversation as JSON")
        [exported] = tmp_path.glob("glmchat-*.json")
    document = json.loads(exported.read_text())
    contents = [m["content"] for m in document["messages"]]
    assert contents == [
        "first question",
        "The first answer, kept on screen.",
        "second question",
        "A second answer.",
    ]


def test_a_checkpoint_of_a_deleted_answer_says_so() -> None:
    """The mechanism behind the state above: an UPDATE that finds no row was silent."""
    with SessionStore(paths.database_path()) as store:
        cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True)
        mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
        store.checkpoint(mid, "some text", "")
        store.delete(cid)
        with pytest.raises(NotFoundError, match="no longer in"):
            store.checkpoint(mid, "more text", "")


# --- the status bar ---------------------------------------------------------------------------


def _slow_retry_client(app, wait: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    """The pane's client, whose pause before a retry ends when the test says so."""

    async def sleep(_: float) -> None:
        await wait.wait()

    provider = app.settings.providers["zai"]
    app._clients["zai"] = OpenAICompatClient(provider, API_KEY, sleep=sleep)


@pytest.mark.parametrize("width", [80, 60])
async def test_the_state_shows_first_at_80_and_60_columns(zai: WireServer, width: int) -> None:
    before_first, mid_answer = threading.Event(), threading.Event()
    zai.reply(
        Reply(chunks=stream(["Hello ", "there."], holds={0: before_first, 1: mid_answer})),
        fixture_reply("zai_error_429_1302", headers={"Retry-After": "7"}),
        Reply(chunks=stream(["Again."])),
    )
    retry_done = asyncio.Event()
    async with running(size=(width, 24)) as pilot:
        pane = active(pilot)
        _slow_retry_client(glm(pilot), retry_done)
        await send(pilot, "hello")
        # Waiting for the first token: said so, and no "0 tok/s".
        await wait_until(pilot, lambda: "waiting" in region_text(pane.status), "waiting")
        assert "tok/s" not in region_text(pane.status)
        before_first.set()
        await wait_until(pilot, lambda: "streaming" in region_text(pane.status), "streaming")
        assert "glm-4.5" in region_text(pane.status)
        mid_answer.set()
        await wait_for_stream(pilot)
        status = region_text(pane.status)
        assert "streaming" not in status and "glm-4.5" in status
        await send(pilot, "again")
        # The provider said wait: the countdown shows, whole, first on the line.
        await wait_until(pilot, lambda: "retry" in region_text(pane.status), "the countdown")
        status = region_text(pane.status).strip()
        assert re.match(r"retry 2/3 in [67] s  ", status), status
        assert "tok/s" not in status
        retry_done.set()
        await wait_for_stream(pilot)
        assert "Again." in region_text(pane.log_view)


async def test_figures_are_this_conversations_not_the_sum_of_retries(zai: WireServer) -> None:
    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": 0}

    zai.reply(
        Reply(chunks=stream(["one"], usage=usage(100, 10) | {"total_tokens": 110})),
        Reply(chunks=stream(["two"], usage=usage(100, 20) | {"total_tokens": 120})),
        Reply(chunks=stream(["three"], usage=usage(130, 30) | {"total_tokens": 160})),
    )
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "first")
        await wait_for_stream(pilot)
        assert "conversation in 100 · out 10" in region_text(pane.status)
        await run_command(pilot, "Retry last answer")
        await wait_for_stream(pilot)
        # The retried answer replaced the first: its figures are gone with it.
        status = region_text(pane.status)
        assert "conversation in 100 · out 20" in status and "context 120/128K" in status, status
        await send(pilot, "second")
        await wait_for_stream(pilot)
        assert "conversation in 230 · out 50" in region_text(pane.status)
        await run_command(pilot, "Edit last prompt")
        await pilot.pause()
        # The edited exchange left the conversation: back to what is in it.
        status = region_text(pane.status)
        assert "conversation in 100 · out 20" in status and "context 120/128K" in status, status


# --- the thinking panel ----------------------------------------------------------------------


def test_estimates_count_one_token_per_cjk_character() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("为什么天空是蓝色的？阳光穿过大气层时发生散射现象。") == 25
    assert estimate_tokens("すべての人間は、生まれながらにして自由") == 19
    assert estimate_tokens("a" * 400) == 100
    assert estimate_tokens("abcd" * 10 + "天空") == 12


async def test_the_thinking_title_marks_estimates_and_uses_the_providers_count(
    zai: WireServer,
) -> None:
    cjk = ["为什么", "天空是", "蓝色的", "？阳光", "穿过大", "气层时", "发生散", "射现象"]
    words = ["step "] * 300
    zai.reply(
        Reply(chunks=stream(["ok"], cjk)),  # no usage: an estimate
        Reply(chunks=stream(["ok"], words)),
        Reply(chunks=stream(["ok"], words, usage=USAGE)),  # the provider's count: 42
    )
    async with running() as pilot:
        pane = active(pilot)
        titles = []
        for prompt in ("one", "two", "three"):
            await send(pilot, prompt)
            await wait_for_stream(pilot)
            titles.append(str(list(pane.query(ThinkingPanel))[-1].title))
    assert re.fullmatch(r"Thought for \d+\.\d s · ~24 tokens", titles[0]), titles
    # 300 words of 5 characters: about 375 tokens by the estimate, whatever the ticks saw.
    assert re.fullmatch(r"Thought for \d+\.\d s · ~375 tokens", titles[1]), titles
    assert re.fullmatch(r"Thought for \d+\.\d s · 42 tokens", titles[2]), titles


async def test_an_answer_with_no_recorded_time_shows_none(keyed: None) -> None:
    seed(
        "1e1e1e1e0001",
        "Imported",
        [
            message("user", "Why?", position=0),
            message("assistant", "Because.", position=1, reasoning="Let me think about it."),
        ],
    )
    async with running(resume="1e1e1e1e0001") as pilot:
        await pilot.pause()
        title = str(active(pilot).query_one(ThinkingPanel).title)
    assert title == "Thinking · ~6 tokens"


# --- a refused key ----------------------------------------------------------------------------


async def test_a_refused_key_offers_the_key_dialog_and_keeps_the_prompt(wire: WireServer) -> None:
    save_value("providers.zai.base_url", wire.url)
    CredentialStore().set("zai", "sk-old-key-0000")
    wire.reply(fixture_reply("zai_error_401"), Reply(chunks=stream(["Now it works."])))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await send(pilot, "my long prompt")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyPrompt), "the key dialog")
        dialog = screen_text(app)
        assert "rejected the API key" in dialog and "API key for Z.ai" in dialog
        await pilot.press(*"sk-new-key-1111", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeyPrompt), "the key saved")
        # The prompt waits in the box, the cursor at its end: enter sends it again.
        assert pane.prompt.text == "my long prompt"
        assert pane.prompt.cursor_location == pane.prompt.document.end
        await pilot.press("enter")
        await wait_for_stream(pilot)
        assert "Now it works." in region_text(pane.log_view)
        # The advice on the failed answer names the way in the app, not only the CLI.
        assert "Set API key" in region_text(pane.log_view)
    assert [r.headers["authorization"] for r in wire.requests] == [
        "Bearer sk-old-key-0000",
        "Bearer sk-new-key-1111",
    ]


async def test_set_api_key_from_the_palette_says_when_the_environment_wins(
    zai: WireServer,
) -> None:
    async with running() as pilot:
        app = glm(pilot)
        await run_command(pilot, "Set API key")
        await wait_until(pilot, lambda: isinstance(app.screen, KeyPrompt), "the key dialog")
        # ZAI_API_KEY is set (the `zai` fixture): a saved key would not be used.
        assert "ZAI_API_KEY in the environment" in " ".join(screen_text(app).split())
        await pilot.press("escape")


# --- edit, thinking toggle, footer keys ------------------------------------------------------


async def test_edit_last_prompt_puts_the_cursor_at_the_end(zai: WireServer) -> None:
    zai.reply(Reply(chunks=stream(["ok"])))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "first line\nsecond line")
        await wait_for_stream(pilot)
        await run_command(pilot, "Edit last prompt")
        await pilot.press(*" more")
        assert pane.prompt.text == "first line\nsecond line more"


async def test_the_thinking_toggle_says_it_holds_for_the_pane(zai: WireServer) -> None:
    async with running() as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "Thinking OFF for this pane." in screen_text(pilot.app)
        assert "next message" not in screen_text(pilot.app)


# The footer shows the prompt's and the app's bindings; the message selection's keys are shown
# when a message has the focus (tests/test_tui_branches.py).
FOOTER_IDS = [
    i
    for i in BINDING_IDS
    if i
    not in (
        "newline",
        "prev_pane",
        "next_pane",
        "scroll_up",
        "scroll_down",
        "select_prev",
        "select_next",
    )
    and i not in TYPED_KEYS_ALLOWED
]


@pytest.mark.parametrize("binding_id", FOOTER_IDS)
async def test_the_footer_shows_the_first_of_several_keys(keyed: None, binding_id: str) -> None:
    """f6 is also a key of the prompt box (TextArea), which used to put it first."""
    default = BINDING_IDS[binding_id].split(",")[0]
    save_value(f"keys.{binding_id}", f"{default},f6")
    async with running() as pilot:
        app = glm(pilot)
        footer = screen_lines(app)[-1]
        binding = next(
            active_binding.binding
            for active_binding in app.screen.active_bindings.values()
            if active_binding.binding.id == binding_id
        )
        assert binding.key == default
        assert app.get_key_display(binding) in footer
        assert not re.search(r"\bf6\b", footer), footer


async def test_notes_name_the_keys_as_configured(zai: WireServer) -> None:
    save_value("keys.command_palette", "f2,ctrl+p")
    zai.reply(fixture_reply("zai_error_401"))
    async with running() as pilot:
        pane = active(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, KeyPrompt), "the dialog")
        await pilot.press("escape")
        await pilot.pause()
        log = " ".join(region_text(pane.log_view).split())
        assert "f2 → Set API key" in log and "retry: f2 → Retry last answer" in log, log
        assert "ctrl+p →" not in log


async def test_the_key_dialog_states_the_environment_rule_once(zai: WireServer) -> None:
    """Found by QA: with the key from ZAI_API_KEY, the dialog said that the environment wins
    twice (the rule, then how it applies now); without it, the rule is said once."""
    zai.reply(fixture_reply("zai_error_401"))
    async with running() as pilot:
        await send(pilot, "hi")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, KeyPrompt), "the dialog")
        await pilot.pause()
        shown = " ".join(screen_text(pilot.app).replace("│", " ").split())  # lines joined
        assert shown.count("wins over") == 1, shown
        assert "comes from ZAI_API_KEY in the environment" in shown
        # A paragraph of its own, after a blank row, as the reason's is (found by QA).
        rows = screen_text(pilot.app).splitlines()
        # (the dialog's row; the log behind it says "The key in use comes from" too)
        at = next(i for i, row in enumerate(rows) if "in the environment, which" in row)
        assert not rows[at - 1].replace("│", "").strip(), "\n".join(rows)

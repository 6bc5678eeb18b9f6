"""The conversation tree in the TUI: the message selection (keys and mouse), edit an earlier
prompt, regenerate, switch between versions, undo, fork; what is sent is the path shown."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from glmchat import paths
from glmchat.config import save_value
from glmchat.store import SessionStore
from glmchat.tui.widgets.message_select import SelectableMessage
from glmchat.tui.widgets.messages import AssistantMessage, UserMessage
from tests.tui_helpers import (
    active,
    glm,
    region_text,
    running,
    saved,
    screen_text,
    send,
    stream,
    wait_for_stream,
    wait_until,
)
from tests.wire_server import Reply, WireServer

EDITING = "Editing an earlier prompt"


def sent(server: WireServer, index: int) -> list[tuple[str, str]]:
    """The (role, content) of each message of a request's body."""
    return [(m["role"], m["content"]) for m in server.requests[index].json["messages"]]


def messages_shown(pilot: Pilot[Any]) -> list[SelectableMessage]:
    log = active(pilot).log_view
    return [w for w in log.children if isinstance(w, SelectableMessage) and not w._pruning]


async def exchanges(pilot: Pilot[Any], *prompts: str) -> None:
    """Send each prompt and wait for its answer to end."""
    for prompt in prompts:
        await send(pilot, prompt)
        await wait_for_stream(pilot)


async def three_exchanges(pilot: Pilot[Any], zai: WireServer) -> None:
    for n in (1, 2, 3):
        await send(pilot, f"question {n}")
        await wait_for_stream(pilot)
        assert len(zai.requests) == n


def answers(n: int, *more: str) -> list[Reply]:
    return [Reply(chunks=stream([f"answer {i}"])) for i in range(1, n + 1)] + [
        Reply(chunks=stream([text])) for text in more
    ]


async def test_alt_up_and_down_select_messages_and_escape_goes_back(zai: WireServer) -> None:
    zai.reply(*answers(3))
    async with running() as pilot:
        pane = active(pilot)
        await three_exchanges(pilot, zai)
        shown = messages_shown(pilot)
        assert len(shown) == 6
        await pilot.press("alt+up")  # from the prompt: the last message
        assert pilot.app.focused is shown[-1]
        await pilot.press("alt+up", "alt+up")
        assert pilot.app.focused is shown[-3]
        assert isinstance(shown[-3], AssistantMessage) and "answer 2" in shown[-3].text
        await pilot.press("alt+down")
        assert pilot.app.focused is shown[-2]
        await pilot.press("alt+down", "alt+down")  # stays on the last one
        assert pilot.app.focused is shown[-1]
        # Letters are typed in the prompt, not taken by the message bindings.
        await pilot.press("escape")
        assert pane.prompt.has_focus
        await pilot.press("e", "r", "left_square_bracket")
        assert pane.prompt.text == "er["
        assert len(zai.requests) == 3


async def test_a_click_selects_a_message_and_it_is_highlighted(zai: WireServer) -> None:
    zai.reply(*answers(2))
    async with running() as pilot:
        await exchanges(pilot, "question 1", "question 2")
        first = messages_shown(pilot)[-2]  # question 2
        before = first.styles.background
        await pilot.click(first)
        await pilot.pause()
        assert pilot.app.focused is first
        assert first.styles.background != before  # the selection's tint
        assert active(pilot).branches.selected is first


async def test_edit_an_earlier_prompt_sends_exactly_the_new_path(zai: WireServer) -> None:
    zai.reply(*answers(3, "answer to the edit"))
    async with running() as pilot:
        pane = active(pilot)
        await three_exchanges(pilot, zai)
        await pilot.press("alt+up", "alt+up", "alt+up", "alt+up")  # question 2
        assert isinstance(pilot.app.focused, UserMessage)
        assert pilot.app.focused.text == "question 2"
        await pilot.press("e")
        assert pane.prompt.has_focus and pane.prompt.text == "question 2"
        await pilot.pause()
        assert EDITING in screen_text(pilot.app)
        pane.prompt.text = "question 2, edited"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(zai.requests) == 4, "the edit's request")
        await wait_for_stream(pilot)
        await pilot.pause()
        assert EDITING not in screen_text(pilot.app)  # sent: the toast is not true any more
        # What went out: question 1's exchange, then the edited prompt; nothing of the old
        # branch (question 2's first version, question 3).
        assert sent(zai, 3) == [
            ("user", "question 1"),
            ("assistant", "answer 1"),
            ("user", "question 2, edited"),
        ]
        log = region_text(pane.log_view)
        assert "question 2, edited" in log and "answer to the edit" in log
        assert "question 3" not in log and "answer 2" not in log
        assert "‹ 2/2 ›" in log  # the edited prompt is the second version
        assert [t.content for t in pane.turns] == [
            "question 1",
            "answer 1",
            "question 2, edited",
            "answer to the edit",
        ]
        # Nothing was lost: the old branch is still on disk.
        kept = {row.content for row in saved(pane.conversation_id)}
        assert {"question 2", "answer 2", "question 3", "answer 3"} <= kept


async def test_an_edit_given_up_takes_its_toast_away(zai: WireServer) -> None:
    zai.reply(*answers(2))
    async with running() as pilot:
        pane = active(pilot)
        for n in (1, 2):
            await send(pilot, f"question {n}")
            await wait_for_stream(pilot)
        pane.prompt.text = "a draft"
        # A second edit replaces the first one's toast and its text (found by QA: doubled),
        # the draft typed before staying under it; on another prompt too.
        for ups, text in ((4, "question 1"), (4, "question 1"), (2, "question 2")):
            await pilot.press(*["alt+up"] * ups, "e")
            await pilot.pause()
            assert screen_text(pilot.app).count(EDITING) == 1
            assert pane.prompt.text == f"{text}\na draft"
        assert pane.branches.editing is not None
        await pilot.press(pane._key("stop"))  # "Not an edit"
        await pilot.pause()
        assert pane.branches.editing is None and pane.prompt.text == "question 2\na draft"
        assert EDITING not in screen_text(pilot.app)


async def test_regenerate_adds_a_version_and_brackets_switch_back_and_forth(
    zai: WireServer,
) -> None:
    zai.reply(*answers(2, "answer 2, again", "answer 3 on the new branch"))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "question 1", "question 2")
        await pilot.press("alt+up")
        await pilot.press("r")
        await wait_until(pilot, lambda: len(zai.requests) == 3, "the regenerate request")
        await wait_for_stream(pilot)
        assert sent(zai, 2) == sent(zai, 1)  # the same history: the path to the prompt
        log = region_text(pane.log_view)
        assert "answer 2, again" in log and "‹ 2/2 ›" in log and "answer 2\n" not in log
        await exchanges(pilot, "question 3")
        assert sent(zai, 3)[-3:] == [
            ("user", "question 2"),
            ("assistant", "answer 2, again"),
            ("user", "question 3"),
        ]
        # Back to the first version of the answer: question 3 goes, being on the other branch.
        answer = next(
            w for w in messages_shown(pilot) if "answer 2, again" in getattr(w, "text", "")
        )
        answer.focus()
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "‹ 1/2 ›" in region_text(pane.log_view), "version 1")
        log = region_text(pane.log_view)
        assert "answer 2" in log and "answer 2, again" not in log and "question 3" not in log
        assert [t.content for t in pane.turns][-1] == "answer 2"
        assert isinstance(pilot.app.focused, AssistantMessage)  # the selection stays on it
        # No version before the first: the key is not offered there, so it is typed.
        await pilot.press("left_square_bracket")
        assert [t.content for t in pane.turns][-1] == "answer 2"
        assert pane.prompt.text == "[" and pane.prompt.has_focus
        pane.prompt.clear()
        await pilot.press("alt+up")  # answer 2 again, the last message
        assert isinstance(pilot.app.focused, AssistantMessage)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "‹ 2/2 ›" in region_text(pane.log_view), "version 2")
        log = region_text(pane.log_view)
        assert "answer 2, again" in log and "question 3" in log and "answer 3 on the new" in log
        assert [t.content for t in pane.turns][-2:] == ["question 3", "answer 3 on the new branch"]
        # The next prompt continues the branch shown.
        zai.reply(Reply(chunks=stream(["answer 4"])))
        await exchanges(pilot, "question 4")
        assert sent(zai, 4)[-5:] == [
            ("user", "question 2"),
            ("assistant", "answer 2, again"),
            ("user", "question 3"),
            ("assistant", "answer 3 on the new branch"),
            ("user", "question 4"),
        ]


async def test_a_remapped_regenerate_key_works_on_a_selected_answer(zai: WireServer) -> None:
    save_value("keys.regenerate", "g")
    zai.reply(*answers(1, "again"))
    async with running() as pilot:
        await exchanges(pilot, "question 1")
        await pilot.press("alt+up", "r")  # r is no longer regenerate: it is typed
        assert len(zai.requests) == 1
        assert active(pilot).prompt.text == "r" and active(pilot).prompt.has_focus
        await pilot.press("alt+up", "g")
        await wait_until(pilot, lambda: len(zai.requests) == 2, "the regenerate request")
        await wait_for_stream(pilot)


async def test_undo_last_exchange_keeps_it_as_a_branch(zai: WireServer) -> None:
    zai.reply(*answers(2, "another answer"))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "question 1", "question 2")
        pane.branches.undo()
        await pilot.pause()
        assert pane.prompt.text == "question 2"
        assert [t.content for t in pane.turns] == ["question 1", "answer 1"]
        assert "question 2" not in region_text(pane.log_view)
        assert {"question 2", "answer 2"} <= {r.content for r in saved(pane.conversation_id)}
        pane.prompt.text = "question 2 again"
        await pilot.press("enter")
        await wait_for_stream(pilot)
        assert sent(zai, 2) == [
            ("user", "question 1"),
            ("assistant", "answer 1"),
            ("user", "question 2 again"),
        ]
        assert "‹ 2/2 ›" in region_text(pane.log_view)


async def test_fork_from_a_selected_message_opens_a_new_pane(zai: WireServer) -> None:
    zai.reply(*answers(2))
    async with running() as pilot:
        app = glm(pilot)
        pane = active(pilot)
        await exchanges(pilot, "question 1", "question 2")
        await pilot.press("alt+up", "alt+up", "alt+up")  # answer 1
        await pane.branches.fork()
        await pilot.pause()
        assert len(app.panes) == 2
        forked = active(pilot)
        assert forked is not pane and forked.conversation_id != pane.conversation_id
        assert [t.content for t in forked.turns] == ["question 1", "answer 1"]
        assert len(pane.turns) == 4  # the original is untouched


async def test_a_search_hit_on_another_branch_opens_that_branch(zai: WireServer) -> None:
    with SessionStore(paths.database_path()) as store:
        conv = store.create_conversation(model="glm-4.5", provider="zai", thinking=False)
        prompt = store.add_message(conv, "user", "name a colour")
        store.add_message(conv, "assistant", "zebra-striped teal", parent_id=prompt)
        shown = store.add_message(conv, "assistant", "plain red", parent_id=prompt)
        store.set_current_leaf(conv, shown)
    async with running() as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press(*"zebra")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: active(pilot).conversation_id == conv, "the conversation")
        pane = active(pilot)
        assert [t.content for t in pane.turns] == ["name a colour", "zebra-striped teal"]
        assert "‹ 1/2 ›" in region_text(pane.log_view)


# --- where the selection goes after an action on it --------------------------------------------


def footer_keys(pilot: Pilot[Any]) -> set[str]:
    """The ids of the selection's bindings the footer offers now."""
    return {
        active_binding.binding.id or ""
        for active_binding in pilot.app.screen.active_bindings.values()
        if active_binding.enabled
    }


async def test_regenerate_keeps_the_selection_on_the_new_version(zai: WireServer) -> None:
    zai.reply(*answers(2, "answer 2, again", "answer 2, third", "answer 1, again"))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "alpha", "beta")
        await pilot.press("alt+up", "r")
        await wait_until(pilot, lambda: len(zai.requests) == 3, "the regenerate request")
        await wait_for_stream(pilot)
        await pilot.pause()
        # The selection is on the new version, not on "alpha" (the log's first message).
        focused = pilot.app.focused
        assert isinstance(focused, AssistantMessage) and focused.text == "answer 2, again"
        assert focused is messages_shown(pilot)[-1] and focused.versions == (2, 2)
        assert {"regenerate", "prev_sibling"} <= footer_keys(pilot)
        assert "edit_message" not in footer_keys(pilot)
        await pilot.press("e")  # an answer has no edit: e is typed, "alpha" is not loaded
        assert pane.prompt.text == "e" and pane.prompt.has_focus
        pane.prompt.clear()
        await pilot.press("alt+up")  # the last message: the new version
        assert pilot.app.focused is focused
        # r again acts on the version selected: a third one beside it, selected in turn.
        await pilot.press("r")
        await wait_until(pilot, lambda: len(zai.requests) == 4, "the second regenerate")
        await wait_for_stream(pilot)
        await pilot.pause()
        focused = pilot.app.focused
        assert isinstance(focused, AssistantMessage) and focused.versions == (3, 3)
        assert sent(zai, 3) == sent(zai, 1)  # still the path to "beta"
        # [ goes back a version and the selection stays with the message switched.
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "‹ 2/3 ›" in region_text(pane.log_view), "version 2")
        await pilot.pause()
        focused = pilot.app.focused
        assert isinstance(focused, AssistantMessage) and focused.text == "answer 2, again"
        # An earlier answer: its new version is selected, the branch below it goes.
        await pilot.press("alt+up", "alt+up")
        assert isinstance(pilot.app.focused, AssistantMessage)
        assert pilot.app.focused.text == "answer 1"
        await pilot.press("r")
        await wait_until(pilot, lambda: len(zai.requests) == 5, "regenerating answer 1")
        await wait_for_stream(pilot)
        await pilot.pause()
        focused = pilot.app.focused
        assert isinstance(focused, AssistantMessage) and focused.text == "answer 1, again"
        assert [t.content for t in pane.turns] == ["alpha", "answer 1, again"]


async def test_undo_with_a_message_selected_gives_the_box_the_focus(zai: WireServer) -> None:
    zai.reply(*answers(2))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "alpha", "beta")
        for presses in (1, 4):  # the last answer (undone with it), then "alpha" (kept)
            await pilot.press(*["alt+up"] * presses)
            assert isinstance(pilot.app.focused, SelectableMessage)
            pane.branches.undo()
            await pilot.pause()
            await pilot.pause()
            # The prompt comes back to the box, which has the focus: never a message.
            assert pilot.app.focused is pane.prompt
            if presses == 1:
                assert pane.prompt.text == "beta"
                pane.prompt.clear()
                await send(pilot, "beta")  # the same again, as the new last exchange
                await wait_for_stream(pilot)


async def test_a_prompt_after_another_process_continued_the_conversation_shows_its_version(
    zai: WireServer,
) -> None:
    """`glmchat ask --session` continued the conversation open in the pane (here: its rows
    written on another connection, as that process does): the pane's next prompt is shown as
    version 2 of 2 beside the other's, and `[` on it shows the other's exchange."""
    zai.reply(*answers(2))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "question 1")
        conversation_id, leaf = pane.engine.conversation_id or "", pane.turns[-1].message_id
        with SessionStore(paths.database_path()) as other:
            other.add_message(conversation_id, "user", "asked elsewhere", parent_id=leaf)
            answer = other.begin_assistant(
                conversation_id, model="glm-4.5", provider="zai", thinking=False
            )
            other.finish_assistant(
                answer, content="answered elsewhere", reasoning="", status="complete"
            )
        await exchanges(pilot, "question 2")
        assert "‹ 2/2 ›" in region_text(pane.log_view)
        assert sent(zai, 1)[-1] == ("user", "question 2")
        await pilot.press("alt+up", "alt+up")  # the prompt, above its answer
        assert isinstance(pilot.app.focused, UserMessage)
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "‹ 1/2 ›" in region_text(pane.log_view), "version 1")
        log = region_text(pane.log_view)
        assert "asked elsewhere" in log and "answered elsewhere" in log
        assert "question 2" not in log


async def test_a_message_drawn_that_gained_a_version_elsewhere_shows_it_after_the_next_prompt(
    zai: WireServer,
) -> None:
    """Found by QA (two windows on one conversation): the other window sent a version of a
    prompt this pane had drawn; after this pane's next prompt the drawn one said nothing,
    though `]` was offered on it. It shows `‹ 1/2 ›` now."""
    zai.reply(*answers(3))
    async with running() as pilot:
        pane = active(pilot)
        await exchanges(pilot, "question 1", "question 2")
        conversation_id, first_answer = pane.engine.conversation_id or "", pane.turns[1]
        with SessionStore(paths.database_path()) as other:
            other.add_message(
                conversation_id, "user", "the other window's", parent_id=first_answer.message_id
            )
        await exchanges(pilot, "question 3")
        second = next(m for m in messages_shown(pilot) if getattr(m, "text", "") == "question 2")
        assert "‹ 1/2 ›" in region_text(second)
        assert sent(zai, 2)[-3:] == [
            ("user", "question 2"), ("assistant", "answer 2"), ("user", "question 3")
        ]  # fmt: skip

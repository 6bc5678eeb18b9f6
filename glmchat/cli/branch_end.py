"""What `ask -c` / `ask --session` says when the branch it continues ends on a prompt with no
answer, or on an answer not finished: the branch shows it, so the user is told what the
request does with it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from glmchat.cli.cells import clip
from glmchat.engine.turns import Turn, unanswered
from glmchat.terminal_text import neutralize_controls

_QUOTED = 60  # cells of the prompt quoted: enough to recognise it, one line in all


def branch_end_note(turns: Sequence[Turn]) -> str | None:
    """One line about the prompt that ends `turns` without an answer, or the answer that ends
    it unfinished, or None. A prompt whose
    answer failed (or was stopped before any text) is not sent again (engine/turns.py
    `history`); one that was never asked (a fork at a prompt, an import) is sent before the
    new one."""
    left = unanswered(turns)
    if left is not None and turns[-1].unfinished:
        # Found by QA: `ask --session` while the chat screen's answer was still thinking said
        # the prompt got no answer.
        return (
            "the last answer of this conversation is unfinished and has no text yet (another "
            "glmchat may still be writing it, or one stopped before its end), so its prompt, "
            f'"{_quote(left)}", is not sent; put it in your prompt if the model should see it'
        )
    if left is not None:
        return (
            f'the last prompt of this conversation, "{_quote(left)}", got no answer, so it is '
            "not sent again; put it in your prompt if the model should see it"
        )
    if turns and turns[-1].unfinished:
        # Found by QA: `ask --session` while the chat screen streamed into the conversation
        # sent the answer's first lines as if they were all of it, and said nothing.
        return (
            "the last answer of this conversation is unfinished (another glmchat may still be "
            "writing it, or one stopped before its end): it is sent as far as it was saved"
        )
    if turns and turns[-1].role == "user" and turns[-1].content.strip():
        return (
            f'this conversation ends on a prompt with no answer yet, "{_quote(turns[-1])}": '
            "it is sent before yours"
        )
    return None


def say_branch_end(turns: Sequence[Turn]) -> None:
    if (note := branch_end_note(turns)) is not None:
        print(f"glmchat: note: {note}", file=sys.stderr)


def _quote(turn: Turn) -> str:
    # A prompt may hold anything (an import): one line, no terminal controls.
    return clip(neutralize_controls(" ".join(turn.content.split())), _QUOTED)

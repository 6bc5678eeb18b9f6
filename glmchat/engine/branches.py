"""The conversation tree in the engine: every turn ever made, and moves between branches.

`ConversationEngine.turns` is always one branch, the path from the root to the current leaf:
what is drawn and what is sent. `TurnTree` keeps every turn (the other branches too) so that
regenerating, editing and switching work the same with or without a store; `Branches` is the
engine's half of it (the mixin's methods need the engine's `turns`, `save`, `send` and
`_answer`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from glmchat.engine.budget import DoesNotFit
from glmchat.engine.turns import Turn, turn_from_stored

if TYPE_CHECKING:
    from glmchat.config import Settings
    from glmchat.engine.budget import Budget
    from glmchat.engine.exchange import Exchange
    from glmchat.store import Conversation, SessionStore, StoredMessage

_ROOT = 0  # the children key of the roots (a Turn's key is its id(), never 0)
_SHOWN = frozenset(("user", "assistant", "tool"))  # the roles the engine keeps as turns


class TurnTree:
    """Every turn of a conversation and its parent; siblings in the order they were made.

    Turns are keyed by identity (they are mutable, and an unsaved one has no message id)."""

    def __init__(self) -> None:
        self._parent: dict[int, Turn | None] = {}
        self._children: dict[int, list[Turn]] = {}
        self._order: dict[int, int] = {}

    def add(self, turn: Turn, parent: Turn | None) -> None:
        self._parent[id(turn)] = parent
        self._children.setdefault(_key(parent), []).append(turn)
        self._order[id(turn)] = len(self._order)
        turn.parent_id = parent.message_id if parent is not None else None
        siblings = self._children[_key(parent)]
        turn.siblings = (len(siblings), len(siblings))

    def parent(self, turn: Turn) -> Turn | None:
        return self._parent.get(id(turn))

    def siblings(self, turn: Turn) -> list[Turn]:
        """`turn` and the other children of its parent, oldest first."""
        return self._children.get(_key(self.parent(turn)), [turn])

    def path_to(self, leaf: Turn | None) -> list[Turn]:
        """The turns from the root down to `leaf`, each numbered among its siblings."""
        parents, children = self._parent, self._children  # local: once per turn of a path
        out: list[Turn] = []
        at = leaf
        while at is not None:
            out.append(at)
            at = parents.get(id(at))
        out.reverse()
        for turn in out:
            parent = parents.get(id(turn))
            siblings = children.get(_ROOT if parent is None else id(parent), [turn])
            count = len(siblings)
            turn.siblings = (1, 1) if count == 1 else (siblings.index(turn) + 1, count)
        return out

    def newest_leaf(self, turn: Turn) -> Turn:
        """The most recently made turn without children at or below `turn`."""
        best, stack = turn, [turn]
        newest = -1
        while stack:
            at = stack.pop()
            below = self._children.get(id(at))
            if below:
                stack.extend(below)
            elif self._order[id(at)] > newest:
                best, newest = at, self._order[id(at)]
        return best

    def find(self, message_id: int) -> Turn | None:
        """The turn saved as message `message_id` (None: not in this tree, e.g. a system
        row, or a message added by another process since it was read)."""
        for siblings in self._children.values():
            for turn in siblings:
                if turn.message_id == message_id:
                    return turn
        return None

    def turns(self) -> list[Turn]:
        """Every turn of the tree, each after its parent, siblings in the order made."""
        return [turn for siblings in self._children.values() for turn in siblings]

    @classmethod
    def from_stored(
        cls,
        messages: Iterable[StoredMessage],
        leaf: int | None,
        held: dict[int, Turn] | None = None,
    ) -> tuple[TurnTree, list[Turn]]:
        """The tree of a saved conversation and its current branch. A message the engine does
        not show (a system row) passes its children to its own parent. `held`: turns already
        made for some of the messages (by id), used instead of new ones.

        `add` inlined: a resumed conversation is built whole before its first paint, so
        this loop runs once per message ever saved in it."""
        tree = cls()
        parents, children, order = tree._parent, tree._children, tree._order
        by_id: dict[int, Turn] = {}
        skipped: dict[int, int | None] = {}
        for m in messages:  # insertion order: parents first
            parent_id = m.parent_id
            while parent_id in skipped:
                parent_id = skipped[parent_id]
            if m.role not in _SHOWN:
                skipped[m.id] = parent_id
                continue
            turn = (held and held.get(m.id)) or turn_from_stored(m)
            parent = by_id.get(parent_id) if parent_id is not None else None
            key = id(turn)
            parents[key] = parent
            order[key] = len(order)
            siblings = children.get(_ROOT if parent is None else id(parent))
            if siblings is None:
                children[_ROOT if parent is None else id(parent)] = [turn]
            else:
                siblings.append(turn)
            turn.parent_id = parent.message_id if parent is not None else None
            by_id[m.id] = turn
        while leaf in skipped:
            leaf = skipped[leaf]
        return tree, tree.path_to(by_id.get(leaf) if leaf is not None else None)


def _key(turn: Turn | None) -> int:
    return _ROOT if turn is None else id(turn)


class Branches:
    """Regenerate, edit, switch, undo and fork: ConversationEngine's moves in its tree."""

    # Provided by ConversationEngine.
    turns: list[Turn]
    tree: TurnTree
    _rest: Callable[[], Conversation | None] | None  # the whole conversation, not read yet
    conversation_id: str | None
    store: SessionStore | None
    omit_before: int

    if TYPE_CHECKING:

        def save(self, method: str, *args: Any, **kwargs: Any) -> Any: ...
        def send(self, prompt: str) -> Exchange: ...
        def _answer(self) -> Exchange: ...
        def _check_idle(self) -> None: ...
        def set_model(self, provider: str, model: str) -> None: ...
        def leave_out_before(self, index: int) -> None: ...
        def check_fit(self, prompt: str, history: Sequence[Turn] | None = None) -> Budget: ...

        settings: Settings
        thinking: bool
        provider_name: str
        model: str

    @property
    def is_whole(self) -> bool:
        """Whether the whole conversation is read (not only the end of its branch)."""
        return self._rest is None

    def read_whole(self) -> bool:
        """Read the rest of a conversation opened from the end of its branch (`resume` with
        `rest`): the whole tree, and the whole branch in `turns`; the turns held already are
        kept (the log's messages show them). Returns whether there was anything to read.
        Every move in the tree and every request reads it first (`_check_idle`)."""
        rest, self._rest = self._rest, None
        if rest is None:
            return False
        conversation = rest()
        if conversation is None:  # the store failed (and said so): try again next time
            self._rest = rest
            return False
        self._rebuild(conversation)
        return True

    def take_in_others(self) -> bool:
        """Read the tree again when another process added to this conversation since it
        was read (`glmchat ask --session`, a second glmchat): a prompt sent where the new
        messages hang is then numbered beside them (`‹ 2/2 ›`) and `[`/`]` reach them, where
        before it forked from them unseen. The current branch stays; the turns held stay
        the same objects (the log's messages show them). Returns whether anything was read.
        Every move in the tree and every request looks first (`_check_idle`)."""
        if self.store is None or self.conversation_id is None or self._rest is not None:
            return False  # (only the end of the branch held: its ids say nothing of the rest)
        newest = 0
        for turn in self.tree.turns():
            if turn.message_id is None:  # never saved: a tree read from the store would lose it
                return False
            newest = max(newest, turn.message_id)
        from glmchat.store import StoreError

        try:
            added = self.store.added_since(self.conversation_id, newest)
            if not any(role in _SHOWN for _, role in added):
                return False
            conversation = self.store.get_conversation(self.conversation_id)
        except StoreError:  # the store says so on the write that follows, if it matters
            return False
        saved = {m.id for m in conversation.messages}
        if any(turn.message_id not in saved for turn in self.turns):
            # The branch shown is gone from the store (deleted, then imported again under new
            # ids; found by QA): the tree read would not hold it, and the next prompt would go
            # without its history. Kept as it is: its next save fails and says so.
            return False
        self._rebuild(conversation)
        return True

    def _rebuild(self, conversation: Conversation) -> None:
        """The tree from `conversation` as saved, keeping the current branch and the turns
        held already."""
        held = {t.message_id: t for t in self.tree.turns() if t.message_id is not None}
        leaf = self.turns[-1].message_id if self.turns else conversation.current_leaf
        self.tree, self.turns = TurnTree.from_stored(conversation.messages, leaf, held)

    def regenerate(
        self, index: int, *, model: str | None = None, thinking: bool | None = None
    ) -> Exchange:
        """A new answer to the prompt that `turns[index]` answers (a sibling of that answer's
        first turn); it becomes the current branch. `model` ("PROVIDER/MODEL") and `thinking`
        change the conversation's settings first. Raises IndexError when no prompt precedes
        `turns[index]`."""
        index = self._whole_index(index)
        prompt = self._prompt_at_or_before(index)
        was_provider, was_model, was_thinking = self.provider_name, self.model, self.thinking
        if model is not None:
            provider, model_id = self.settings.resolve_model(model)
            self.set_model(provider.name, model_id)
        if thinking is not None:
            self.thinking = thinking
        try:
            # The same budget as a new prompt's (found by QA: r and retry sent a request
            # over the window, which the provider refuses): with the model it will go to.
            self.check_fit(self.turns[prompt].content, self.turns[:prompt])
        except DoesNotFit:  # nothing changes, not even the model
            if (self.provider_name, self.model) != (was_provider, was_model):
                self.set_model(was_provider, was_model)
            self.thinking = was_thinking
            raise
        self._show(self.turns[: prompt + 1])
        return self._answer()

    def retry(self) -> Exchange | None:
        """Answer the last prompt again (the earlier answer stays, as a branch); None if
        there is no prompt."""
        if not any(turn.role == "user" for turn in self.turns):
            self._check_idle()
            return None
        return self.regenerate(len(self.turns) - 1)

    def edit(self, index: int, text: str) -> Exchange:
        """Send `text` as a new version of the prompt `turns[index]` (its sibling), then its
        answer. On DoesNotFit nothing changes."""
        index = self._whole_index(index)
        if self.turns[index].role != "user":
            raise ValueError(f"turn {index} is not a prompt")
        before = self.turns
        self._show(self.turns[:index])
        try:
            return self.send(text)
        except BaseException:
            self._show(before)
            raise

    def switch_sibling(self, index: int, step: int) -> bool:
        """Show the sibling `step` away from `turns[index]` (no wrapping) and, below it, its
        most recent branch; returns whether anything moved."""
        index = self._whole_index(index)
        turn = self.turns[index]
        siblings = self.tree.siblings(turn)
        to = siblings.index(turn) + step
        if step == 0 or not 0 <= to < len(siblings):
            return False
        leaf = self.tree.newest_leaf(siblings[to])
        self._show(self.tree.path_to(leaf))
        return True

    def open_message(self, message_id: int) -> int | None:
        """Show a branch that holds the saved message `message_id` (where a search hit
        opens): the current one if it does, else the newest that does. Returns that
        message's index in `turns`, or None when no turn of this conversation is that
        message (nothing moves then)."""
        self._check_idle()
        turn = self.tree.find(message_id)
        if turn is None:
            return None
        if not any(each is turn for each in self.turns):
            self._show(self.tree.path_to(self.tree.newest_leaf(turn)))
        return next(i for i, each in enumerate(self.turns) if each is turn)

    def undo_last_exchange(self) -> str | None:
        """Move the current leaf back to before the last prompt (the exchange stays, as a
        branch); returns that prompt, for editing, or None if there is none."""
        self._check_idle()
        last = self._last_prompt()
        if last is None:
            return None
        text = self.turns[last].content
        self._show(self.turns[:last])
        return text

    def take_back_last_prompt(self) -> str | None:
        return self.undo_last_exchange()

    def fork(self, index: int) -> str | None:
        """A new saved conversation holding the branch up to `turns[index]`; its id, or None
        when it cannot be saved (no store, or that turn was never saved)."""
        message_id = self.turns[index].message_id
        if self.conversation_id is None or message_id is None:
            return None
        result = self.save("fork", self.conversation_id, message_id)
        return result if isinstance(result, str) else None

    # --- helpers ------------------------------------------------------------------------

    def _whole_index(self, index: int) -> int:
        """Check that none is running and read the whole conversation (`_check_idle`); returns
        where `turns[index]` is now (an index into the end of the branch, before it was read
        whole: those turns are the last ones still)."""
        before = len(self.turns)
        self._check_idle()
        return index + len(self.turns) - before

    def _prompt_at_or_before(self, index: int) -> int:
        for at in range(min(index, len(self.turns) - 1), -1, -1):
            if self.turns[at].role == "user":
                return at
        raise IndexError(f"no prompt at or before turn {index}")

    def _last_prompt(self) -> int | None:
        for at in range(len(self.turns) - 1, -1, -1):
            if self.turns[at].role == "user":
                return at
        return None

    def _show(self, branch: list[Turn]) -> None:
        """Make `branch` the current one: in `turns`, and as the stored current leaf."""
        left_out = sum(1 for _ in zip(branch, self.turns[: self.omit_before], strict=False))
        kept = 0
        while kept < left_out and branch[kept] is self.turns[kept]:
            kept += 1
        self.turns = self.tree.path_to(branch[-1]) if branch else []
        # Turns left out of what is sent stay left out while the branch still starts with them.
        self.leave_out_before(kept)
        if self.conversation_id is not None:
            leaf = self.turns[-1].message_id if self.turns else None
            if leaf is not None or not self.turns:
                self.save("set_current_leaf", self.conversation_id, leaf)

    def _extend(self, turn: Turn) -> None:
        """Add `turn` below the current leaf and make it the leaf (the store's write of it
        already moved the stored leaf)."""
        self.tree.add(turn, self.turns[-1] if self.turns else None)
        self.turns.append(turn)

    def _saves_below(self) -> bool:
        """Whether a turn added below the current leaf is saved: the conversation is, and so
        is the leaf. Below a turn whose save failed it is not (found by QA: saved at the
        store's own current leaf instead, an answer landed under another answer)."""
        leaf_saved = not self.turns or self.turns[-1].message_id is not None
        return self.conversation_id is not None and leaf_saved

    def _parent_arg(self) -> dict[str, Any]:
        """The `parent_id` for the store's write of the next turn (see `_saves_below`)."""
        return {"parent_id": self.turns[-1].message_id if self.turns else None}

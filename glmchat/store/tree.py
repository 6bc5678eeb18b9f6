"""A stored conversation as a tree: the current branch, a message's siblings, a branch's leaf.

Pure functions over `Conversation.messages` (every branch, in insertion order); the store's
writes that change the tree are in tree_edits.py."""

from __future__ import annotations

from collections.abc import Iterable

from glmchat.store.models import Conversation, StoredMessage


def path(conversation: Conversation) -> tuple[StoredMessage, ...]:
    """The current branch: the messages from the root to the current leaf, in order."""
    return path_to(conversation.messages, conversation.current_leaf)


def path_to(messages: Iterable[StoredMessage], leaf: int | None) -> tuple[StoredMessage, ...]:
    """The messages from the root down to `leaf` (none for None or an unknown id)."""
    by_id = {m.id: m for m in messages}
    out: list[StoredMessage] = []
    seen: set[int] = set()
    at = by_id.get(leaf) if leaf is not None else None
    # `seen` guards against a cycle a damaged database could hold: never loop for ever.
    while at is not None and at.id not in seen:
        seen.add(at.id)
        out.append(at)
        at = by_id.get(at.parent_id) if at.parent_id is not None else None
    out.reverse()
    return tuple(out)


def siblings(conversation: Conversation, message_id: int) -> tuple[StoredMessage, ...]:
    """The messages that share `message_id`'s parent (itself included), oldest first."""
    by_id = {m.id: m for m in conversation.messages}
    message = by_id.get(message_id)
    if message is None:
        return ()
    return tuple(m for m in conversation.messages if m.parent_id == message.parent_id)


def newest_leaf(conversation: Conversation, message_id: int) -> int | None:
    """The most recently added leaf at or below `message_id` (itself if it has no children):
    where a switch to that branch lands. None if there is no such message."""
    children: dict[int, list[StoredMessage]] = {}
    known = False
    for m in conversation.messages:
        known = known or m.id == message_id
        if m.parent_id is not None:
            children.setdefault(m.parent_id, []).append(m)
    if not known:
        return None
    best: StoredMessage | None = None
    stack = [message_id]
    seen: set[int] = set()
    by_id = {m.id: m for m in conversation.messages}
    while stack:
        at = stack.pop()
        if at in seen:
            continue
        seen.add(at)
        below = children.get(at)
        if below:
            stack.extend(m.id for m in below)
        elif best is None or by_id[at].position > best.position:
            best = by_id[at]
    return best.id if best is not None else message_id


def other_branches(conversation: Conversation) -> list[tuple[StoredMessage, int, int]]:
    """The branches off the current one: for each sibling of a message on the current branch
    that is not on it, (that sibling, how many messages its subtree holds, how many branches:
    the leaves of that subtree), in path order."""
    on_path = path(conversation)
    on_ids = {m.id for m in on_path}
    children: dict[int | None, list[StoredMessage]] = {}
    for m in conversation.messages:
        children.setdefault(m.parent_id, []).append(m)

    def size(root: StoredMessage) -> tuple[int, int]:
        count = leaves = 0
        stack, seen = [root], set()
        while stack:
            at = stack.pop()
            if at.id in seen:  # a damaged database's cycle: never loop for ever
                continue
            seen.add(at.id)
            count += 1
            below = children.get(at.id, ())
            leaves += not below
            stack.extend(below)
        return count, max(leaves, 1)

    out: list[tuple[StoredMessage, int, int]] = []
    parents: list[int | None] = [None, *(m.id for m in on_path)]
    for parent in parents:
        for m in children.get(parent, ()):
            if m.id not in on_ids:
                out.append((m, *size(m)))
    return out

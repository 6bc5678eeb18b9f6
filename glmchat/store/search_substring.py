"""Searching text a word index cannot split: Chinese, Japanese, Thai, emoji. A word index finds
a run of such text only from its start ("中文" in "中文标题", not "标题"), so these queries match
substrings instead: the trigram index for runs of three or more characters, a scan for shorter
ones."""

from __future__ import annotations

import re
import sqlite3
import unicodedata

from glmchat.store.models import ConversationSummary
from glmchat.store.search import (
    RANKED_HITS,
    hit_summary,
    hit_texts,
    like_pattern,
    with_in_flight,
)

# Scripts written without spaces between words (or, Hangul, with particles glued to them):
# Thai, Lao, Tibetan, Myanmar, Khmer, Hangul, kana, CJK ideographs, their compatibility forms.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf"
    "\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
# A scan reads this many of the newest messages (and every title): the bound on a one- or
# two-character query, which no trigram can answer (about 20 ms here on 10,000 conversations).
SHORT_SCAN_MESSAGES = 20_000
_TRIGRAM = 3


def needs_substring(text: str) -> bool:
    """Whether `text` holds a character the word index cannot find from the middle of a run:
    an unspaced script, or a symbol such as an emoji (which the word index drops)."""
    return any(_UNSPACED.match(ch) or unicodedata.category(ch) == "So" for ch in text)


def search_substring(
    conn: sqlite3.Connection, search: str, limit: int, include_reasoning: bool
) -> list[ConversationSummary]:
    """Conversations whose title, or one message, holds every word of `search` anywhere:
    title hits first, then the rest, each most recent first (no relevance score)."""
    words = search.split()
    titled = _title_hits(conn, words, limit)
    found: list[tuple[str, int | None]] = [(cid, None) for cid in titled]
    if len(found) < limit:
        for cid, message_id in _message_hits(conn, words, limit + len(found), include_reasoning):
            if cid not in titled and len(found) < limit:
                found.append((cid, message_id))
    results = [hit_summary(conn, cid, hit, words, include_reasoning) for cid, hit in found]
    return with_in_flight(conn, results, words, limit, include_reasoning)


def inside_runs(
    conn: sqlite3.Connection,
    found: list[ConversationSummary],
    search: str,
    limit: int,
    include_reasoning: bool,
) -> list[ConversationSummary]:
    """`found` (the word index's best matches for a spaced query), then the conversations that
    hold each word only inside a run of unspaced text, up to `limit`: to the word index,
    `我喜欢用Python写代码` is one word, so `Python` is not in it (found by QA). Asked only for
    words of three or more characters, which the trigram index answers; shorter ones are found
    at word boundaries only."""
    words = search.split()
    if not words or any(len(word) < _TRIGRAM for word in words):
        return found
    # Each word must touch unspaced text (glued to it before or after): found elsewhere, it
    # was the word index's to find, within its bounds (RANKED_HITS). And never from inside a
    # spaced word: `cat` still does not find "concatenate".
    run = _UNSPACED.pattern
    starts = [
        re.compile(rf"(?<={run}){re.escape(word)}|(?<!\w){re.escape(word)}(?={run})", re.I)
        for word in words
    ]
    seen = {summary.id for summary in found}
    for summary in search_substring(conn, search, limit, include_reasoning):
        if len(found) >= limit:
            break
        if summary.id in seen:
            continue
        texts = hit_texts(conn, summary.title, summary.hit_message_id, include_reasoning)
        if all(any(start.search(text) for text in texts) for start in starts):
            seen.add(summary.id)
            found.append(summary)
    return found


def _title_hits(conn: sqlite3.Connection, words: list[str], limit: int) -> list[str]:
    # Titles are short and one a conversation: a scan of them all stays cheap.
    where = " AND ".join("c.title LIKE ? ESCAPE '\\'" for _ in words)
    rows = conn.execute(
        f"SELECT c.id FROM conversations c WHERE {where} "
        "ORDER BY c.updated DESC, c.seq DESC LIMIT ?",
        (*[like_pattern(w) for w in words], limit),
    ).fetchall()
    return [row[0] for row in rows]


def _message_hits(
    conn: sqlite3.Connection, words: list[str], limit: int, include_reasoning: bool
) -> list[tuple[str, int]]:
    """(conversation id, its newest matching message id), most recently updated first."""
    columns = ("content", "reasoning") if include_reasoning else ("content",)
    # The index answers LIKE only without ESCAPE, and finds nothing for a pattern with no
    # run of three characters between wildcards: it is asked for each word's longest run
    # without `%` or `_`, and a word it cannot answer exactly is checked on the row below.
    keys = [max(re.split("[%_]", w), key=len) for w in words]
    long = [key for key in keys if len(key) >= _TRIGRAM]
    if long:
        candidates = " UNION ".join(
            "SELECT rowid FROM messages_trigram WHERE "
            + " AND ".join(f"{column} LIKE ?" for _ in long)
            for column in columns
        )
        source = f"m.id IN (SELECT rowid FROM ({candidates}) ORDER BY rowid DESC LIMIT ?)"
        params: list[object] = [f"%{key}%" for _ in columns for key in long] + [RANKED_HITS]
        exact = [w for w, key in zip(words, keys, strict=True) if key != w or len(w) < _TRIGRAM]
    else:
        # No index helps: read the newest SHORT_SCAN_MESSAGES messages, no more.
        source = "m.id > coalesce((SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET ?), 0)"
        params = [SHORT_SCAN_MESSAGES]
        exact = words
    checks = [
        "(" + " AND ".join(f"m.{column} LIKE ? ESCAPE '\\'" for _ in exact) + ")"
        for column in columns
    ]
    where = source + (" AND (" + " OR ".join(checks) + ")" if exact else "")
    params += [like_pattern(w) for _ in columns for w in exact]
    rows = conn.execute(
        f"""
        WITH hits AS (
            SELECT m.id, m.conversation_id FROM messages m WHERE {where}
            ORDER BY m.id DESC LIMIT ?
        )
        SELECT h.conversation_id, max(h.id) FROM hits h
        JOIN conversations c ON c.id = h.conversation_id
        GROUP BY h.conversation_id ORDER BY c.updated DESC, c.seq DESC LIMIT ?
        """,
        (*params, RANKED_HITS, limit),
    ).fetchall()
    return [(row[0], row[1]) for row in rows]

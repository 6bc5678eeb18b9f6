"""Searching conversations: FTS5 queries, and a LIKE scan where SQLite has no FTS5. Either way
the hits are listed by one rule (README): matching titles first, then the most recent."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from typing import Any

from glmchat.store.models import ConversationSummary
from glmchat.store.rows import SUMMARY_COLUMNS, summary_from_row
from glmchat.store.search_index import IN_FLIGHT

# Search snippets wrap each hit in these; neither is Rich markup nor common in chat text.
SNIPPET_START = "«"
SNIPPET_END = "»"
_SNIPPET_TOKENS = 12
# How many of the newest matching messages (and titles) a search reads; see search_fts.
RANKED_HITS = 10_000
_LIKE_CONTEXT = 40


def _query_words(text: str) -> list[str]:
    return [w for w in text.split() if re.search(r"\w", w)]


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: each word a quoted phrase (so no operator syntax
    leaks through), all required, the last one also matching as a prefix."""
    words = _query_words(text)
    if not words:
        return ""
    phrases = ['"' + w.replace('"', '""') + '"' for w in words]
    phrases[-1] += "*"
    return " ".join(phrases)


def search_fts(
    conn: sqlite3.Connection, search: str, limit: int, include_reasoning: bool
) -> list[ConversationSummary]:
    """Matching titles first, then the rest, each most recent first (README; the substring
    search's rule too), each with a snippet around its best hit. A relevance score only picks a
    conversation's hit (the message shown, and opened): ranked across conversations, a short
    title beat a newer one that matched as well (found by QA)."""
    query = fts_query(search)
    if not query:
        return []
    message_query = query if include_reasoning else f"{{content}} : ({query})"
    snippet_column = -1 if include_reasoning else 0
    # Order first, snippets after: a snippet costs far more than bm25, so only the hits that
    # are shown get one. Only the newest RANKED_HITS matches of each kind are read, which
    # bounds the cost of a word found in half the history (rowid order is insertion order).
    best = conn.execute(
        """
        WITH title_hits AS (
            SELECT rowid AS seq FROM conversations_fts WHERE conversations_fts MATCH :q
            ORDER BY rowid DESC LIMIT :cap
        ),
        message_hits AS (
            SELECT rowid AS id, bm25(messages_fts, 1.0, 0.5) AS score
            FROM messages_fts WHERE messages_fts MATCH :mq
            ORDER BY rowid DESC LIMIT :cap
        ),
        message_best AS (
            SELECT m.conversation_id AS cid, min(h.score) AS score, h.id AS hit
            FROM message_hits h JOIN messages m ON m.id = h.id
            GROUP BY m.conversation_id
        ),
        hits AS (
            SELECT c.id AS cid, 0 AS rest, 'title' AS kind, t.seq AS hit, c.updated, c.seq
            FROM title_hits t JOIN conversations c ON c.seq = t.seq
            UNION ALL
            SELECT c.id, 1, 'message', b.hit, c.updated, c.seq
            FROM message_best b JOIN conversations c ON c.id = b.cid
            WHERE c.seq NOT IN (SELECT seq FROM title_hits)
        )
        SELECT cid, kind, hit FROM hits ORDER BY rest, updated DESC, seq DESC LIMIT :limit
        """,
        {"q": query, "mq": message_query, "limit": limit, "cap": RANKED_HITS},
    ).fetchall()
    results = []
    for cid, kind, hit in best:
        if kind == "title":
            snippet_row = conn.execute(
                "SELECT snippet(conversations_fts, 0, ?, ?, '…', ?) FROM "
                "conversations_fts WHERE conversations_fts MATCH ? AND rowid = ?",
                (SNIPPET_START, SNIPPET_END, _SNIPPET_TOKENS, query, hit),
            ).fetchone()
        else:
            snippet_row = conn.execute(
                "SELECT snippet(messages_fts, ?, ?, ?, '…', ?) FROM messages_fts "
                "WHERE messages_fts MATCH ? AND rowid = ?",
                (snippet_column, SNIPPET_START, SNIPPET_END, _SNIPPET_TOKENS, message_query, hit),
            ).fetchone()
        row = conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE c.id = ?", (cid,)
        ).fetchone()
        snippet = _one_line(snippet_row[0]) if snippet_row else ""
        summary = summary_from_row(row, snippet)
        # The message hit, on whichever branch: opening it switches to that branch.
        results.append(replace(summary, hit_message_id=hit) if kind == "message" else summary)
    return with_in_flight(conn, results, _query_words(search), limit, include_reasoning)


def with_in_flight(
    conn: sqlite3.Connection,
    results: list[ConversationSummary],
    words: list[str],
    limit: int,
    include_reasoning: bool,
) -> list[ConversationSummary]:
    """`results` (an index's hits), then the conversations whose answer in flight holds every
    word, up to `limit`. The indexes leave answers in flight out (search_index.py): their
    rows are scanned, through migration 8's partial index (a handful: the answers streaming
    now, and any a crash left so)."""
    if len(results) >= limit or not words:
        return results
    columns = ("content", "reasoning") if include_reasoning else ("content",)
    each_word = " OR ".join(f"m.{column} LIKE ? ESCAPE '\\'" for column in columns)
    rows = conn.execute(
        f"SELECT m.conversation_id, m.id FROM messages m WHERE {IN_FLIGHT.format(row='m')} "
        + "".join(f" AND ({each_word})" for _ in words)
        + " ORDER BY m.id DESC",
        [like_pattern(w) for w in words for _ in columns],
    ).fetchall()
    seen = {summary.id for summary in results}
    for cid, message_id in rows:
        if len(results) >= limit:
            break
        if cid not in seen:
            seen.add(cid)
            results.append(hit_summary(conn, cid, message_id, words, include_reasoning))
    return results


def hit_summary(
    conn: sqlite3.Connection,
    cid: str,
    hit: int | None,
    words: list[str],
    include_reasoning: bool,
) -> ConversationSummary:
    """Conversation `cid` as a search result: its message `hit` (None: its title) holds
    `words`, the snippet around the first found."""
    row = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE c.id = ?", (cid,)
    ).fetchone()
    summary = summary_from_row(row)
    texts = hit_texts(conn, summary.title, hit, include_reasoning)
    snippet = next(filter(None, (like_snippet(t, w) for w in words for t in texts)), "")
    return replace(summary, snippet=snippet, hit_message_id=hit)


def hit_texts(
    conn: sqlite3.Connection, title: str | None, hit: int | None, include_reasoning: bool
) -> list[str]:
    """The texts a hit was found in: its message's (`hit`), or its conversation's `title`."""
    if hit is None:
        return [title or ""]
    content, reasoning = conn.execute(
        "SELECT content, reasoning FROM messages WHERE id = ?", (hit,)
    ).fetchone()
    return [content, reasoning] if include_reasoning else [content]


def search_like(
    conn: sqlite3.Connection, search: str, limit: int, include_reasoning: bool
) -> list[ConversationSummary]:
    """Without FTS5: every word must appear somewhere in the conversation (title or a
    message); matching titles first, then the most recent, as with FTS5."""
    words = [w for w in search.split() if w]
    clauses = []
    params: list[Any] = []
    titled = " AND ".join("c.title LIKE ? ESCAPE '\\'" for _ in words)
    for word in words:
        pattern = like_pattern(word)
        text_match = "m.content LIKE ? ESCAPE '\\'"
        if include_reasoning:
            text_match = f"({text_match} OR m.reasoning LIKE ? ESCAPE '\\')"
        clauses.append(
            "(c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
            f"WHERE m.conversation_id = c.id AND {text_match}))"
        )
        params += [pattern, pattern] + ([pattern] if include_reasoning else [])
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM conversations c WHERE {' AND '.join(clauses)} "
        f"ORDER BY ({titled}) DESC, c.updated DESC, c.seq DESC LIMIT ?",
        (*params, *(like_pattern(w) for w in words), limit),
    ).fetchall()
    results = []
    first = words[0]
    for row in rows:
        summary = summary_from_row(row)
        snippet = like_snippet(summary.title or "", first)
        hit: int | None = None
        if snippet is None:
            texts = conn.execute(
                "SELECT id, content, reasoning FROM messages WHERE conversation_id = ? "
                "ORDER BY position",
                (summary.id,),
            ).fetchall()
            for message_id, content, reasoning in texts:
                for text in (content, reasoning) if include_reasoning else (content,):
                    snippet = like_snippet(text, first)
                    if snippet is not None:
                        break
                if snippet is not None:
                    hit = message_id
                    break
        results.append(replace(summary, snippet=snippet or "", hit_message_id=hit))
    return results


def like_pattern(word: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching `word` anywhere, its wildcards literal."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_snippet(text: str, word: str) -> str | None:
    at = text.lower().find(word.lower())
    if at < 0:
        return None
    start = max(0, at - _LIKE_CONTEXT)
    end = min(len(text), at + len(word) + _LIKE_CONTEXT)
    snippet = (
        ("…" if start else "")
        + text[start:at]
        + SNIPPET_START
        + text[at : at + len(word)]
        + SNIPPET_END
        + text[at + len(word) : end]
        + ("…" if end < len(text) else "")
    )
    return _one_line(snippet)


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""glmchat.db's schema versions: the forward migrations and applying them."""

from __future__ import annotations

import sqlite3

# The SQL pieces of migration 4's usage ledger (frozen with it: a change needs a new migration).
# An answer counts once its provider reported usage or it has a cost; its hour is when it
# finished (UTC, "2026-08-21T10"), or began if it never did; a count missing from the usage adds
# 0 to its sum (and, from migration 9, nothing to the answers that reported it).
_USAGE_ROW = "{row}.role = 'assistant' AND ({row}.usage IS NOT NULL OR {row}.cost IS NOT NULL)"
_USAGE_KEY = (
    "substr(coalesce({row}.finished, {row}.started, ''), 1, 13), {row}.conversation_id, "
    "coalesce({row}.provider, ''), coalesce({row}.model, '')"
)
_USAGE_COUNTS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
_USAGE_COUNT = (
    "coalesce(CAST(CASE WHEN json_valid({row}.usage) "
    "THEN json_extract({row}.usage, '$.{name}') END AS INTEGER), 0)"
)


# Migration 9's: whether an answer's usage holds a count (1) or not (0). A count the provider
# did not send is absent or null; only a number is a count (an import may hold anything).
_USAGE_REPORTED = (
    "coalesce(CASE WHEN json_valid({row}.usage) "
    "THEN json_type({row}.usage, '$.{name}') IN ('integer', 'real') END, 0)"
)
_REPORTED_COLUMNS = tuple(n.replace("_tokens", "_reported") for n in _USAGE_COUNTS)


# Migration 10's: an answer also counts, with its cost unknown, once it has ended with text or
# thinking but no usage (stopped, cut off, or from a server that reports none): its tokens were
# spent and billed, and the ledger said nothing of them. Its columns are among those the update
# trigger watches, so that a row counts in the ledger exactly when this rule holds for it
# (glmchat/costs.py `counts_as_answer` says the same in Python).
_ANSWER_ROW = (
    "{row}.role = 'assistant' AND ({row}.usage IS NOT NULL OR {row}.cost IS NOT NULL "
    "OR ({row}.finished IS NOT NULL AND ({row}.content != '' OR {row}.reasoning != '')))"
)
_ANSWER_COLUMNS = "usage, cost, finished, content, reasoning"


def _usage_trigger(
    name: str,
    event: str,
    *,
    add: str,
    take: str | None = None,
    reported: bool = False,
    rule: str = _USAGE_ROW,
) -> str:
    """A trigger that adds the answer `add` ("new") to usage_hours and, on an update, first
    takes back what the row `take` ("old") had added. `reported` (migration 9 on): it also
    counts the answers that reported each count, in the columns after `cost`. `rule`: which
    messages count (`_ANSWER_ROW` from migration 10 on)."""
    counts = ", ".join(_USAGE_COUNT.format(row=add, name=n) for n in _USAGE_COUNTS)
    sums = ", ".join(f"{n} = {n} + excluded.{n}" for n in _USAGE_COUNTS)
    cost = f"coalesce({add}.cost, 0)"
    if reported:
        cost += "".join(f", {_USAGE_REPORTED.format(row=add, name=n)}" for n in _USAGE_COUNTS)
        sums += "".join(f", {n} = {n} + excluded.{n}" for n in _REPORTED_COLUMNS)
    insert = f"""
        INSERT INTO usage_hours
        SELECT {_USAGE_KEY.format(row=add)}, 1, {add}.cost IS NOT NULL, {counts},
            {cost}
        WHERE {rule.format(row=add)}
        ON CONFLICT DO UPDATE SET answers = answers + 1, priced = priced + excluded.priced,
            {sums}, cost = cost + excluded.cost;
    """
    undo = ""
    if take is not None:
        key = f"(hour, conversation_id, provider, model) = ({_USAGE_KEY.format(row=take)})"
        minus = ", ".join(
            f"{n} = {n} - {_USAGE_COUNT.format(row=take, name=n)}" for n in _USAGE_COUNTS
        )
        if reported:
            minus += "".join(
                f", {column} = {column} - {_USAGE_REPORTED.format(row=take, name=n)}"
                for n, column in zip(_USAGE_COUNTS, _REPORTED_COLUMNS, strict=True)
            )
        undo = f"""
        UPDATE usage_hours SET answers = answers - 1, priced = priced - ({take}.cost IS NOT NULL),
            {minus}, cost = cost - coalesce({take}.cost, 0)
        WHERE {key} AND {rule.format(row=take)};
        DELETE FROM usage_hours WHERE {key} AND answers <= 0;
        """
    return f"""
        CREATE TRIGGER usage_hours_{name} {event}
        WHEN {rule.format(row=add)} {f"OR {rule.format(row=take)}" if take else ""}
        BEGIN {undo} {insert} END
    """


# Forward migrations: MIGRATIONS[n] takes a database from user_version n to n + 1. Never edit a
# released entry; append a new one. The full-text index is not versioned here because it depends
# on whether this SQLite has FTS5 (see `ensure_search_index`).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: conversations and messages.
    (
        """
        CREATE TABLE conversations (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            title TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            system_prompt TEXT
        )
        """,
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            usage TEXT,
            started TEXT,
            finished TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'partial', 'cancelled', 'error')),
            error TEXT,
            UNIQUE (conversation_id, position)
        )
        """,
    ),
    # 2: finish reason and timings per message; the index behind "most recent first"; a
    # key/value table for the store's own state (whether the search index is current).
    (
        "ALTER TABLE messages ADD COLUMN finish_reason TEXT",
        "ALTER TABLE messages ADD COLUMN timings TEXT",
        "CREATE INDEX conversations_updated ON conversations (updated, seq)",
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT)",
    ),
    # 3: tool calls. A `tool` role (a CHECK constraint cannot be altered, so the table is
    # rebuilt, ids kept); an assistant row's tool calls, a tool row's call id. The search
    # triggers went with the old table: marking the index stale has them made again.
    (
        """
        CREATE TABLE messages_v3 (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            model TEXT,
            provider TEXT,
            thinking INTEGER,
            usage TEXT,
            started TEXT,
            finished TEXT,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'partial', 'cancelled', 'error')),
            error TEXT,
            finish_reason TEXT,
            timings TEXT,
            tool_calls TEXT,
            tool_call_id TEXT,
            UNIQUE (conversation_id, position)
        )
        """,
        """
        INSERT INTO messages_v3 (id, conversation_id, position, role, content, reasoning, model,
            provider, thinking, usage, started, finished, status, error, finish_reason, timings)
        SELECT id, conversation_id, position, role, content, reasoning, model, provider,
            thinking, usage, started, finished, status, error, finish_reason, timings
        FROM messages
        """,
        "DROP TABLE messages",
        "ALTER TABLE messages_v3 RENAME TO messages",
        "INSERT OR REPLACE INTO store_meta VALUES ('fts', 'stale')",
    ),
    # 4: money. Each answer's cost (USD) and where the figure came from (`provider`: the
    # provider said so; `catalogue`: computed from the model's prices); OpenRouter's own cost,
    # already kept in an answer's usage, is carried over. `usage_hours` sums every answer's
    # tokens and cost per UTC hour, conversation and model, kept by triggers, so that
    # `glmchat usage` and the budget read a few thousand narrow rows instead of every
    # message. It is a ledger: deleting a message (a retry, `sessions rm`) leaves what was
    # spent on it. The prompts index counts a coding plan's prompts in its window.
    (
        "ALTER TABLE messages ADD COLUMN cost REAL",
        "ALTER TABLE messages ADD COLUMN cost_source TEXT",
        """
        UPDATE messages SET cost = json_extract(usage, '$.cost'), cost_source = 'provider'
        WHERE role = 'assistant' AND json_valid(usage)
            AND json_type(usage, '$.cost') IN ('integer', 'real')
        """,
        """
        CREATE TABLE usage_hours (
            hour TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            answers INTEGER NOT NULL,
            priced INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost REAL NOT NULL,
            PRIMARY KEY (hour, conversation_id, provider, model)
        ) WITHOUT ROWID
        """,
        f"""
        INSERT INTO usage_hours
        SELECT {_USAGE_KEY.format(row="m")}, count(*), count(m.cost),
            {", ".join(f"sum({_USAGE_COUNT.format(row='m', name=n)})" for n in _USAGE_COUNTS)},
            total(m.cost)
        FROM messages m WHERE {_USAGE_ROW.format(row="m")}
        GROUP BY 1, 2, 3, 4
        """,
        _usage_trigger("insert", "AFTER INSERT ON messages", add="new"),
        _usage_trigger(
            "update",
            "AFTER UPDATE OF usage, cost, finished ON messages",
            add="new",
            take="old",
        ),
        "CREATE INDEX messages_prompts ON messages (provider, started) WHERE role = 'user'",
    ),
    # 5: the conversation tree. Each message's parent (NULL: a root) and each conversation's
    # current leaf (the last message of the branch shown and sent). A linear conversation
    # becomes a one-branch tree: each message's parent is the one before it by position, the
    # leaf its last message. `position` stays the order of insertion (siblings sort by it).
    (
        "ALTER TABLE messages ADD COLUMN parent_id INTEGER",
        "ALTER TABLE conversations ADD COLUMN current_leaf INTEGER",
        """
        UPDATE messages SET parent_id = (
            SELECT p.id FROM messages p
            WHERE p.conversation_id = messages.conversation_id AND p.position < messages.position
            ORDER BY p.position DESC LIMIT 1
        )
        """,
        """
        UPDATE conversations SET current_leaf = (
            SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
            ORDER BY m.position DESC LIMIT 1
        )
        """,
        "CREATE INDEX messages_parent ON messages (parent_id)",
    ),
    # 6: an answer's web search results (a JSON list), which its `[ref_N]` citations name.
    ("ALTER TABLE messages ADD COLUMN web_search TEXT",),
    # 7: a conversation's unsent prompt, kept when its pane closes or the app quits (a table
    # of its own: writing a draft must not touch `updated`, the order of the conversations).
    (
        """
        CREATE TABLE drafts (
            conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            saved TEXT NOT NULL
        )
        """,
    ),
    # 8: the answers still streaming (or left so by a crash): the search indexes skip them,
    # since re-indexing a growing answer at each once-a-second save cost more than the save
    # (search_index.py), and search scans them through this index instead (a handful of rows).
    (
        "CREATE INDEX messages_in_flight ON messages (id) "
        "WHERE role = 'assistant' AND status = 'partial' AND finished IS NULL",
    ),
    # 9: a count the provider did not send is unknown, not 0. The ledger summed a missing
    # count as 0, so a sum over answers none of which reported it read 0 (cached and reasoning
    # tokens from providers that send no details). Each ledger row now also counts the answers
    # that reported each count: a sum none reported is unknown, one some did not says how many.
    # Rows already in the ledger learn it from their answers still in the database; an answer
    # deleted before (its cost stays in the ledger) is taken as one that reported nothing.
    (
        *(
            f"ALTER TABLE usage_hours ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
            for column in _REPORTED_COLUMNS
        ),
        "DROP TRIGGER usage_hours_insert",
        "DROP TRIGGER usage_hours_update",
        _usage_trigger("insert", "AFTER INSERT ON messages", add="new", reported=True),
        _usage_trigger(
            "update",
            "AFTER UPDATE OF usage, cost, finished ON messages",
            add="new",
            take="old",
            reported=True,
        ),
        f"""
        CREATE TEMP TABLE usage_reported (
            hour TEXT, conversation_id TEXT, provider TEXT, model TEXT,
            {", ".join(f"{column} INTEGER" for column in _REPORTED_COLUMNS)},
            PRIMARY KEY (hour, conversation_id, provider, model)
        )
        """,
        f"""
        INSERT INTO temp.usage_reported
        SELECT {_USAGE_KEY.format(row="m")},
            {", ".join(f"sum({_USAGE_REPORTED.format(row='m', name=n)})" for n in _USAGE_COUNTS)}
        FROM messages m WHERE {_USAGE_ROW.format(row="m")}
        GROUP BY 1, 2, 3, 4
        """,
        f"""
        UPDATE usage_hours SET ({", ".join(_REPORTED_COLUMNS)}) = (
            SELECT {", ".join(f"min(usage_hours.answers, r.{c})" for c in _REPORTED_COLUMNS)}
            FROM temp.usage_reported r
            WHERE (r.hour, r.conversation_id, r.provider, r.model)
                = (usage_hours.hour, usage_hours.conversation_id, usage_hours.provider,
                    usage_hours.model)
        )
        WHERE (hour, conversation_id, provider, model) IN (
            SELECT hour, conversation_id, provider, model FROM temp.usage_reported
        )
        """,
        "DROP TABLE temp.usage_reported",
    ),
    # 10: an answer that ended with text or thinking but no usage counts too, its cost unknown
    # (`_ANSWER_ROW`): stopped with escape, cut off, or from a server that sends no usage.
    # Left out, a conversation's or a day's total read as complete (no `>=`, no null) and the
    # usage report did not say that any answer was missing from it. Those already saved join
    # the ledger: one answer each, no count reported, no cost.
    (
        "DROP TRIGGER usage_hours_insert",
        "DROP TRIGGER usage_hours_update",
        _usage_trigger(
            "insert", "AFTER INSERT ON messages", add="new", reported=True, rule=_ANSWER_ROW
        ),
        _usage_trigger(
            "update",
            f"AFTER UPDATE OF {_ANSWER_COLUMNS} ON messages",
            add="new",
            take="old",
            reported=True,
            rule=_ANSWER_ROW,
        ),
        f"""
        INSERT INTO usage_hours
        SELECT {_USAGE_KEY.format(row="m")}, count(*), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        FROM messages m
        WHERE {_ANSWER_ROW.format(row="m")} AND NOT ({_USAGE_ROW.format(row="m")})
        GROUP BY 1, 2, 3, 4
        ON CONFLICT DO UPDATE SET answers = answers + excluded.answers
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the pending migrations up to `target` in one transaction; returns the version."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
        return target  # the common case takes no write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number in range(version, target):
            for statement in MIGRATIONS[number]:
                conn.execute(statement)
        if target > version:
            conn.execute(f"PRAGMA user_version = {int(target)}")
            version = target
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version

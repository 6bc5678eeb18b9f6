"""Search inside unspaced text: Chinese, Japanese, Thai and emoji are found from the middle of
a run (a word index only finds a run from its start), on both the FTS5 and the LIKE path."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmchat.store import SNIPPET_END, SNIPPET_START, SessionStore
from glmchat.store.search_index import fts5_available, trigram_available

TITLE = "中文标题非常长的会话，用来测试搜索"


@pytest.fixture(params=[True, False], ids=["fts5", "like"])
def any_store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[SessionStore]:
    s = SessionStore(db_path, use_fts=request.param)
    yield s
    s.close()


def _conversation(
    store: SessionStore, prompt: str, answer: str, reasoning: str = "", title: str | None = None
) -> str:
    cid = store.create_conversation(model="glm-4.5", provider="zai", thinking=True, title=title)
    store.add_message(cid, "user", prompt)
    mid = store.begin_assistant(cid, model="glm-4.5", provider="zai", thinking=True)
    store.finish_assistant(mid, content=answer, reasoning=reasoning, status="complete")
    return cid


def _ids(store: SessionStore, query: str, **kw: bool) -> list[str]:
    return [s.id for s in store.list_conversations(search=query, **kw)]


@pytest.mark.parametrize(
    "query", ["中文", "标题", "题", "标题非", "非常长的会话", "会话，用来", "搜索", TITLE]
)
def test_a_title_is_found_from_any_point_of_a_run(any_store: SessionStore, query: str):
    cid = _conversation(any_store, "hello", "world", title=TITLE)
    _conversation(any_store, "hello", "world", title="另一个会话标签")
    found = any_store.list_conversations(search=query)
    assert [s.id for s in found] == [cid]
    assert f"{SNIPPET_START}{query}{SNIPPET_END}" in found[0].snippet


@pytest.mark.parametrize("query", ["索", "索引", "库索引", "数据库索引的设计"])
def test_a_message_is_found_from_the_middle_with_its_hit_and_snippet(
    any_store: SessionStore, query: str
):
    cid = _conversation(any_store, "我们讨论了数据库索引的设计。", "好的", title="数据")
    _conversation(any_store, "别的问题", "别的答案", title="别的")
    found = any_store.list_conversations(search=query)
    assert [s.id for s in found] == [cid]
    assert found[0].hit_message_id is not None
    assert f"{SNIPPET_START}{query}{SNIPPET_END}" in found[0].snippet


@pytest.mark.parametrize("query", ["🎉", "🎉🎉", "🎉🎉🎉", "ty🎉", "😀"])
def test_emoji_are_searchable(any_store: SessionStore, query: str):
    cid = _conversation(any_store, "party🎉🎉🎉 time 😀", "ok", title="plain")
    _conversation(any_store, "party time", "ok", title="plain too")
    assert _ids(any_store, query) == [cid]


@pytest.mark.parametrize(("query", "text"), [("ไทย", "ภาษาไทยง่ายมาก"), ("ほん", "にほんご")])
def test_other_unspaced_scripts(any_store: SessionStore, query: str, text: str):
    cid = _conversation(any_store, text, "ok", title="x")
    assert _ids(any_store, query) == [cid]


def test_mixed_query_needs_every_word(any_store: SessionStore):
    both = _conversation(any_store, "sqlite 的索引设计", "ok", title="a")
    _conversation(any_store, "sqlite only", "ok", title="b")
    _conversation(any_store, "只有索引", "ok", title="c")
    assert _ids(any_store, "sqlite 索引") == [both]
    assert _ids(any_store, "SQLite 引设") == [both]  # case-blind for the spaced word
    assert _ids(any_store, "sqlite 不存在") == []


def test_reasoning_only_when_asked(any_store: SessionStore):
    cid = _conversation(any_store, "问题", "回答", reasoning="思考一下索引的问题")
    for query in ("索引", "一下索引"):
        assert _ids(any_store, query) == []
        assert _ids(any_store, query, include_reasoning=True) == [cid]


@pytest.mark.parametrize(("query", "wanted"), [("50%折扣", "50%折扣"), ("a_b标", "a_b标签")])
def test_wildcard_characters_are_literal(any_store: SessionStore, query: str, wanted: str):
    hit = _conversation(any_store, f"今天 {wanted} 啊", "ok", title="x")
    _conversation(any_store, "今天 50元折扣 和 axb标签 啊", "ok", title="y")
    assert _ids(any_store, query) == [hit]


def test_a_spaced_language_query_still_uses_the_word_index(store: SessionStore):
    """Words match from their start (search as you type), ranked: not from the middle."""
    whole = _conversation(store, "cats and more cats", "cats", title="felines")
    _conversation(store, "concatenate strings", "ok", title="strings")
    assert _ids(store, "cat") == [whole]
    assert f"{SNIPPET_START}cats{SNIPPET_END}" in store.list_conversations(search="cat")[0].snippet


def test_new_and_edited_rows_are_indexed(store: SessionStore):
    cid = _conversation(store, "开始", "ok", title="最初的标题")
    store.rename(cid, "后来改成的名字")
    assert _ids(store, "初的标") == []
    assert _ids(store, "改成的") == [cid]
    store.delete(cid)
    assert _ids(store, "改成的") == []


def test_a_database_indexed_by_the_previous_release_gains_substring_search(db_path: Path):
    """Made as before this index existed (every migration, the word index and its
    triggers): opening it builds the substring index over the rows already there."""
    from glmchat.store.database import ensure_search_index, migrate

    if not fts5_available():
        pytest.skip("this SQLite has no FTS5")
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    migrate(conn)
    ensure_search_index(conn, True)
    conn.execute(
        "INSERT INTO conversations (id, title, created, updated, model, provider, thinking) "
        f"VALUES ('0123456789ab', '{TITLE}', '2025-01-01T00:00:00.000Z', "
        "'2025-01-01T00:00:00.000Z', 'glm-4.5', 'zai', 1)"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content) "
        "VALUES ('0123456789ab', 0, 'user', '长城是一座很长的墙')"
    )
    conn.close()
    with SessionStore(db_path) as store:
        assert store.substring_enabled == trigram_available()
        assert _ids(store, "标题非") == ["0123456789ab"]
        assert _ids(store, "一座很长") == ["0123456789ab"]
        assert _ids(store, "座很") == ["0123456789ab"]


def test_a_spell_without_fts5_is_caught_up(db_path: Path):
    with SessionStore(db_path) as store:
        first = _conversation(store, "第一个对话里的内容", "ok", title="一")
    with SessionStore(db_path, use_fts=False) as store:
        second = _conversation(store, "第二个对话里的内容", "ok", title="二")
    with SessionStore(db_path) as store:
        assert _ids(store, "二个对话") == [second]
        assert _ids(store, "一个对话") == [first]


def test_without_the_trigram_tokenizer_substring_queries_scan(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An SQLite older than 3.34: words still go through FTS5, unspaced text through LIKE."""
    import glmchat.store.connection as connection

    monkeypatch.setattr(connection, "trigram_available", lambda: False)
    with SessionStore(db_path) as store:
        assert not store.substring_enabled
        cid = _conversation(store, "我们讨论了数据库索引的设计", "english words", title="x")
        _conversation(store, "other", "ok", title="y")
        assert _ids(store, "库索引") == [cid]
        assert _ids(store, "english") == [cid]


def test_one_and_two_character_queries_scan_only_the_newest_messages(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
):
    """No index answers a run shorter than three characters: titles are all read, messages
    only the newest SHORT_SCAN_MESSAGES (the cost stays bounded however long the history)."""
    import glmchat.store.search_substring as substring

    if not store.substring_enabled:
        pytest.skip("this SQLite has no trigram tokenizer")
    old = _conversation(store, "很旧的猫", "ok", title="旧")
    titled = _conversation(store, "hello", "ok", title="一只猫")
    new = _conversation(store, "新的猫", "ok", title="新")
    monkeypatch.setattr(substring, "SHORT_SCAN_MESSAGES", 2)
    assert set(_ids(store, "猫")) == {titled, new}
    assert _ids(store, "旧的猫") == [old]  # three characters: the index, not a scan


def test_a_spaced_word_inside_a_run_of_unspaced_text_is_found(any_store: SessionStore) -> None:
    """Found by QA: to the word index `我喜欢用Python写代码` is one word, so `Python` found
    nothing. A query of spaced words of three or more characters is answered by the word index
    first (ranked), then by the substring index for the conversations it missed."""
    store = any_store
    mixed = _conversation(store, "问题", "我喜欢用Python写代码，也用Rust。")
    japanese = _conversation(store, "質問", "この関数はJSONを返します")
    readme = _conversation(store, "看", "请看README文件")
    tail = _conversation(store, "长", "宽字符" * 40 + "tailcjk")
    spaced = _conversation(store, "english", "I write Python every day")
    assert _ids(store, "Python") == [spaced, mixed]  # the ranked hit first
    assert _ids(store, "Rust") == [mixed]
    assert _ids(store, "JSON") == [japanese]
    assert _ids(store, "readme") == [readme]  # any case, as the word index matches
    assert _ids(store, "tailcjk") == [tail]
    assert _ids(store, "Python Rust") == [mixed]  # every word, as always
    inside = _conversation(store, "词", "用concatenate写")
    if store.fts_enabled:  # (the LIKE fallback matches inside words everywhere)
        assert inside not in _ids(store, "cat")  # never from inside a spaced word
    assert _ids(store, "concatenate") == [inside]
    hit = store.list_conversations(search="JSON")[0]
    assert f"{SNIPPET_START}JSON{SNIPPET_END}" in hit.snippet

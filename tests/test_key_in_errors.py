"""A provider that quotes the API key in its error ("invalid key sk-…"): the key is masked
before the error is shown, saved with the answer, exported or printed (found by QA: it was
shown whole on stderr, in `--json`, in the database and in exports)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from glmchat import paths
from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event

ZAI_KEY = "0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp"  # Z.ai's ID.SECRET shape
ID, SECRET = ZAI_KEY.split(".")


def _everything_kept() -> str:
    """Every text of the database: messages, errors, titles."""
    with sqlite3.connect(paths.database_path()) as db:
        rows = db.execute("SELECT * FROM messages").fetchall()
    return json.dumps(rows, ensure_ascii=False)


@pytest.mark.parametrize(
    ("reply", "quoted"),
    [
        # A refused request, the whole key quoted.
        (
            Reply(
                status=401,
                headers={"Content-Type": "application/json"},
                body=json.dumps(
                    {"error": {"code": "1000", "message": f"invalid key {ZAI_KEY}, check it"}}
                ).encode(),
            ),
            ZAI_KEY,
        ),
        # An error in the middle of the stream, quoting the secret half alone.
        (
            Reply(
                body=sse_body(
                    sse_event({"content": "partial "}),
                    {"error": {"code": "weird", "message": f"token {SECRET} expired"}},
                    done=False,
                )
            ),
            SECRET,
        ),
        # The ID half alone, in the error's raw metadata.
        (
            Reply(
                status=400,
                headers={"Content-Type": "application/json"},
                body=json.dumps(
                    {"error": {"message": "boom", "metadata": {"raw": f"for key id {ID}"}}}
                ).encode(),
            ),
            ID,
        ),
    ],
)
def test_a_key_quoted_by_the_provider_is_masked_everywhere(
    wire: WireServer, reply: Reply, quoted: str
) -> None:
    wire.reply(reply)
    proc = ask("--base-url", wire.url, "hi", env={"ZAI_API_KEY": ZAI_KEY})
    assert proc.returncode != 0
    assert quoted not in proc.stderr and "…" in proc.stderr, proc.stderr
    wire.reply(reply)
    proc = ask("--json", "--base-url", wire.url, "hi", env={"ZAI_API_KEY": ZAI_KEY})
    doc = json.loads(proc.stdout)
    assert quoted not in proc.stdout and "…" in doc["error"]["message"], doc
    kept = _everything_kept()
    assert quoted not in kept and "…" in kept

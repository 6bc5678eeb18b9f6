"""`ask --schema`: one JSON document that validates, asked for each provider's way (a forced
tool on Z.ai, response_format json_schema on OpenRouter and local servers), one repair round,
exit 1 with kind `schema` when it still fails, exit 2 for a schema that is not one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glmchat import paths
from glmchat.backend.dialects import build_body
from glmchat.backend.events import ChatRequest, Message
from glmchat.backend.providers import BUILTIN_PROVIDERS
from glmchat.engine.structured import ANSWER_TOOL, SchemaError, load_schema, plan_for
from glmchat.store import SessionStore
from tests.test_ask_cli import ask
from tests.wire_server import Reply, WireServer, sse_body, sse_event

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}
USAGE = {"prompt_tokens": 30, "completion_tokens": 10, "total_tokens": 40}


def text_reply(text: str) -> Reply:
    return Reply(
        body=sse_body(
            sse_event({"reasoning_content": "Let me think. "}),
            sse_event({"content": text}),
            sse_event({}, finish_reason="stop", usage=USAGE),
        ),
        splits=11,
    )


def tool_reply(arguments: str, *, name: str = ANSWER_TOOL, content: str = "") -> Reply:
    """Z.ai's shape: reasoning, then the whole call in one delta, finish `tool_calls`."""
    call = {
        "id": "call_1",
        "index": 0,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
    events = [sse_event({"reasoning_content": "Filling the form. "})]
    if content:
        events.append(sse_event({"content": content}))
    events += [
        sse_event({"tool_calls": [call]}),
        sse_event({"content": ""}, finish_reason="tool_calls", usage=USAGE),
    ]
    return Reply(body=sse_body(*events), splits=7)


def schema_arg() -> str:
    return json.dumps(PERSON)


# --- how each provider is asked ----------------------------------------------------------


def request(plan: Any, *, thinking: bool = True) -> ChatRequest:
    return plan.shape(ChatRequest("m", (Message("user", "q"),), thinking=thinking))


def test_zai_family_gets_a_forced_tool_whose_parameters_are_the_schema() -> None:
    for name in ("zai", "zai-coding", "bigmodel"):
        provider = BUILTIN_PROVIDERS[name]
        body = build_body(provider, request(plan_for(provider, PERSON)))
        assert "response_format" not in body  # Z.ai accepts json_schema and ignores it
        [tool] = body["tools"]
        assert tool["function"]["name"] == ANSWER_TOOL
        assert tool["function"]["parameters"] == PERSON
        assert body["tool_choice"] == {"type": "function", "function": {"name": ANSWER_TOOL}}
        assert body["thinking"] == {"type": "enabled"}  # the forced tool works with thinking


def test_zai_with_other_tools_lets_the_model_call_them_first() -> None:
    provider = BUILTIN_PROVIDERS["zai"]
    plan = plan_for(provider, PERSON, other_tools=[ANSWER_TOOL, "list_dir"])
    assert plan.answer_tool != ANSWER_TOOL  # never one of the user's tools
    body = build_body(provider, request(plan))
    assert body["tool_choice"] == "auto"
    assert plan.answer_tool in body["messages"][0]["content"]  # told to call it


def test_a_schema_that_is_not_an_object_rides_wrapped_in_the_tool() -> None:
    provider = BUILTIN_PROVIDERS["zai"]
    schema = {"$defs": {"n": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/n"}}
    plan = plan_for(provider, schema)
    params = build_body(provider, request(plan))["tools"][0]["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["value"]
    assert params["$defs"] == schema["$defs"]  # where the inner $ref looks
    assert plan.check('{"value": [1, 2]}') == ([1, 2], [])
    assert plan.check("[3]") == ([3], [])  # an answer written as text is read too


def test_openrouter_gets_json_schema_routed_to_endpoints_that_honour_it() -> None:
    provider = BUILTIN_PROVIDERS["openrouter"]
    body = build_body(provider, request(plan_for(provider, PERSON)))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": PERSON},
    }
    assert body["provider"] == {"require_parameters": True}
    assert body["reasoning"] == {"enabled": True}
    assert "tools" not in body


@pytest.mark.parametrize("name", ["openai", "ollama"])
def test_local_servers_get_json_schema_with_thinking_off(name: str) -> None:
    provider = BUILTIN_PROVIDERS[name]
    body = build_body(provider, request(plan_for(provider, PERSON)))
    assert body["response_format"]["json_schema"]["schema"] == PERSON
    assert "provider" not in body
    off = {"chat_template_kwargs": {"enable_thinking": False}, "reasoning_effort": "none"}
    key = "chat_template_kwargs" if name == "openai" else "reasoning_effort"
    assert body[key] == off[key]  # llama.cpp's grammar breaks reasoning


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('{"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
        ('```json\n{"name": "Ada", "age": 36}\n```', {"name": "Ada", "age": 36}),
        ('Here it is:\n\n{"name": "Ada", "age": 36}\n\nAnything else?', {"name": "Ada", "age": 36}),
        ('Sure {not json} and then {"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
        # The first value that validates wins over an earlier one that does not.
        ('{"name": 1}\n{"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
    ],
)
def test_the_document_is_found_in_what_models_write(answer: str, expected: Any) -> None:
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], PERSON)
    assert plan.check(answer) == (expected, [])


def test_validation_errors_name_the_place_and_the_problem() -> None:
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], PERSON)
    document, errors = plan.check('{"name": "Ada", "age": -1, "x": 1}')
    assert document == {"name": "Ada", "age": -1, "x": 1}
    assert errors == ["$.age: -1 is less than the minimum of 0"]
    assert sorted(plan.check('{"age": "old"}')[1]) == [
        "$.age: 'old' is not of type 'integer'",
        "$: 'name' is a required property",
    ]
    assert plan.check("")[1] == ["the answer is empty: no JSON document"]
    assert plan.check("I cannot do that.")[1][0].startswith("the answer is not a JSON document")
    prompt = plan.repair_prompt(errors)
    assert "$.age: -1 is less than the minimum of 0" in prompt and '"minimum": 0' in prompt


def test_load_schema_from_a_file_or_inline(tmp_path: Path) -> None:
    path = tmp_path / "person.json"
    path.write_text(json.dumps(PERSON))
    assert load_schema(str(path)) == PERSON
    assert load_schema(json.dumps(PERSON)) == PERSON
    assert load_schema("true") is True


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ('{"type": "object",', "is not valid JSON"),
        ('{"type": "strin"}', "is not a valid JSON Schema"),
        ('{"properties": {"a": {"minimum": "zero"}}}', "(at $.properties.a.minimum)"),
        ("[1, 2]", "must be an object"),
        ("no/such/schema.json", "no such file"),
    ],
)
def test_a_bad_schema_is_one_clear_line(source: str, says: str) -> None:
    with pytest.raises(SchemaError) as caught:
        load_schema(source)
    message = str(caught.value)
    assert says in message and "\n" not in message


# --- through `glmchat ask` ----------------------------------------------------------------


def test_zai_forced_tool_path_prints_the_document(wire: WireServer) -> None:
    wire.reply(tool_reply('{"name": "Ada", "age": 36}'))
    proc = ask("--no-save", "--schema", schema_arg(), "--base-url", wire.url, "Who was Ada?")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"name": "Ada", "age": 36}
    assert proc.stderr == ""  # no "the model asked for tools" note: the call was the answer
    body = wire.requests[0].json
    assert body["tool_choice"]["function"]["name"] == ANSWER_TOOL
    assert body["tools"][0]["function"]["parameters"] == PERSON
    assert len(wire.requests) == 1


def test_zai_forced_tool_json_result(wire: WireServer) -> None:
    wire.reply(tool_reply('{"name": "Ada", "age": 36}', content="Here you go."))
    proc = ask("--json", "--schema", schema_arg(), "--base-url", wire.url, "Who was Ada?")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert json.loads(doc["content"]) == {"name": "Ada", "age": 36}
    assert doc["error"] is None and doc["finish_reason"] == "stop"
    assert "tool_calls" not in doc  # the answer tool is not a tool call the user made
    # Saved as an answer whose text is the document, so a continued conversation sends it.
    stored = SessionStore(paths.database_path()).get_conversation(doc["session_id"])
    answer = stored.messages[-1]
    assert (answer.role, answer.status) == ("assistant", "complete")
    assert answer.content == "Here you go.\n\n" + '{"name": "Ada", "age": 36}'
    assert not answer.tool_calls


def test_openrouter_json_schema_path(wire: WireServer) -> None:
    wire.reply(text_reply('```json\n{"name": "Ada", "age": 36}\n```'))
    proc = ask(
        "--no-save",
        "-m",
        "openrouter/z-ai/glm-4.6",
        "--schema",
        schema_arg(),
        "--base-url",
        wire.url,
        "Who was Ada?",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"name": "Ada", "age": 36}
    body = wire.requests[0].json
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == PERSON
    assert body["provider"]["require_parameters"] is True


def test_a_repair_round_that_succeeds(wire: WireServer) -> None:
    wire.reply(
        tool_reply('{"name": "Ada", "age": "thirty-six"}'),
        tool_reply('{"name": "Ada", "age": 36}'),
    )
    proc = ask("--json", "--schema", schema_arg(), "--base-url", wire.url, "Who was Ada?")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert json.loads(doc["content"]) == {"name": "Ada", "age": 36}
    assert doc["usage"]["prompt_tokens"] == 60  # both rounds
    assert proc.stderr == ""
    repair = wire.requests[1].json["messages"]
    # The model sees its own answer and what was wrong with it.
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == '{"name": "Ada", "age": "thirty-six"}'
    assert "$.age: 'thirty-six' is not of type 'integer'" in repair[3]["content"]
    assert wire.requests[1].json["tool_choice"]["function"]["name"] == ANSWER_TOOL


def test_a_repair_round_that_fails_exits_1_with_kind_schema(wire: WireServer) -> None:
    wire.reply(text_reply('{"name": "Ada"}'), text_reply("Sorry, I do not know her age."))
    args = ("-m", "openrouter/z-ai/glm-4.6", "--schema", schema_arg(), "--base-url", wire.url)
    proc = ask("--no-save", "--json", *args, "Who was Ada?")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["error"]["kind"] == "schema"
    assert doc["error"]["errors"][0].startswith("the answer is not a JSON document")
    assert doc["content"] == "Sorry, I do not know her age."  # what the model said, kept
    [line] = proc.stderr.splitlines()
    assert "does not match the schema" in line
    assert len(wire.requests) == 2  # one repair round, no more

    wire.reply(text_reply('{"name": "Ada"}'), text_reply('{"age": 3}'))
    plain = ask("--no-save", *args, "Who was Ada?")
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.count("\n") == 1
    assert "$: 'name' is a required property" in plain.stderr


@pytest.mark.parametrize(
    "schema",
    ['{"type": "object",', '{"type": "strin"}', "missing-schema.json"],
)
def test_an_invalid_schema_exits_2_before_anything_is_sent(wire: WireServer, schema: str) -> None:
    proc = ask("--no-save", "--schema", schema, "--base-url", wire.url, "q")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and "--schema" in proc.stderr
    assert wire.requests == []


def test_schema_with_tools_on_zai_lets_the_model_use_them_first(
    wire: WireServer, tmp_path: Path
) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "ada.txt").write_text("Ada, 36\n")
    config = paths.config_path()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[tools]\nbuiltin = ["list_dir"]\nallowed_dirs = [{json.dumps(str(root))}]\n'
    )
    wire.reply(
        tool_reply(json.dumps({"path": str(root)}), name="list_dir"),
        tool_reply('{"name": "Ada", "age": 36}'),
    )
    proc = ask(
        "--json", "--no-save", "--yes", "--schema", schema_arg(), "--base-url", wire.url, "q"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert json.loads(doc["content"]) == {"name": "Ada", "age": 36}
    [call] = doc["tool_calls"]  # the user's tool; the answer tool is not listed
    assert (call["name"], call["status"]) == ("list_dir", "ok")
    first = wire.requests[0].json
    assert first["tool_choice"] == "auto"  # not forced: list_dir may come first
    assert [t["function"]["name"] for t in first["tools"]] == ["list_dir", ANSWER_TOOL]
    assert "ada.txt" in wire.requests[1].json["messages"][-1]["content"]


def test_ask_loads_the_validator_and_the_mcp_sdk_only_when_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, glmchat.cli.ask, glmchat.engine.structured\n"
        "print(sorted(m for m in ('jsonschema', 'mcp', 'textual') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

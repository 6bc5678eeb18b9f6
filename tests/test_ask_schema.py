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


# --- $ref: only references inside the schema, checked before anything is sent -------------

NOT_FOLLOWED = "does not resolve (only references inside the schema are followed)"


def a_schema_reply() -> Reply:
    """What a server would answer for a schema it holds: retrieving it must never happen."""
    return Reply(body=json.dumps(PERSON).encode(), headers={"Content-Type": "application/json"})


def refs_that_do_not_resolve(url: str, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Each case a schema with a `$ref` that does not resolve inside it. The file, the relative
    file and the URL exist and hold a schema, so only refusing to retrieve them passes."""
    (tmp_path / "other.json").write_text(json.dumps(PERSON))
    return {
        "pointer to nowhere": {"$ref": "#/definitions/nope"},
        "anchor to nowhere": {"$ref": "#nope"},
        "remote http": {"$ref": f"{url}/schema.json"},
        "file": {"$ref": (tmp_path / "other.json").as_uri()},
        "relative": {"$ref": "other.json"},
        "dynamic": {"$dynamicRef": "other.json#meta"},
        "deep": {
            "$defs": {"n": {"type": "integer"}},
            "type": "object",
            "properties": {
                "a": {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/n"}, {"$ref": "#/x"}]}}
            },
        },
    }


@pytest.mark.parametrize(
    "case",
    [
        "pointer to nowhere",
        "anchor to nowhere",
        "remote http",
        "file",
        "relative",
        "dynamic",
        "deep",
    ],
)
def test_a_ref_that_does_not_resolve_inside_the_schema_is_refused_on_load(
    wire: WireServer, tmp_path: Path, case: str
) -> None:
    wire.reply(a_schema_reply())
    schema = refs_that_do_not_resolve(wire.url, tmp_path)[case]
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    for source in (json.dumps(schema), str(tmp_path / "schema.json")):
        with pytest.raises(SchemaError) as caught:
            load_schema(source, cwd=tmp_path)
        message = str(caught.value)
        assert "is not a valid JSON Schema: $" in message and NOT_FOLLOWED in message, message
        assert "\n" not in message
    assert wire.requests == []  # nothing fetched


def test_a_refused_ref_names_itself_and_where_it_is(tmp_path: Path) -> None:
    schema = refs_that_do_not_resolve("http://127.0.0.1:1", tmp_path)["deep"]
    with pytest.raises(SchemaError) as caught:
        load_schema(json.dumps(schema))
    assert str(caught.value) == (
        "--schema (inline) is not a valid JSON Schema: $ref '#/x' at "
        f"$.properties.a.items.anyOf[1] {NOT_FOLLOWED}"
    )


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        # A ref that resolves to something that is not a schema would crash the validator.
        ({"required": ["a"], "$ref": "#/required"}, "$ref '#/required' at $ does not point to a"),
        # A ref into a place the metaschema does not check (a `const`) gets checked.
        ({"const": {"type": "nonsense"}, "$ref": "#/const"}, "(at $.const.type)"),
        ({"const": {"$ref": "#/nope"}, "$ref": "#/const"}, "$ref '#/nope' at $.const"),
    ],
)
def test_a_ref_must_reach_a_valid_schema(schema: dict[str, Any], says: str) -> None:
    with pytest.raises(SchemaError) as caught:
        load_schema(json.dumps(schema))
    assert says in str(caught.value) and "is not a valid JSON Schema" in str(caught.value)


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"age": {"type": "integer", "minimum": 0}}, "$ref": "#/$defs/age"},
        {"definitions": {"age": {"type": "integer", "minimum": 0}}, "$ref": "#/definitions/age"},
        {"$defs": {"age": {"$anchor": "age", "type": "integer", "minimum": 0}}, "$ref": "#age"},
        # Looks remote, but an embedded resource has that URI: nothing is fetched.
        {
            "$id": "https://example.com/root.json",
            "$defs": {"age": {"$id": "age.json", "type": "integer", "minimum": 0}},
            "$ref": "age.json",
        },
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"age": {"type": "integer", "minimum": 0}},
            "$ref": "#/definitions/age",
        },
    ],
)
def test_refs_inside_the_schema_keep_working_with_their_validation(schema: dict[str, Any]) -> None:
    assert load_schema(json.dumps(schema)) == schema
    for name in ("zai", "openrouter"):
        plan = plan_for(BUILTIN_PROVIDERS[name], schema)
        assert plan.check("36") == (36, [])
        assert plan.check("-1")[1] == ["$: -1 is less than the minimum of 0"]


def test_a_recursive_schema_and_ref_lookalikes_load() -> None:
    tree = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["name"],
    }
    assert load_schema(json.dumps(tree)) == tree
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], tree)
    document = {"name": "a", "children": [{"name": "b", "children": []}]}
    assert plan.check(json.dumps(document)) == (document, [])
    assert plan.check('{"name": "a", "children": [{}]}')[1] == [
        "$.children[0]: 'name' is a required property"
    ]
    # A property called "$ref" and a `$ref` inside a value are not references.
    lookalikes = {
        "type": "object",
        "properties": {"$ref": {"type": "string"}},
        "const": {"$ref": "http://127.0.0.1:1/x"},
        "examples": [{"$ref": "#/nowhere"}],
    }
    assert load_schema(json.dumps(lookalikes)) == lookalikes


@pytest.mark.parametrize("case", ["pointer to nowhere", "remote http", "file", "relative", "deep"])
@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_ask_refuses_a_ref_that_does_not_resolve_before_anything_is_sent(
    wire: WireServer, tmp_path: Path, case: str, json_flag: tuple[str, ...]
) -> None:
    wire.reply(a_schema_reply())
    schema = json.dumps(refs_that_do_not_resolve(wire.url, tmp_path)[case])
    proc = ask("--no-save", *json_flag, "--schema", schema, "--base-url", wire.url, "q")
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("glmchat: --schema (inline) is not a valid JSON Schema: $ref ")
    assert NOT_FOLLOWED in line and "unexpected" not in line
    assert wire.requests == []  # neither the chat request nor the ref


CYCLE = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}


def test_a_schema_that_fails_while_checking_an_answer_is_a_schema_error() -> None:
    # Every ref resolves, but they go round in a circle: the validator cannot finish.
    assert load_schema(json.dumps(CYCLE)) == CYCLE
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], CYCLE)
    document, [error] = plan.check('{"name": "Ada"}')
    assert error.startswith("$: the schema cannot be applied to the answer (RecursionError")
    assert "\n" not in error


def test_ask_with_a_schema_that_cannot_be_applied_ends_as_kind_schema(wire: WireServer) -> None:
    wire.reply(tool_reply('{"value": 1}'), tool_reply('{"value": 1}'))
    args = ("--no-save", "--schema", json.dumps(CYCLE), "--base-url", wire.url, "q")
    proc = ask("--json", *args)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)  # the one JSON object, never an empty stdout
    assert doc["error"]["kind"] == "schema"
    assert doc["error"]["errors"][0].startswith("$: the schema cannot be applied to the answer")
    [line] = proc.stderr.splitlines()
    assert "the schema cannot be applied" in line and "unexpected" not in line

    wire.reply(tool_reply('{"value": 1}'), tool_reply('{"value": 1}'))
    plain = ask(*args)
    assert plain.returncode == 1 and plain.stdout == ""
    assert "the schema cannot be applied" in plain.stderr and plain.stderr.count("\n") == 1


# --- an empty --schema -------------------------------------------------------------------

EMPTY = "--schema is empty: give a JSON Schema file or inline JSON"


@pytest.mark.parametrize("source", ["", "   ", "\n\t"])
def test_an_empty_schema_says_so(wire: WireServer, source: str) -> None:
    with pytest.raises(SchemaError, match=EMPTY):
        load_schema(source)
    proc = ask("--no-save", "--schema", source, "--base-url", wire.url, "q")
    assert proc.returncode == 2
    assert proc.stderr == f"glmchat: {EMPTY}\n"
    assert wire.requests == []


def test_an_empty_schema_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("\n")
    with pytest.raises(SchemaError) as caught:
        load_schema("empty.json", cwd=tmp_path)
    assert str(caught.value) == "--schema 'empty.json' is empty: the file holds no JSON Schema"

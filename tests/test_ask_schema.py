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
from glmchat.engine.structured import (
    ANSWER_TOOL,
    SchemaError,
    SchemaNotApplicable,
    load_schema,
    plan_for,
)
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
LOOPS = "loops back to itself without reaching a value (it could never be checked)"
DRAFT7 = "http://json-schema.org/draft-07/schema#"

# Each a schema whose applicators come back to a subschema at the same place in the answer
# without looking inside it: the validator would recurse without end on any answer. With the
# ref the message names and where it is.
LOOPING: dict[str, tuple[Any, str]] = {
    "two $defs": (CYCLE, "$ref '#/$defs/a' at $.$defs.b"),
    "the root": ({"$ref": "#"}, "$ref '#' at $"),
    "a loop of three": (
        {
            "$defs": {
                "a": {"$ref": "#/$defs/b"},
                "b": {"$ref": "#/$defs/c"},
                "c": {"type": "object", "allOf": [{"$ref": "#/$defs/a"}]},
            },
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/a"}},  # reached under a property
        },
        "$ref '#/$defs/a' at $.$defs.c.allOf[0]",
    ),
    "allOf": ({"type": "object", "allOf": [{"$ref": "#"}]}, "$ref '#' at $.allOf[0]"),
    "anyOf": ({"anyOf": [{"type": "string"}, {"$ref": "#"}]}, "$ref '#' at $.anyOf[1]"),
    "oneOf in $defs": (
        {"$defs": {"x": {"oneOf": [{"$ref": "#/$defs/x"}]}}, "$ref": "#/$defs/x"},
        "$ref '#/$defs/x' at $.$defs.x.oneOf[0]",
    ),
    "not": ({"not": {"$ref": "#"}}, "$ref '#' at $.not"),
    "if": ({"if": {"$ref": "#"}, "then": {"type": "string"}}, "$ref '#' at $.if"),
    "then": ({"if": {"type": "string"}, "then": {"$ref": "#"}}, "$ref '#' at $.then"),
    "else": ({"if": {"type": "string"}, "else": {"$ref": "#"}}, "$ref '#' at $.else"),
    "dependentSchemas": (
        {"dependentSchemas": {"a": {"$ref": "#"}}},
        "$ref '#' at $.dependentSchemas.a",
    ),
    "a ref into an allOf": (
        {"$defs": {"x": {"allOf": [{"$ref": "#/$defs/x"}]}}, "$ref": "#/$defs/x/allOf/0"},
        "$ref '#/$defs/x' at $.$defs.x.allOf[0]",
    ),
    "$dynamicRef": ({"$dynamicAnchor": "n", "$dynamicRef": "#n"}, "$dynamicRef '#n' at $"),
    "$recursiveRef": (
        {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$recursiveAnchor": True,
            "anyOf": [{"$recursiveRef": "#"}],
        },
        "$recursiveRef '#' at $.anyOf[0]",
    ),
    "draft-07 definitions": (
        {
            "$schema": DRAFT7,
            "definitions": {"a": {"$ref": "#/definitions/a"}},
            "$ref": "#/definitions/a",
        },
        "$ref '#/definitions/a' at $.definitions.a",
    ),
    "draft-04 dependencies": (
        {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "dependencies": {"a": {"$ref": "#"}},
        },
        "$ref '#' at $.dependencies.a",
    ),
}


@pytest.mark.parametrize("case", list(LOOPING))
def test_a_schema_whose_refs_loop_in_place_is_refused_at_load(case: str) -> None:
    schema, where = LOOPING[case]
    with pytest.raises(SchemaError) as caught:
        load_schema(json.dumps(schema))
    assert str(caught.value) == f"--schema (inline) is not a valid JSON Schema: {where} {LOOPS}"


@pytest.mark.parametrize("case", ["two $defs", "the root", "a loop of three", "anyOf", "if"])
@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_ask_refuses_a_looping_schema_before_anything_is_sent(
    wire: WireServer, tmp_path: Path, case: str, json_flag: tuple[str, ...]
) -> None:
    schema, where = LOOPING[case]
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(schema))
    for source, named in ((json.dumps(schema), "(inline)"), (str(path), repr(str(path)))):
        proc = ask("--no-save", *json_flag, "--schema", source, "--base-url", wire.url, "q")
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr == (
            f"glmchat: --schema {named} is not a valid JSON Schema: {where} {LOOPS}\n"
        )
    assert wire.requests == []


def tree(children: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": children},
        "required": ["name"],
    }


NODE = {"$defs": {"node": tree({"type": "array", "items": {"$ref": "#/$defs/node"}})}}
# Recursion that looks inside the value goes one level deeper each turn, and the answer ends.
RECURSIVE: dict[str, Any] = {
    "items": tree({"type": "array", "items": {"$ref": "#"}}),
    "properties": tree({"type": "object", "additionalProperties": {"$ref": "#"}}),
    "$defs under items": {**NODE, "$ref": "#/$defs/node"},
    "$defs under a property": {
        **NODE,
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "required": ["root"],
    },
    "prefixItems": tree({"type": "array", "prefixItems": [{"$ref": "#"}], "items": False}),
    "a loop in allOf under items": tree(
        {"type": "array", "items": {"allOf": [{"$ref": "#"}, {"type": "object"}]}}
    ),
    # Never applied: an unused definition, a `then` without `if`, a draft-07 `$ref`'s sibling.
    "an unused self-ref": {
        **tree({"type": "array", "items": {"$ref": "#"}}),
        "$defs": {"x": {"$ref": "#/$defs/x"}},
    },
    "then without if": {**tree({"type": "array", "items": {"$ref": "#"}}), "then": {"$ref": "#"}},
    "draft-07 sibling of $ref": {
        "$schema": DRAFT7,
        "definitions": {"node": tree({"type": "array", "items": {"$ref": "#"}})},
        "$ref": "#/definitions/node",
        "allOf": [{"$ref": "#"}],
    },
}


def three_levels(case: str, leaf: dict[str, Any]) -> Any:
    """A document of `case`'s shape: a, its child b, and b's child `leaf`."""

    def node(name: str, *kids: Any) -> dict[str, Any]:
        listed = {f"k{i}": k for i, k in enumerate(kids)} if case == "properties" else list(kids)
        return {"name": name, "children": listed}

    document = node("a", node("b", leaf))
    return {"root": document} if case == "$defs under a property" else document


@pytest.mark.parametrize("case", list(RECURSIVE))
def test_recursive_tree_schemas_load_and_validate_at_every_level(case: str) -> None:
    schema = RECURSIVE[case]
    assert load_schema(json.dumps(schema)) == schema
    empty: Any = {} if case == "properties" else []
    good = three_levels(case, {"name": "c", "children": empty})
    bad = three_levels(case, {"children": empty})  # the third level has no name
    for name in ("zai", "openrouter"):
        plan = plan_for(BUILTIN_PROVIDERS[name], schema)
        assert plan.check(json.dumps(good)) == (good, [])
        _, errors = plan.check(json.dumps(bad))
        assert len(errors) == 1 and errors[0].endswith(": 'name' is a required property")
        assert errors[0].count("children") == 2  # found two levels down


def deep_answer(depth: int) -> str:
    return '{"name": "a", "children": [' * depth + '{"name": "z"}' + "]}" * depth


def test_a_schema_that_cannot_be_applied_to_an_answer_says_why_in_words() -> None:
    # Loops are refused at load; an answer nested deeper than Python recurses is left.
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], RECURSIVE["items"])
    with pytest.raises(SchemaNotApplicable) as caught:
        plan.check(deep_answer(3000))
    message = str(caught.value)
    assert message.startswith("the schema cannot be applied to the answer: checking it never")
    assert "Error" not in message and "\n" not in message
    assert plan.check(deep_answer(20))[1] == []  # a sensible depth is checked


def test_an_answer_nested_deeper_than_the_json_decoder_goes_is_not_a_crash() -> None:
    plan = plan_for(BUILTIN_PROVIDERS["openrouter"], {"type": "array"})
    # The whole answer is too deep to decode; an inner value that is not is a document.
    document, errors = plan.check("[" * 10**5 + "]" * 10**5)
    assert isinstance(document, list) and errors == []
    unclosed = "[" * 5000
    assert plan.check(unclosed) == (None, ["the answer is nested too deeply to be read as JSON"])


def test_ask_with_a_schema_that_cannot_be_applied_sends_no_repair_round(
    wire: WireServer,
) -> None:
    schema = json.dumps(RECURSIVE["items"])
    wire.reply(tool_reply(deep_answer(3000)), tool_reply('{"name": "a"}'))
    args = ("--no-save", "--schema", schema, "--base-url", wire.url, "q")
    proc = ask("--json", *args)
    assert proc.returncode == 1, proc.stderr
    assert len(wire.requests) == 1  # a repair could not help: not sent, not paid for
    doc = json.loads(proc.stdout)  # the one JSON object, never an empty stdout
    assert doc["error"]["kind"] == "schema"
    [error] = doc["error"]["errors"]
    assert error.startswith("$: the schema cannot be applied to the answer: ")
    [line] = proc.stderr.splitlines()
    assert line.startswith("glmchat: the schema cannot be applied to the answer: checking it")
    assert "Error" not in line and "repair" not in line and "unexpected" not in line

    wire.requests.clear()
    wire.replies.clear()
    wire.reply(tool_reply(deep_answer(3000)), tool_reply('{"name": "a"}'))
    plain = ask(*args)
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr == line + "\n"
    assert len(wire.requests) == 1


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

"""Structured output: asking each provider for a JSON document in the way it really supports,
finding the document in the answer, validating it against a JSON Schema, and the repair prompt.

How to ask (wire/TOOLS.md sections 4 and 8.12):
- the Z.ai family accepts `response_format: json_schema` and ignores it, so the schema becomes
  the parameters of one function tool the model is made to call; its arguments are the answer;
- OpenRouter takes `response_format: json_schema`, routed only to endpoints that honour it
  (`provider.require_parameters`, added by the dialect);
- local OpenAI-compatible servers take `response_format: json_schema`, with thinking off (on
  llama.cpp the grammar is applied from the first token and breaks the reasoning).
Whatever the provider did, the client validates (`jsonschema`, imported only when used)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmchat.engine.schema_loops import REF_KEYWORDS, find_loop
from glmchat.errors import GlmchatError

if TYPE_CHECKING:
    from glmchat.backend.events import ChatRequest
    from glmchat.backend.providers import ProviderConfig

ANSWER_TOOL = "json_answer"
_WRAP_KEY = "value"  # a schema that is not an object rides in a tool's parameters under this
_MAX_ERRORS = 20  # listed to the model and the user; more are counted
_MAX_ERROR_CHARS = 300
_MAX_CANDIDATES = 64  # places in a long answer where a document might start
_NOT_APPLICABLE = "the schema cannot be applied to the answer"


class SchemaError(GlmchatError):
    """--schema is not a readable JSON Schema (a usage error: exit 2)."""


class SchemaNotApplicable(GlmchatError):
    """The schema itself failed while an answer was checked against it: the answer is not
    at fault, and a repair round could not help."""


# --- the schema --------------------------------------------------------------------------


def load_schema(source: str, cwd: Path | None = None) -> Any:
    """The JSON Schema `source` names: a file's path, or the schema itself inline. Checked
    against its metaschema; SchemaError says what is wrong in one line."""
    text, where = _schema_text(source, cwd)
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"--schema {where} is not valid JSON ({exc})") from None
    if not isinstance(schema, dict | bool):
        raise SchemaError(
            f"--schema {where} is not a JSON Schema: it must be an object (or true/false)"
        )
    from jsonschema.exceptions import SchemaError as Invalid

    validator = _validator_class(schema)
    try:
        validator.check_schema(schema)
    except Invalid as exc:
        at = exc.json_path if exc.path else "$"
        raise SchemaError(
            f"--schema {where} is not a valid JSON Schema: {_short(exc.message)} (at {at})"
        ) from None
    _check_refs(schema, validator, where)
    return schema


def _schema_text(source: str, cwd: Path | None) -> tuple[str, str]:
    stripped = source.strip()
    if not stripped:  # Path("") is ".", a directory: say what is really wrong
        raise SchemaError("--schema is empty: give a JSON Schema file or inline JSON")
    if stripped.startswith(("{", "[")) or stripped in ("true", "false"):
        return stripped, "(inline)"
    path = Path(source).expanduser()
    if cwd is not None and not path.is_absolute():
        path = cwd / path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(
            f"--schema {source!r}: no such file, and not an inline schema (which starts with {{)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"--schema {source!r} cannot be read: {exc}") from None
    if not text.strip():
        raise SchemaError(f"--schema {source!r} is empty: the file holds no JSON Schema")
    return text, repr(source)


def _check_refs(schema: Any, validator: Any, where: str) -> None:
    """Every `$ref` the validator would follow resolves inside `schema`, to a valid schema.

    The registry holds the schema alone and retrieves nothing: a ref to a URL, a file or a
    sibling file is refused here, before the request is paid for, rather than fetched (a
    schema must not make glmchat read local files or call URLs) or failing the check of the
    answer. A ref into a place the metaschema does not look at (a `const`) is checked too."""
    from jsonschema.exceptions import SchemaError as Invalid
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import specification_with

    spec = specification_with(validator.ID_OF(validator.META_SCHEMA))
    walked: set[int] = set()
    refs: list[tuple[Any, dict[str, Any], str]] = []  # (resolver, the subschema, the keyword)

    def walk(resolver: Any, resource: Any) -> None:
        # The subschemas the specification knows (not values such as `const` or `examples`),
        # each with the base URI its `$id`s give it.
        todo = [(resolver, resource)]
        while todo:
            resolver, resource = todo.pop()
            contents = resource.contents
            walked.add(id(contents))
            if isinstance(contents, dict):
                refs.extend((resolver, contents, k) for k in REF_KEYWORDS if k in contents)
            todo.extend((resolver.in_subresource(sub), sub) for sub in resource.subresources())

    root = spec.create_resource(schema)
    walk(Registry().resolver_with_root(root), root)
    invalid = f"--schema {where} is not a valid JSON Schema"

    def said(subschema: dict[str, Any], keyword: str) -> str:
        ref = _short(str(subschema[keyword]))
        return f"{invalid}: {keyword} {ref!r} at {_json_path(schema, subschema)}"

    targets: dict[int, list[tuple[str, Any]]] = {}  # id(subschema): where its refs lead
    while refs:
        resolver, subschema, keyword = refs.pop()
        ref = subschema[keyword]
        try:
            # Not a string (older drafts' metaschemas allow that), or not a URI: no target.
            target = resolver.lookup(ref) if isinstance(ref, str) else None
        except (Unresolvable, ValueError):
            target = None
        if target is None:
            raise SchemaError(
                f"{said(subschema, keyword)} does not resolve "
                "(only references inside the schema are followed)"
            )
        contents = target.contents
        targets.setdefault(id(subschema), []).append((keyword, contents))
        if id(contents) in walked:
            continue
        if not isinstance(contents, dict | bool):
            raise SchemaError(f"{said(subschema, keyword)} does not point to a schema")
        try:
            validator.check_schema(contents)
        except Invalid as exc:
            at = _json_path(schema, contents) + exc.json_path[1:]
            raise SchemaError(f"{invalid}: {_short(exc.message)} (at {at})") from None
        walk(target.resolver, spec.create_resource(contents))
    # Drafts up to 7 apply a `$ref` alone, its siblings ignored.
    legacy = validator.ID_OF(validator.META_SCHEMA).startswith("http://json-schema.org/draft-0")
    loop = find_loop(schema, targets, keywords=validator.VALIDATORS, ref_hides_siblings=legacy)
    if loop is not None:
        raise SchemaError(
            f"{said(*loop)} loops back to itself without reaching a value "
            "(it could never be checked)"
        )


def _json_path(schema: Any, node: Any) -> str:
    """Where `node` (an object inside `schema`) is, as jsonschema writes places."""
    todo = [(schema, "$")]
    while todo:
        value, path = todo.pop()
        if value is node:
            return path
        if isinstance(value, dict):
            todo.extend((v, f"{path}.{k}") for k, v in value.items())
        elif isinstance(value, list):
            todo.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
    return "$"


def _validator_class(schema: Any) -> Any:
    from jsonschema.validators import Draft202012Validator, validator_for

    # A schema without `$schema` is read as the current draft (MCP and OpenAI use 2020-12).
    return validator_for(schema, default=Draft202012Validator)


# --- how to ask ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """How one conversation asks for a document matching `schema`, decided per provider.

    The engine applies it to every request (`shape`) and, when `answer_tool` is set, reads
    that tool's call as the answer's text instead of running it."""

    schema: Any
    method: str  # "tool" (a forced function tool) or "json_schema" (response_format)
    answer_tool: str | None = None
    wrapped: bool = False  # the schema is not an object: the tool's parameters wrap it
    thinking_off: bool = False
    force: bool = True  # name the tool in tool_choice (no other tools are offered)

    def shape(self, request: ChatRequest) -> ChatRequest:
        """`request` asking for the document."""
        if self.method == "json_schema":
            fmt = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": True, "schema": self.schema},
            }
            thinking = False if self.thinking_off else request.thinking
            return replace(request, response_format=fmt, thinking=thinking)
        assert self.answer_tool is not None
        tool = {
            "type": "function",
            "function": {
                "name": self.answer_tool,
                "description": "Give the answer: the arguments are the whole answer, one JSON "
                "document matching these parameters.",
                "parameters": self._parameters(),
            },
        }
        choice: str | dict[str, Any] = (
            {"type": "function", "function": {"name": self.answer_tool}} if self.force else "auto"
        )
        system = _join(
            request.system,
            f"Give your final answer by calling the function {self.answer_tool}; its arguments "
            "are the answer. Do not write the answer as text.",
        )
        return replace(
            request,
            tools=(*request.tools, tool),
            tool_choice=choice,
            tool_stream=True,  # a long document is not one chunk after a silence (Z.ai)
            system=system,
        )

    def _parameters(self) -> dict[str, Any]:
        schema = self.schema
        if not self.wrapped:
            return {k: v for k, v in schema.items() if k != "$schema"}
        inner = schema if isinstance(schema, dict) else {}
        # Definitions stay at the root, where the inner schema's `#/$defs/...` refs look.
        defs = {k: inner[k] for k in ("$defs", "definitions") if k in inner}
        value = {k: v for k, v in inner.items() if k not in defs and k != "$schema"}
        return {
            "type": "object",
            "properties": {_WRAP_KEY: value},
            "required": [_WRAP_KEY],
            **defs,
        }

    # --- reading the answer ------------------------------------------------------------

    def check(self, answer: str) -> tuple[Any, list[str]]:
        """The document in `answer` and what is wrong with it (no problems: it validates).
        SchemaNotApplicable when the validator itself fails on it."""
        candidates = _candidates(answer)
        if not candidates:
            return None, [_not_json(answer)]
        from referencing import Registry

        # A registry that retrieves nothing: no ref reaches past the schema (load_schema
        # refuses those; this holds for any schema given here).
        validator = _validator_class(self.schema)(self.schema, registry=Registry())
        first: tuple[Any, list[str]] | None = None
        for value in candidates:
            value = self._unwrap(value)
            try:
                errors = _errors(validator, value)
            except RecursionError:
                # load_schema refuses refs in a loop; what is left is an answer nested deeper
                # than Python recurses, under a recursive schema (or a loop it did not see).
                raise SchemaNotApplicable(
                    f"{_NOT_APPLICABLE}: checking it never reached a value (the answer is "
                    "nested too deeply for it, or its references loop)"
                ) from None
            except Exception as exc:
                # A keyword the validator cannot apply: said in one line, not a crash after
                # the request was paid for.
                why = _short(str(exc)) or "no reason given"
                raise SchemaNotApplicable(
                    f"{_NOT_APPLICABLE}: the validator failed on it ({why})"
                ) from None
            if not errors:
                return value, []
            if first is None:
                first = value, errors
        assert first is not None
        return first

    def _unwrap(self, value: Any) -> Any:
        if self.wrapped and isinstance(value, dict) and list(value) == [_WRAP_KEY]:
            return value[_WRAP_KEY]
        return value

    def repair_prompt(self, errors: Sequence[str]) -> str:
        """The user turn of the one repair round: what failed, and what to send instead."""
        listed = "\n".join(f"- {e}" for e in errors)
        how = (
            f"Call {self.answer_tool} again with the whole corrected document."
            if self.answer_tool
            else "Reply with only the whole corrected JSON document, no other text."
        )
        return (
            "Your answer does not match the required JSON Schema:\n"
            f"{listed}\n\n{how}\n\nThe schema:\n{json.dumps(self.schema, ensure_ascii=False)}"
        )


def plan_for(
    provider: ProviderConfig, schema: Any, *, other_tools: Sequence[str] = ()
) -> StructuredOutput:
    """How to ask `provider` for a document matching `schema`; `other_tools` are the wire names
    of the function tools offered beside it (the answer tool must not take one of them)."""
    if provider.dialect == "zai":
        name = ANSWER_TOOL
        n = 1
        while name in other_tools:
            n += 1
            name = f"{ANSWER_TOOL}_{n}"
        wrapped = not (isinstance(schema, dict) and schema.get("type") == "object")
        # With other tools on, the model must be free to call them first.
        return StructuredOutput(
            schema, "tool", answer_tool=name, wrapped=wrapped, force=not other_tools
        )
    # OpenRouter routes by the parameter (dialects.py adds require_parameters); local servers
    # get the grammar, with thinking off (llama.cpp, wire/TOOLS.md section 4).
    return StructuredOutput(schema, "json_schema", thinking_off=provider.dialect == "openai")


# --- finding and checking the document ---------------------------------------------------

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)
_START = re.compile(r"[{\[]")


def _candidates(answer: str) -> list[Any]:
    """JSON values the answer may be: all of it, a fenced block, or a value starting at a `{`
    or `[` inside prose; in that order, each parsed once."""
    text = answer.strip()
    found: list[Any] = []
    # RecursionError: nested deeper than the decoder goes, which is no document to check.
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        pass
    for block in _FENCE.findall(text):
        try:
            found.append(json.loads(block))
        except (ValueError, RecursionError):
            continue
    if found:
        return found
    decoder = json.JSONDecoder()
    end = -1
    for match in _START.finditer(text):
        if match.start() < end:
            continue  # inside a value already found
        if len(found) >= _MAX_CANDIDATES:
            break
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        found.append(value)
    return found


def _not_json(answer: str) -> str:
    if not answer.strip():
        return "the answer is empty: no JSON document"
    try:
        json.loads(answer)
    except ValueError as exc:
        return f"the answer is not a JSON document ({exc})"
    except RecursionError:
        return "the answer is nested too deeply to be read as JSON"
    return "the answer is not a JSON document"


def _errors(validator: Any, value: Any) -> list[str]:
    from jsonschema.exceptions import relevance

    errors = sorted(validator.iter_errors(value), key=relevance)
    out = [f"{e.json_path}: {_short(e.message)}" for e in errors[:_MAX_ERRORS]]
    if len(errors) > _MAX_ERRORS:
        out.append(f"... and {len(errors) - _MAX_ERRORS} more")
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def _join(*parts: str | None) -> str:
    return "\n\n".join(p for p in parts if p)

"""Finding a JSON Schema that can never be applied: its applicators lead back to a subschema
at the same place in the answer without descending into it (`{"$ref": "#"}`, two `$defs`
that refer to each other, an `allOf` member that refers to its parent). The validator follows
such a loop without end on any answer, so `load_schema` refuses it before anything is sent.

Recursion through a keyword that looks inside the value (`properties`, `items`...) is a tree
schema and fine: each turn goes one level deeper into the answer, which has an end."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

# The keywords that make the validator look a schema up ($recursiveRef: draft 2019-09).
REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Applied to the very value their schema is applied to (draft 3's `extends`, and `type` and
# `disallow` with schemas; `dependencies` before 2019-09).
_IN_PLACE = frozenset(
    {
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "dependentSchemas",
        "dependencies",
        "extends",
        "type",
        "disallow",
    }
)
_IF_BRANCHES = ("then", "else")  # applied only beside an `if`
_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "dependencies"})
# Values, not subschemas; and definitions, applied only where a ref leads.
_NOT_APPLIED = frozenset({"const", "enum", "examples", "default", "$defs", "definitions"})

Targets = Mapping[int, Sequence[tuple[str, Any]]]  # id(subschema): (ref keyword, its target)


def find_loop(
    root: Any, targets: Targets, *, keywords: Collection[str], ref_hides_siblings: bool
) -> tuple[dict[str, Any], str] | None:
    """The subschema and ref keyword of a loop of applicators reachable from `root`, or None.

    `targets` are where each subschema's refs lead (resolved by the caller); `keywords` are
    the ones the validator applies (its draft's); with `ref_hides_siblings` (drafts up to 7)
    a `$ref` is the only keyword of its schema that is applied."""

    def edges(node: Any) -> Iterator[tuple[Any, str, bool]]:
        # (the subschema, the keyword leading to it, applied to the same value)
        if not isinstance(node, dict):
            return
        for keyword, target in targets.get(id(node), ()):
            if keyword in keywords:  # a draft-7 schema's `$recursiveRef` is not applied
                yield target, keyword, True
        if ref_hides_siblings and "$ref" in node:
            return
        for key, value in node.items():
            if key in _NOT_APPLIED or key in REF_KEYWORDS:
                continue
            in_place = key in _IN_PLACE and key in keywords
            if key in _IF_BRANCHES:
                in_place = "if" in node and "if" in keywords
            for child in _subschemas(key, value):
                yield child, key, in_place

    reachable = _reachable(root, edges)
    state: dict[int, bool] = {}  # True: on the current path; False: no loop through it
    for start in reachable:
        if id(start) in state:
            continue
        state[id(start)] = True
        path: list[tuple[Any, Iterator[tuple[Any, str, bool]]]] = [(start, edges(start))]
        into: list[str] = []  # into[i]: the keyword leading from path[i] to path[i + 1]
        while path:
            node, todo = path[-1]
            for child, key, in_place in todo:
                if not in_place or not isinstance(child, dict):
                    continue
                seen = state.get(id(child))
                if seen:  # back on the path: a loop; one of its steps is a ref
                    at = next(i for i, (n, _) in enumerate(path) if n is child)
                    steps = [*zip((n for n, _ in path[at:-1]), into[at:], strict=True), (node, key)]
                    return next((n, k) for n, k in reversed(steps) if k in REF_KEYWORDS)
                if seen is None:
                    state[id(child)] = True
                    path.append((child, edges(child)))
                    into.append(key)
                    break
            else:
                state[id(node)] = False
                path.pop()
                if into:
                    into.pop()
    return None


def _reachable(root: Any, edges: Any) -> list[Any]:
    """The subschemas the validator may apply, from `root` (an unused definition is not)."""
    found = [root]
    seen = {id(root)}
    for node in found:  # grows while it is read
        for child, _, _ in edges(node):
            if isinstance(child, dict) and id(child) not in seen:
                seen.add(id(child))
                found.append(child)
    return found


def _subschemas(key: str, value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))
    elif isinstance(value, dict):
        if key in _MAPS:
            yield from (v for v in value.values() if isinstance(v, dict))
        else:
            yield value

"""Tool calls put together from stream deltas, whichever shape the server sends them in.

Shape A: each call whole in one delta (Z.ai without `tool_stream`, Ollama, some OpenRouter
upstreams). Shape B: a header delta (`id`, `name`, `arguments: ""`) then argument pieces by
`index` (OpenRouter via Z.AI, llama.cpp, vLLM, Z.ai with `tool_stream`). Some servers also send
a whole call again at the end, or number every whole call 0: no call may double or go missing."""

from __future__ import annotations

import json
from typing import Any

from glmchat.backend.events import ToolCall


class _Partial:
    __slots__ = ("position", "id", "name", "type", "pieces", "size")

    def __init__(self, position: int) -> None:
        self.position = position  # where the call stands in `calls()`
        self.id = ""
        self.name = ""
        self.type = ""
        self.pieces: list[str] = []
        self.size = 0  # characters in pieces


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# What one delta added to one call: its position in `calls()`, its id and name when this delta
# gave them first (else None), and the argument text appended.
Progress = tuple[int, str | None, str | None, str]


class ToolCallAccumulator:
    """Feed it each delta's `tool_calls`; `feed` says what each added, `calls()` gives the
    finished calls in order.

    Pure: no I/O. Raises ValueError (with a short reason) for a delta that is not a tool call."""

    __slots__ = ("_calls", "_by_index")

    def __init__(self) -> None:
        self._calls: list[_Partial] = []
        self._by_index: dict[int, _Partial] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def feed(self, deltas: Any) -> list[Progress]:
        """What the deltas added, one entry per delta that added anything (a whole call sent
        again adds nothing)."""
        if type(deltas) is not list:
            raise ValueError("tool_calls is not a list")
        out = []
        for delta in deltas:
            progress = self._feed_one(delta)
            if progress is not None:
                out.append(progress)
        return out

    def _feed_one(self, delta: Any) -> Progress | None:
        if type(delta) is not dict:
            raise ValueError("a tool call is not a JSON object")
        function = delta.get("function")
        if function is None:
            function = {}
        elif type(function) is not dict:
            raise ValueError("a tool call's function is not a JSON object")
        call_id = _text(delta.get("id"), "id", number_ok=True)
        name = _text(function.get("name"), "function name")
        kind = _text(delta.get("type"), "type")
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):
            # Z.ai's API description types arguments as an object; every recording sends text.
            arguments = json.dumps(arguments, ensure_ascii=False)
        else:
            arguments = _text(arguments, "arguments")
        index = delta.get("index")
        call = self._call_for(index if type(index) is int else None, call_id, name)
        added = arguments
        if arguments:
            if call.pieces and ((call_id and call_id == call.id) or (name and name == call.name)):
                # A delta that names a call already under way is either its header (no pieces
                # yet), a piece from a server that repeats the id and name on every piece, or
                # the whole call sent again: replace that, never append a second copy. Only a
                # piece that is itself a whole object (or as long as all so far) can be the
                # call again, so a plain piece costs no re-reading of the arguments so far.
                if _is_object(arguments):
                    whole = "".join(call.pieces)
                    again = arguments == whole or _is_object(whole)
                else:
                    again = len(arguments) == call.size and arguments == "".join(call.pieces)
                if again:
                    call.pieces = [arguments]
                    call.size = len(arguments)
                    added = ""
                else:
                    call.pieces.append(arguments)
                    call.size += len(arguments)
            else:
                call.pieces.append(arguments)
                call.size += len(arguments)
        # The first non-empty id, name and type win; later deltas may repeat or omit them.
        new_id = new_name = None
        if call_id and not call.id:
            call.id = new_id = call_id
        if name and not call.name:
            call.name = new_name = name
        if kind and not call.type:
            call.type = kind
        if added or new_id is not None or new_name is not None:
            return call.position, new_id, new_name, added
        return None

    def _call_for(self, index: int | None, call_id: str, name: str) -> _Partial:
        if call_id:
            # An id names its call wherever it comes back (a whole call re-sent at the end
            # may carry another index than its pieces did), unless it comes with another
            # function's name: some servers give every call the same id.
            for call in self._calls:
                if call.id == call_id and (not name or not call.name or call.name == name):
                    return call
        if index is not None:
            known = self._by_index.get(index)
            # A new id at a known index is a new call: some servers number every call 0.
            if known is not None and not (call_id and known.id):
                return known
            fresh = self._new()
            self._by_index[index] = fresh
            return fresh
        if call_id or not self._calls:
            return self._new()  # a non-streamed message lists whole calls without an index
        return self._calls[-1]  # a bare argument piece continues the call under way

    def _new(self) -> _Partial:
        call = _Partial(len(self._calls))
        self._calls.append(call)
        return call

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls in the order they began. Raises ValueError for a call with no name."""
        out = []
        taken: set[str] = set()
        for position, call in enumerate(self._calls):
            if not call.name:
                raise ValueError("a tool call has no function name")
            # A result must name its one call: a server that sent no id gets a stable one, and
            # an id another call already has is made unique (the history would be refused).
            call_id = call.id or f"call_{position}"
            if call_id in taken:
                call_id = f"{call_id}_{position}"
            taken.add(call_id)
            out.append(
                ToolCall(
                    id=call_id,
                    name=call.name,
                    arguments="".join(call.pieces),
                    type=call.type or "function",
                )
            )
        return tuple(out)


def _text(value: Any, what: str, *, number_ok: bool = False) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    if number_ok and type(value) is int:
        return str(value)  # ids are opaque; Z.ai's non-streamed ones look like numbers
    raise ValueError(f"a tool call's {what} is not text")

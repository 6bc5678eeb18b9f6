"""Tool names on the wire: ^[a-zA-Z0-9_-]{1,64}$, unique in a request, and mapped back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glmchat.tools.names import MAX_LEN, WIRE_NAME, NameMap, sanitise, wire_name


def test_sanitise_and_prefix() -> None:
    assert wire_name("read_file") == "read_file"
    assert wire_name("get.forecast", server="weather") == "weather__get_forecast"
    assert wire_name("météo du jour", server="w") == "w__m_t_o_du_jour"
    assert sanitise("") == "_"


def test_a_long_name_is_cut_with_a_hash_that_keeps_it_apart() -> None:
    a = wire_name("x" * 100 + ".one", server="srv")
    b = wire_name("x" * 100 + ".two", server="srv")
    assert len(a) == len(b) == MAX_LEN
    assert a != b and a[:50] == b[:50]
    assert WIRE_NAME.match(a) and WIRE_NAME.match(b)
    assert wire_name("x" * 100 + ".one", server="srv") == a  # the same every time


def test_names_that_sanitise_alike_stay_apart_and_map_back() -> None:
    names = NameMap()
    first = names.add("a.b", server="s")
    second = names.add("a_b", server="s")
    third = names.add("b__c", server="a")  # a__b__c ...
    fourth = names.add("c", server="a__b")  # ... and a__b__c again
    builtin = names.add("read_file")
    assert first == "s__a_b" and second != first and second.startswith("s__a_b_")
    assert third == "a__b__c" and fourth != third
    assert builtin == "read_file"
    assert names.origin(first) == ("s", "a.b")
    assert names.origin(second) == ("s", "a_b")
    assert names.origin(fourth) == ("a__b", "c")
    assert names.origin(builtin) == (None, "read_file")
    assert names.origin("nope") is None


def test_the_same_tool_listed_twice_gets_two_names() -> None:
    names = NameMap()
    assert names.add("t", server="s") != names.add("t", server="s")
    assert len(names) == 2


def test_the_same_tools_in_the_same_order_get_the_same_names() -> None:
    tools = [("s", "a.b"), ("s", "a_b"), ("s", "x" * 80), ("t", "x" * 80)]
    runs = []
    for _ in range(2):
        names = NameMap()
        runs.append([names.add(name, server=server) for server, name in tools])
    assert runs[0] == runs[1]


# Names as MCP servers send them (1-128 of A-Z a-z 0-9 _ - .), and worse (any text at all).
mcp_names = st.from_regex(r"[A-Za-z0-9_.-]{1,128}", fullmatch=True)
any_names = st.text(min_size=0, max_size=150)
server_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True)


@given(st.lists(st.tuples(st.none() | server_names, mcp_names | any_names), max_size=40))
def test_every_set_of_names_is_valid_unique_and_maps_back(
    tools: list[tuple[str | None, str]],
) -> None:
    names = NameMap()
    wires = [names.add(name, server=server) for server, name in tools]
    assert all(WIRE_NAME.match(wire) for wire in wires), wires
    assert len(set(wires)) == len(wires)
    assert [names.origin(wire) for wire in wires] == tools


@given(server_names, mcp_names)
def test_a_server_tool_is_prefixed_by_its_server_when_it_fits(server: str, name: str) -> None:
    wire = wire_name(name, server=server)
    plain = f"{server}__{sanitise(name)}"
    assert wire == plain if len(plain) <= MAX_LEN else wire.startswith(plain[:40])

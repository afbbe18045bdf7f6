"""Finding text no database can store: NUL characters and lone surrogates."""

from __future__ import annotations

import pytest

from app.inputs import find_hostile, find_hostile_in_json, hostile_reason


@pytest.mark.parametrize("text", ["a\x00b", "\udfff", "x\ud800", "\ud83d"])
def test_nul_and_lone_surrogates_are_hostile(text: str) -> None:
    assert hostile_reason(text)


@pytest.mark.parametrize("text", ["", "广播 🔔", "tab\tand\nnewline", "\\u0000", "\ufffd"])
def test_ordinary_text_is_not(text: str) -> None:
    assert hostile_reason(text) is None


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"fault": "a\\u0000b"}', "fault"),
    (b'{"playing": "\\udfff"}', "playing"),
    (b'{"playing": "\\uDBFFx"}', "playing"),
    (b'{"playing": "\xed\xbf\xbf"}', "playing"),  # UTF-8 bytes of a surrogate
    (b'{"items": [{"text": "ok"}, {"text": "\\u0000"}]}', "items.1.text"),
    (b'{"a": {"b\\u0000": 1}}', "a.b\ufffd"),
    (b'"\\u0000"', "body"),
])
def test_hostile_json_names_the_field(raw: bytes, field: str) -> None:
    found = find_hostile_in_json(raw)
    assert found is not None and found[0] == field


@pytest.mark.parametrize("raw", [
    b'{"a": "\\\\u0000"}',  # an escaped backslash: the text is backslash-u-0000
    b'{"a": "\\ud83d\\ude00"}',  # a surrogate pair is one character
    b'{"a": "\xf0\x9f\x94\x94", "b": [1, 2.5, null, true]}',
    b'{"a": "\\u0000',  # not JSON at all: the route answers that
])
def test_clean_or_broken_json_is_left_to_the_routes(raw: bytes) -> None:
    assert find_hostile_in_json(raw) is None


def test_find_hostile_walks_nested_values() -> None:
    assert find_hostile({"a": [1, {"b": "x\x00"}]}) == ("a.1.b", hostile_reason("\x00"))
    assert find_hostile({"a": [1, {"b": "x"}]}) is None

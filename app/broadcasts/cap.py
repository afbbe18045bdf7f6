"""CAP 1.2 (OASIS Common Alerting Protocol) documents → urgent-broadcast requests (pure).

``parse_cap`` reads an untrusted document safely (size limit before parsing;
defusedxml with DTDs forbidden, so no external entities and no entity-expansion
bombs), checks it against the CAP 1.2 rules and returns a ``CapAlert``; every
failure raises ``CapError`` with a reason a sender can act on.

Checked: the namespace; each element's cardinality (required, at most once) and
that it is a CAP 1.2 element; enumerations; dateTime formats; identifier and
sender free of spaces, commas, ``<`` and ``&``; ``restriction`` when scope is
Restricted and ``addresses`` when Private; ``references`` on Update, Cancel, Ack
and Error; areas, polygons, circles, geocodes and resources. Elements in other
namespaces (an XML signature, say) are ignored. Element order is not enforced:
a misordered but otherwise valid alert is unambiguous, and refusing an emergency
over it would help nobody.

Decisions the standard leaves to us:

- dateTime must carry an explicit offset (``2002-05-24T16:49:00-07:00``). CAP
  forbids ``Z``, but it is unambiguous, so it is accepted as UTC. A time with no
  offset, or with fractional seconds, is refused.
- severity Extreme/Severe/Moderate/Minor → level 1/2/3/4; Unknown → level 4, the
  gentlest level, so the alert is still heard (it waits out quiet hours).
- status Actual/Exercise/Test → mode actual/exercise/test; System and Draft are
  accepted but never broadcast. msgType Ack and Error are never broadcast either.
- of several ``<info>`` blocks, one language is played: the first whose language
  starts with ``zh``, else the first block's. Further blocks of that language that say
  the same thing (they differ only in their areas or geocode scheme) add their areas;
  blocks of that language that say something else are not played, and a warning says
  so (one alert makes one broadcast). Translations are never played. All are validated.
- the spoken text is ``headline`` + ``description`` + ``instruction``; without any of
  them (and no audio), the ``event`` is spoken.
- whether the document can be acted on (an ``<info>`` to play, a target among our
  villages) is not the parser's business: it is valid CAP either way, and the caller
  answers 422, not 400 (``app.broadcasts.flows``).
- audio is only taken inline (``derefUri``); a ``uri`` is never fetched. A ``digest``
  (SHA-1, hex or base64) or ``size`` that does not match the decoded audio is a
  *warning*, not a refusal: IPAWS re-encodes audio and leaves both as they were.
- what CAP 1.2 allows is accepted: an empty ``<value/>`` in a parameter, eventCode or
  geocode, misordered elements. Stray text between elements (an XSD error, harmless)
  is ignored with a warning. Elements in the CAP namespace that CAP does not define are
  refused: they are usually misspelt CAP elements (``<Polygon>``), and ignoring one
  could silently drop the alert's target.
- CAP 1.0 and 1.1 documents are refused (400) with a clear "unsupported version".
- at most ``MAX_POLYGON_POINTS`` (200,000) polygon points and ``MAX_SHAPES`` (1,000)
  polygons and circles in a document: the largest real alert known has one polygon of
  41,009 points, and matching speakers against the shapes must stay cheap.
- a document declaring a character set expat lacks (GB2312, GBK, GB18030, Big5)
  is decoded by Python first, so Chinese senders need not switch to UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as safe_xml

from app.broadcasts.geo import Circle, Polygon, point_in_circle, point_in_polygon

__all__ = [
    "CAP_NAMESPACE",
    "DEFAULT_MAX_AUDIO_BYTES",
    "DEFAULT_MAX_CAP_BYTES",
    "MAX_POLYGON_POINTS",
    "MAX_SHAPES",
    "CapAlert",
    "CapAudio",
    "CapError",
    "CapReference",
    "area_contains",
    "fitted_text",
    "parse_cap",
    "parse_cap_datetime",
    "spoken_text",
]

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
OLDER_CAP_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.1": "CAP 1.1",
    "http://www.incident.com/cap/1.0": "CAP 1.0",
}
MAX_WARNINGS = 20
DEFAULT_MAX_CAP_BYTES = 1024 * 1024
DEFAULT_MAX_AUDIO_BYTES = 1024 * 1024
# A real alert's polygons hold up to ~41,000 points (Burkina Faso's national outline).
MAX_POLYGON_POINTS = 200_000
MAX_SHAPES = 1_000

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = (
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire",
    "Health", "Env", "Transport", "Infra", "CBRNE", "Other",
)  # fmt: skip
RESPONSE_TYPES = (
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid",
    "Monitor", "Assess", "AllClear", "None",
)  # fmt: skip
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

LEVEL_BY_SEVERITY = {"Extreme": 1, "Severe": 2, "Moderate": 3, "Minor": 4, "Unknown": 4}
MODE_BY_STATUS = {"Actual": "actual", "Exercise": "exercise", "Test": "test"}
ACTED_ON_MSG_TYPES = ("Alert", "Update", "Cancel")
NEEDS_REFERENCES = ("Update", "Cancel", "Ack", "Error")
AREA_CODE_VALUE_NAME = "areacode"
# China's CAP profile (CMA, 12379): 12-digit GB/T 2260-based administrative division codes.
DIVISION_CODE_VALUE_NAMES = ("cpeas geographic code",)

# (least, most) occurrences of each child; None means unbounded.
_Cardinality = dict[str, tuple[int, int | None]]
ALERT_CHILDREN: _Cardinality = {
    "identifier": (1, 1), "sender": (1, 1), "sent": (1, 1), "status": (1, 1),
    "msgType": (1, 1), "source": (0, 1), "scope": (1, 1), "restriction": (0, 1),
    "addresses": (0, 1), "code": (0, None), "note": (0, 1), "references": (0, 1),
    "incidents": (0, 1), "info": (0, None),
}  # fmt: skip
INFO_CHILDREN: _Cardinality = {
    "language": (0, 1), "category": (1, None), "event": (1, 1), "responseType": (0, None),
    "urgency": (1, 1), "severity": (1, 1), "certainty": (1, 1), "audience": (0, 1),
    "eventCode": (0, None), "effective": (0, 1), "onset": (0, 1), "expires": (0, 1),
    "senderName": (0, 1), "headline": (0, 1), "description": (0, 1), "instruction": (0, 1),
    "web": (0, 1), "contact": (0, 1), "parameter": (0, None), "resource": (0, None),
    "area": (0, None),
}  # fmt: skip
RESOURCE_CHILDREN: _Cardinality = {
    "resourceDesc": (1, 1), "mimeType": (1, 1), "size": (0, 1), "uri": (0, 1),
    "derefUri": (0, 1), "digest": (0, 1),
}  # fmt: skip
AREA_CHILDREN: _Cardinality = {
    "areaDesc": (1, 1), "polygon": (0, None), "circle": (0, None), "geocode": (0, None),
    "altitude": (0, 1), "ceiling": (0, 1),
}  # fmt: skip
PAIR_CHILDREN: _Cardinality = {"valueName": (1, 1), "value": (1, 1)}

# CAP 1.2's own pattern, plus "Z" (accepted, see the module docstring).
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)")
_FORBIDDEN_IN_ID = re.compile(r"[\s,<&]")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_EXPAT_ENCODINGS = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii", "latin-1", "iso8859-1")
_SENTENCE_END = "。！？；：!?;:.…」』”’）)"
_SENTENCE_BREAK = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；…])")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_POLYGON_CHARACTERS = re.compile(r"[0-9+\-.,\s]*")


class CapError(ValueError):
    """The document is not a CAP 1.2 alert this service can take; ``str()`` says why."""


class CapReference(NamedTuple):
    """An earlier message named in ``<references>`` (its extended identifier)."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(frozen=True, slots=True)
class CapAudio:
    """A recording carried inline in a ``<resource>``'s ``derefUri``."""

    mime_type: str
    data: bytes
    description: str


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A checked CAP 1.2 alert, reduced to what an urgent broadcast needs.

    ``broadcast`` is True when loudspeakers must act: status Actual, Exercise or
    Test and msgType Alert (start), Update (replace the referenced broadcasts) or
    Cancel (stop them). Fields from ``level`` down come from the chosen ``<info>``
    and are empty when the document has none.
    """

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[CapReference]
    broadcast: bool
    mode: str | None
    note: str | None
    level: int | None = None
    severity: str | None = None
    urgency: str | None = None
    certainty: str | None = None
    event: str | None = None
    language: str | None = None
    title: str | None = None
    text: str = ""
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    area_descs: list[str] = field(default_factory=list)
    area_codes: list[str] = field(default_factory=list)
    division_codes: list[str] = field(default_factory=list)
    polygons: list[Polygon] = field(default_factory=list)
    circles: list[Circle] = field(default_factory=list)
    audio: CapAudio | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    # (valueName, value) of every other geocode (SAME, UGC, …): matched against area codes.
    geocodes: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def reference(self) -> CapReference:
        """How a later Update or Cancel names this alert in its ``<references>``."""
        return CapReference(self.sender, self.identifier, self.sent)

    @property
    def has_geometry(self) -> bool:
        """Whether the alert targets by polygon or circle (not only by area code)."""
        return bool(self.polygons or self.circles)

    @property
    def has_target(self) -> bool:
        """Whether the alert names its area in a machine-readable way (not only in words)."""
        return bool(self.area_codes or self.geocodes or self.has_geometry)


def parse_cap(
    document: bytes | str,
    *,
    max_bytes: int = DEFAULT_MAX_CAP_BYTES,
    max_audio_bytes: int = DEFAULT_MAX_AUDIO_BYTES,
) -> CapAlert:
    """Parse and check a CAP 1.2 document; raise ``CapError`` saying why it is refused."""
    alert = _alert_node(_parse_xml(document, max_bytes=max_bytes))
    header = _parse_header(alert)
    infos = [_parse_info(node) for node in alert.nodes("info", INFO_CHILDREN)]
    _check_geometry_size(infos)
    played, skipped = _choose_infos(infos)
    return _build_alert(
        header, played, skipped, warnings=alert.warnings, max_audio_bytes=max_audio_bytes
    )


def area_contains(alert: CapAlert, lat: float, lon: float) -> bool:
    """Whether a point (a speaker's position) lies in one of the alert's polygons or circles."""
    return any(point_in_polygon(lat, lon, polygon) for polygon in alert.polygons) or any(
        point_in_circle(lat, lon, circle) for circle in alert.circles
    )


def parse_cap_datetime(value: str, *, element: str = "dateTime") -> datetime:
    """A CAP dateTime (``2002-05-24T16:49:00-07:00``, or with ``Z``) as an aware datetime."""
    if not _DATETIME.fullmatch(value):
        raise CapError(
            f"<{element}> {value!r} is not a CAP dateTime: write it like "
            "2002-05-24T16:49:00-07:00 (seconds, no fraction, explicit offset)"
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise CapError(f"<{element}> {value!r} is not a valid date and time: {exc}") from None


# --- XML, safely -------------------------------------------------------------


def _parse_xml(document: bytes | str, *, max_bytes: int) -> Element:
    """The root element of an untrusted document, refusing anything dangerous."""
    if len(document) > max_bytes:
        raise CapError(f"document is larger than {max_bytes} bytes")
    data = document.encode("utf-8") if isinstance(document, str) else bytes(document)
    if len(data) > max_bytes:
        raise CapError(f"document is larger than {max_bytes} bytes")
    if not data.strip():
        raise CapError("document is empty")
    # Text is handed over as is: expat then ignores the declared encoding, rightly.
    source = document if isinstance(document, str) else _for_expat(data)
    try:
        return safe_xml.fromstring(source, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise CapError("a DOCTYPE (DTD) is not allowed in a CAP document") from None
    except defusedxml.EntitiesForbidden:
        raise CapError("entity declarations are not allowed in a CAP document") from None
    except defusedxml.DefusedXmlException as exc:
        raise CapError(f"forbidden XML construct: {exc}") from None
    except ParseError as exc:
        raise CapError(f"malformed XML: {exc}") from None
    except (ValueError, LookupError) as exc:  # encoding problems raised by expat
        raise CapError(f"unreadable XML: {exc}") from None


def _for_expat(data: bytes) -> bytes | str:
    """Decode documents in a character set expat cannot read (GB2312, GBK, …) in Python."""
    match = _DECLARED_ENCODING.match(data[:256])
    if match is None:
        return data
    declared = match.group(1).decode("ascii")
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        raise CapError(f"unknown character encoding {declared!r}") from None
    if codec in _EXPAT_ENCODINGS:
        return data
    try:
        return data.decode(codec)  # expat ignores the declaration when given text
    except UnicodeDecodeError as exc:
        raise CapError(f"document is not valid {declared}: {exc.reason}") from None


def _split_tag(tag: str) -> tuple[str, str]:
    """``{namespace}local`` → (namespace, local)."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _alert_node(root: Element) -> _Node:
    """The root ``<alert>`` in the CAP 1.2 namespace, its children checked."""
    namespace, local = _split_tag(root.tag)
    if namespace in OLDER_CAP_NAMESPACES:
        version = OLDER_CAP_NAMESPACES[namespace]
        raise CapError(
            f"not a CAP 1.2 document: this is {version} ({namespace}), an unsupported "
            f"version; send it as CAP 1.2 ({CAP_NAMESPACE})"
        )
    if namespace != CAP_NAMESPACE:
        found = f"namespace {namespace!r}" if namespace else "no namespace"
        raise CapError(f"not a CAP 1.2 document: <{local}> has {found}, not {CAP_NAMESPACE!r}")
    if local != "alert":
        raise CapError(f"the root element is <{local}>; a CAP document starts with <alert>")
    warnings: list[str] = []
    return _Node("alert", _children(root, "alert", ALERT_CHILDREN, warnings), warnings)


@dataclass(frozen=True, slots=True)
class _Node:
    """A CAP element whose children passed the cardinality check, with its path for messages."""

    path: str
    children: dict[str, list[Element]]
    warnings: list[str]  # shared by every node of the document

    def text(self, name: str) -> str | None:
        """The stripped text of the single child ``name``, or None when absent or empty."""
        elements = self.children.get(name, [])
        return (_element_text(elements[0], name, self.path) or None) if elements else None

    def required(self, name: str) -> str:
        """The text of a required child, refusing an empty one."""
        value = self.text(name)
        if not value:
            raise CapError(f"<{name}> in {self.path} is empty")
        return value

    def texts(self, name: str) -> list[str]:
        """The stripped texts of a repeated child, empty ones included."""
        return [_element_text(child, name, self.path) for child in self.children.get(name, [])]

    def nodes(self, name: str, allowed: _Cardinality) -> list[_Node]:
        """The repeated child ``name`` as checked nodes."""
        nodes = []
        for index, element in enumerate(self.children.get(name, []), start=1):
            path = f"{self.path}/{name}[{index}]"
            children = _children(element, path, allowed, self.warnings)
            nodes.append(_Node(path, children, self.warnings))
        return nodes


def _children(
    element: Element, path: str, allowed: _Cardinality, warnings: list[str]
) -> dict[str, list[Element]]:
    """Index CAP children by name; refuse unknown ones and wrong counts; note stray text."""
    children: dict[str, list[Element]] = {}
    _note_stray_text(element, path, warnings)
    for child in element:
        namespace, local = _split_tag(child.tag)
        if namespace and namespace != CAP_NAMESPACE:
            continue  # extensions from other vocabularies (e.g. an XML signature)
        if not namespace:
            raise CapError(f"<{local}> in {path} is outside the CAP 1.2 namespace")
        if local not in allowed:
            raise CapError(f"<{local}> is not a CAP 1.2 element of {path}")
        children.setdefault(local, []).append(child)
    for name, (least, most) in allowed.items():
        count = len(children.get(name, []))
        if count < least:
            raise CapError(f"{path} is missing the required element <{name}>")
        if most is not None and count > most:
            raise CapError(f"{path} has {count} <{name}> elements; at most {most} allowed")
    return children


def _note_stray_text(element: Element, path: str, warnings: list[str]) -> None:
    """Text between the elements of an element-only container: ignored, with a warning."""
    stray = [element.text or ""] + [child.tail or "" for child in element]
    found = " ".join(part.strip() for part in stray if part.strip())
    if found:
        _warn(warnings, f"text {found[:40]!r} between the elements of {path} was ignored")


def _warn(warnings: list[str], message: str) -> None:
    """Add a warning (at most ``MAX_WARNINGS``, each once)."""
    if message not in warnings and len(warnings) < MAX_WARNINGS:
        warnings.append(message)


def _element_text(element: Element, name: str, path: str) -> str:
    """An element's text; CAP values are plain text, never nested elements."""
    if len(element):
        raise CapError(f"<{name}> in {path} must contain text, not elements")
    return (element.text or "").strip()


def _enumerated(node: _Node, name: str, allowed: Iterable[str]) -> str:
    """A required child whose value must be one of ``allowed``."""
    value = node.required(name)
    return _one_of(value, name, node.path, allowed)


def _one_of(value: str, name: str, path: str, allowed: Iterable[str]) -> str:
    """Refuse ``value`` unless it is one of ``allowed`` (case-sensitive, as in the schema)."""
    choices = tuple(allowed)
    if value not in choices:
        raise CapError(f"<{name}> in {path} is {value!r}; expected one of {', '.join(choices)}")
    return value


def _optional_datetime(node: _Node, name: str) -> datetime | None:
    """An optional dateTime child."""
    value = node.text(name)
    return None if value is None else parse_cap_datetime(value, element=name)


# --- the alert header --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Header:
    """The ``<alert>`` elements outside ``<info>``, checked."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[CapReference]
    note: str | None


def _parse_header(alert: _Node) -> _Header:
    """The ``<alert>`` elements outside ``<info>``."""
    msg_type = _enumerated(alert, "msgType", MSG_TYPES)
    header = _Header(
        identifier=_identifier(alert, "identifier"),
        sender=_identifier(alert, "sender"),
        sent=parse_cap_datetime(alert.required("sent"), element="sent"),
        status=_enumerated(alert, "status", STATUSES),
        msg_type=msg_type,
        scope=_enumerated(alert, "scope", SCOPES),
        references=_parse_references(alert.text("references")),
        note=alert.text("note"),
    )
    _check_scope(alert, header.scope)
    if msg_type in NEEDS_REFERENCES and not header.references:
        raise CapError(f"a msgType {msg_type} must name earlier alerts in <references>")
    return header


def _identifier(alert: _Node, name: str) -> str:
    """``identifier`` or ``sender``: no spaces, commas, ``<`` or ``&`` (they delimit references)."""
    value = alert.required(name)
    if _FORBIDDEN_IN_ID.search(value):
        raise CapError(f"<{name}> {value!r} must not contain spaces, commas, '<' or '&'")
    return value


def _check_scope(alert: _Node, scope: str) -> None:
    """Restricted needs ``<restriction>``; Private needs ``<addresses>``."""
    if scope == "Restricted" and not alert.text("restriction"):
        raise CapError("scope Restricted requires a <restriction>")
    if scope == "Private" and not alert.text("addresses"):
        raise CapError("scope Private requires <addresses>")


def _parse_references(value: str | None) -> list[CapReference]:
    """``sender,identifier,sent`` triples separated by whitespace."""
    references = []
    for triple in (value or "").split():
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapError(
                f"<references> entry {triple!r} is not of the form sender,identifier,sent"
            )
        sender, identifier, sent = parts
        references.append(
            CapReference(sender, identifier, parse_cap_datetime(sent, element="references"))
        )
    return references


# --- info blocks -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Resource:
    """A checked ``<resource>``; inline content still base64."""

    description: str
    mime_type: str
    deref_uri: str | None
    digest: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class _Area:
    """A checked ``<area>``: its targets."""

    description: str
    polygons: list[Polygon]
    circles: list[Circle]
    area_codes: list[str]
    geocodes: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class _Info:
    """A checked ``<info>`` block."""

    path: str
    language: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str | None
    description: str | None
    instruction: str | None
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    resources: list[_Resource]
    areas: list[_Area]


def _parse_info(info: _Node) -> _Info:
    """One ``<info>`` block, every part of it checked."""
    for category in info.texts("category"):
        _one_of(category, "category", info.path, CATEGORIES)
    for response in info.texts("responseType"):
        _one_of(response, "responseType", info.path, RESPONSE_TYPES)
    for pair in info.nodes("eventCode", PAIR_CHILDREN) + info.nodes("parameter", PAIR_CHILDREN):
        _value_pair(pair)
    return _Info(
        path=info.path,
        language=info.text("language") or "en-US",  # the CAP default
        event=info.required("event"),
        urgency=_enumerated(info, "urgency", URGENCIES),
        severity=_enumerated(info, "severity", SEVERITIES),
        certainty=_enumerated(info, "certainty", CERTAINTIES),
        headline=info.text("headline"),
        description=info.text("description"),
        instruction=info.text("instruction"),
        effective=_optional_datetime(info, "effective"),
        onset=_optional_datetime(info, "onset"),
        expires=_optional_datetime(info, "expires"),
        resources=[_parse_resource(node) for node in info.nodes("resource", RESOURCE_CHILDREN)],
        areas=[_parse_area(node) for node in info.nodes("area", AREA_CHILDREN)],
    )


def _check_geometry_size(infos: list[_Info]) -> None:
    """Refuse more polygon points or shapes than any real alert needs (bounded matching cost)."""
    areas = [area for info in infos for area in info.areas]
    points = sum(len(polygon) for area in areas for polygon in area.polygons)
    if points > MAX_POLYGON_POINTS:
        raise CapError(
            f"the polygons hold {points:,} points in all; at most {MAX_POLYGON_POINTS:,} are "
            "accepted (simplify them)"
        )
    shapes = sum(len(area.polygons) + len(area.circles) for area in areas)
    if shapes > MAX_SHAPES:
        raise CapError(
            f"the alert has {shapes:,} polygons and circles; at most {MAX_SHAPES:,} are accepted"
        )


def _choose_infos(infos: list[_Info]) -> tuple[list[_Info], list[_Info]]:
    """(played, skipped): the blocks of one language that say one thing, and the rest of it.

    The language is the first Chinese one, else the first block's. Its blocks saying what
    the first of them says (in other areas, or with another geocode scheme) are played
    together; its blocks saying something else are skipped. Other languages are
    translations: neither played nor skipped.
    """
    if not infos:
        return [], []
    lead = next((i for i in infos if i.language.lower().startswith("zh")), infos[0])
    same = [i for i in infos if i.language.lower() == lead.language.lower()]
    played = [i for i in same if _message(i) == _message(lead)]
    return played, [i for i in same if i not in played]


def _message(info: _Info) -> tuple[object, ...]:
    """What an ``<info>`` says, apart from where: blocks equal in this are one message."""
    audio = [(r.mime_type, r.deref_uri) for r in info.resources if r.mime_type.startswith("audio/")]
    return (info.event, info.severity, info.urgency, info.certainty, info.headline,
            info.description, info.instruction, info.expires, audio)  # fmt: skip


def _value_pair(pair: _Node) -> tuple[str, str]:
    """A geocode, eventCode or parameter: ``valueName`` and ``value`` (CAP lets both be empty)."""
    return pair.text("valueName") or "", pair.text("value") or ""


def _parse_resource(resource: _Node) -> _Resource:
    """A ``<resource>``: description, MIME type and perhaps inline content."""
    size = resource.text("size")
    if size is not None and not size.isdigit():
        raise CapError(f"<size> in {resource.path} must be a whole number of bytes, not {size!r}")
    mime_type = resource.required("mimeType").split(";")[0].strip().lower()
    if "/" not in mime_type:
        raise CapError(f"<mimeType> in {resource.path} is {mime_type!r}, not a MIME type")
    return _Resource(
        description=resource.required("resourceDesc"),
        mime_type=mime_type,
        deref_uri=resource.text("derefUri"),
        digest=resource.text("digest"),
        size=None if size is None else int(size),
    )


def _parse_area(area: _Node) -> _Area:
    """An ``<area>``: description, polygons, circles and AreaCode geocodes."""
    _check_altitudes(area)
    pairs = [p for p in map(_value_pair, area.nodes("geocode", PAIR_CHILDREN)) if p[1]]
    return _Area(
        description=area.required("areaDesc"),
        polygons=[_parse_polygon(text, area.path) for text in area.texts("polygon")],
        circles=[_parse_circle(text, area.path) for text in area.texts("circle")],
        area_codes=[value for name, value in pairs if name.lower() == AREA_CODE_VALUE_NAME],
        geocodes=[(name, value) for name, value in pairs if name.lower() != AREA_CODE_VALUE_NAME],
    )


def _check_altitudes(area: _Node) -> None:
    """``altitude`` and ``ceiling`` are numbers (feet); a ceiling needs an altitude."""
    for name in ("altitude", "ceiling"):
        value = area.text(name)
        if value is not None and not _NUMBER.fullmatch(value):
            raise CapError(f"<{name}> in {area.path} must be a number, not {value!r}")
    if area.text("ceiling") is not None and area.text("altitude") is None:
        raise CapError(f"<ceiling> in {area.path} needs an <altitude>")


def _parse_point(text: str, path: str, element: str) -> tuple[float, float]:
    """A WGS 84 ``lat,lon`` pair."""
    parts = text.split(",")
    if len(parts) != 2 or not all(_NUMBER.fullmatch(part) for part in parts):
        raise CapError(f"<{element}> in {path}: {text!r} is not a 'latitude,longitude' pair")
    lat, lon = float(parts[0]), float(parts[1])
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapError(f"<{element}> in {path}: {text!r} is outside latitude ±90, longitude ±180")
    return lat, lon


def _parse_polygon(text: str, path: str) -> Polygon:
    """At least four ``lat,lon`` pairs, the first repeated as the last."""
    points = _fast_points(text) or [_parse_point(pair, path, "polygon") for pair in text.split()]
    if any(not (-90 <= lat <= 90 and -180 <= lon <= 180) for lat, lon in points):
        outside = next(p for p in points if not (-90 <= p[0] <= 90 and -180 <= p[1] <= 180))
        raise CapError(
            f"<polygon> in {path}: '{outside[0]:g},{outside[1]:g}' is outside latitude ±90, "
            "longitude ±180"
        )
    if len(points) < 4:
        raise CapError(f"<polygon> in {path} has {len(points)} points; at least 4 are required")
    if points[0] != points[-1]:
        raise CapError(f"<polygon> in {path} is not closed: its first and last points differ")
    return points


def _fast_points(text: str) -> list[tuple[float, float]] | None:
    """All pairs of a well-formed polygon at C speed (a 41,009-point one in milliseconds).

    None when the text is not a clean list of pairs: the slow path then names the bad one.
    """
    if not _POLYGON_CHARACTERS.fullmatch(text):
        return None
    pairs = text.split()
    if any(pair.count(",") != 1 for pair in pairs):
        return None
    try:  # the character class leaves out nan, inf and exponents; float() refuses "1-2"
        numbers = [float(value) for value in text.replace(",", " ").split()]
    except ValueError:
        return None
    return list(zip(numbers[0::2], numbers[1::2], strict=True))


def _parse_circle(text: str, path: str) -> Circle:
    """``lat,lon radius`` with the radius in kilometres."""
    parts = text.split()
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[1]):
        raise CapError(f"<circle> in {path}: {text!r} is not 'latitude,longitude radius_km'")
    radius_km = float(parts[1])
    if radius_km < 0:
        raise CapError(f"<circle> in {path}: the radius must not be negative")
    lat, lon = _parse_point(parts[0], path, "circle")
    return Circle(lat, lon, radius_km)


# --- the result --------------------------------------------------------------


def _build_alert(
    header: _Header,
    played: list[_Info],
    skipped: list[_Info],
    *,
    warnings: list[str],
    max_audio_bytes: int,
) -> CapAlert:
    """Assemble the ``CapAlert`` from the header and the ``<info>`` blocks to play."""
    mode = MODE_BY_STATUS.get(header.status)
    alert = CapAlert(
        identifier=header.identifier,
        sender=header.sender,
        sent=header.sent,
        status=header.status,
        msg_type=header.msg_type,
        scope=header.scope,
        references=header.references,
        broadcast=mode is not None and header.msg_type in ACTED_ON_MSG_TYPES,
        mode=mode,
        note=header.note,
        warnings=warnings,
    )
    if not played:
        return alert
    info, areas = played[0], [area for info in played for area in info.areas]
    for other in skipped:
        _warn(warnings, _skipped_warning(other))
    audio = _inline_audio(info, max_audio_bytes=max_audio_bytes, warnings=warnings)
    text = spoken_text(info.headline, info.description, info.instruction)
    return replace(
        alert,
        level=LEVEL_BY_SEVERITY[info.severity],
        severity=info.severity,
        urgency=info.urgency,
        certainty=info.certainty,
        event=info.event,
        language=info.language,
        title=_collapse_spaces(info.headline or info.event),
        text=text or ("" if audio else spoken_text(info.event)),
        headline=info.headline,
        description=info.description,
        instruction=info.instruction,
        effective=info.effective,
        onset=info.onset,
        expires=info.expires,
        area_descs=[area.description for area in areas],
        area_codes=_unique(code for area in areas for code in area.area_codes),
        geocodes=list(dict.fromkeys(pair for area in areas for pair in area.geocodes)),
        division_codes=_unique(
            code for area in areas for name, value in area.geocodes
            if name.lower() in DIVISION_CODE_VALUE_NAMES for code in value.split()
        ),
        polygons=[list(p) for p in dict.fromkeys(tuple(p) for a in areas for p in a.polygons)],
        circles=list(dict.fromkeys(circle for area in areas for circle in area.circles)),
        audio=audio,
        warnings=warnings,
    )


def _skipped_warning(info: _Info) -> str:
    """Why an ``<info>`` of the played language was not played."""
    what = _collapse_spaces(info.headline or info.event)[:80]
    return (
        f"{info.path} ({info.language}, {what!r}, severity {info.severity}, "
        f"{len(info.areas)} area(s)) was not played: one alert makes one broadcast, "
        "and it says something else than the first block"
    )


def _unique(values: Iterable[str]) -> list[str]:
    """Values without repeats, in first-seen order."""
    return list(dict.fromkeys(values))


def _inline_audio(info: _Info, *, max_audio_bytes: int, warnings: list[str]) -> CapAudio | None:
    """The first audio ``<resource>`` carried inline, decoded; a mismatch is a warning."""
    for resource in info.resources:
        if resource.mime_type.startswith("audio/") and resource.deref_uri:
            data = _decode_base64(resource.deref_uri, max_audio_bytes=max_audio_bytes)
            for warning in _integrity_warnings(data, resource):
                _warn(warnings, warning)
            return CapAudio(resource.mime_type, data, resource.description)
    return None


def _decode_base64(encoded: str, *, max_audio_bytes: int) -> bytes:
    """Strict base64 (line breaks allowed), refusing oversized content before decoding."""
    compact = "".join(encoded.split())
    if len(compact) // 4 * 3 > max_audio_bytes + 2:
        raise CapError(f"inline audio is larger than {max_audio_bytes} bytes")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CapError("<derefUri> is not valid base64") from None
    if not data:
        raise CapError("<derefUri> holds no audio")
    if len(data) > max_audio_bytes:
        raise CapError(f"inline audio is larger than {max_audio_bytes} bytes")
    return data


def _integrity_warnings(data: bytes, resource: _Resource) -> list[str]:
    """``<digest>`` (SHA-1, hex or base64) and ``<size>`` against the decoded audio."""
    warnings = []
    if resource.digest is not None:
        actual = hashlib.sha1(data, usedforsecurity=False).digest()
        digest = resource.digest
        if digest.lower() != actual.hex() and digest != base64.b64encode(actual).decode("ascii"):
            warnings.append(
                f"the <digest> of the inline audio ({digest}) does not match its SHA-1 "
                f"({actual.hex()}); it was played all the same"
            )
    if resource.size is not None and resource.size != len(data):
        warnings.append(
            f"the <size> of the inline audio says {resource.size:,} bytes; it has {len(data):,}"
        )
    return warnings


# --- spoken text -------------------------------------------------------------


def spoken_text(*parts: str | None) -> str:
    """Headline, description and instruction as one text to speak, each sentence closed."""
    sentences: list[str] = []
    for part in parts:
        lines = [_collapse_spaces(line) for line in (part or "").splitlines()]
        for sentence in filter(None, map(_closed, lines)):
            if not sentences or sentence != sentences[-1]:  # a headline often repeats
                sentences.append(sentence)
    text = ""
    for sentence in sentences:
        text += sentence if not text or _is_wide(text[-1]) else " " + sentence
    return text


def fitted_text(alert: CapAlert, limit: int) -> tuple[str, str | None]:
    """The alert's spoken text in at most ``limit`` characters, and a warning if shortened.

    The headline and the instruction are kept whole; the description is cut after its last
    sentence that still fits. Only if the headline and instruction alone are too long is the
    whole text cut, at the last sentence end within the limit.
    """
    if len(alert.text) <= limit:
        return alert.text, None
    sentences = [s for line in (alert.description or "").splitlines() for s in _sentences(line)]
    kept: list[str] = []
    text = spoken_text(alert.headline, None, alert.instruction)
    for sentence in sentences:
        longer = spoken_text(alert.headline, "\n".join([*kept, sentence]), alert.instruction)
        if len(longer) > limit:
            break
        kept, text = [*kept, sentence], longer
    if len(text) > limit:
        text = _cut(alert.text, limit)
    return text, (
        f"the text was shortened to {len(text):,} of {len(alert.text):,} characters (at most "
        f"{limit:,} are synthesised): {len(kept)} of {len(sentences)} sentences of the "
        "description are spoken"
    )


def _sentences(line: str) -> list[str]:
    """A line split after each sentence end (a Chinese one, or a Latin one before a space)."""
    return [part for part in _SENTENCE_BREAK.split(line) if part.strip()]


def _cut(text: str, limit: int) -> str:
    """``text`` cut at its last sentence end within ``limit`` characters (or at the limit)."""
    head = text[:limit]
    end = max(head.rfind(mark) for mark in _SENTENCE_END[:10])
    return head[: end + 1] if end > 0 else head


def _closed(sentence: str) -> str:
    """End a sentence with punctuation: 。 if it holds any Chinese, else a full stop."""
    body = sentence.rstrip(",，、 ")  # a dangling comma would run into the next sentence
    if not body or body[-1] in _SENTENCE_END:
        return body
    return body + ("。" if any(map(_is_wide, body)) else ".")


def _is_wide(character: str) -> bool:
    """Whether a character is CJK (wide), so no space is needed next to it."""
    return unicodedata.east_asian_width(character) in ("W", "F")


def _collapse_spaces(text: str) -> str:
    """Runs of whitespace as one space, ends stripped."""
    return " ".join(text.split())

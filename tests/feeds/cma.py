"""CAP documents shaped like the China Meteorological Administration's feed (made here: the
shared corpus has no zh-CN alert): a Chinese and an English <info>, CPEAS geocodes."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.sax.saxutils import escape

SENDER = "Yuanshi_County_Meteorological_Observatory"
COLOURS = {"Extreme": ("红色", "Red", "I/Particularly Serious"),
           "Severe": ("橙色", "Orange", "II/Severe"),
           "Moderate": ("黄色", "Yellow", "III/Relatively Serious"),
           "Minor": ("蓝色", "Blue", "IV/General")}


def _info(language: str, event: str, severity: str, headline: str, description: str,
          instruction: str, expires: datetime, geocodes: list[str]) -> str:
    place = "元氏县" if language.startswith("zh") else "Yuanshi County"
    codes = "".join(f"<geocode><valueName>CPEAS Geographic Code</valueName><value>{code}"
                    f"</value></geocode>" for code in geocodes)
    return f"""
  <info>
    <language>{language}</language>
    <category>Met</category>
    <event>{escape(event)}</event>
    <urgency>Expected</urgency>
    <severity>{severity}</severity>
    <certainty>Likely</certainty>
    <expires>{expires.isoformat()}</expires>
    <senderName>{escape("元氏县气象台" if language.startswith("zh") else SENDER)}</senderName>
    <headline>{escape(headline)}</headline>
    <description>{escape(description)}</description>
    <instruction>{escape(instruction)}</instruction>
    <area><areaDesc>{escape(place)}</areaDesc>{codes}</area>
  </info>"""


def cma_cap(number: int, sent: datetime, severity: str, geocodes: list[str], *,
            msg_type: str = "Alert", references: str | None = None,
            hazard: str = "暴雨", hazard_en: str = "rainstorm", status: str = "Actual") -> bytes:
    """A CMA-style alert: identifier like 13013241600000_20260101…, English info first."""
    colour_zh, colour_en, level = COLOURS[severity]
    identifier = f"13013241600000_{sent:%Y%m%d%H%M%S}{number:02d}"
    expires = sent + timedelta(hours=24)
    english = _info("en-US", f"{hazard_en.title()} Warning", severity,
                    f"Yuanshi County Meteorological Observatory issued a {colour_en.lower()} "
                    f"warning for {hazard_en} [{level}]",
                    f"Heavy {hazard_en} is expected in the next 12 hours.",
                    "Stay away from rivers.", expires, geocodes)
    chinese = _info("zh-CN", f"{hazard}{colour_zh}预警", severity,
                    f"元氏县气象台发布{hazard}{colour_zh}预警信号",
                    f"预计未来12小时我县将出现{hazard}天气。", "请远离河道，注意防范。",
                    expires, geocodes)
    refs = f"<references>{escape(references)}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{SENDER}</sender>
  <sent>{sent.isoformat()}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>{refs}{english}{chinese}
</alert>""".encode()


def reference(document: bytes) -> str:
    """The ``sender,identifier,sent`` of a document (for a later Update or Cancel)."""
    text = document.decode()

    def between(tag: str) -> str:
        return text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]

    return f"{between('sender')},{between('identifier')},{between('sent')}"

"""Console page of the power-cut report: suspected speakers, their slots, and a chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from app.config import get_settings
from app.console.deps import ConsoleUser, render, require_page
from app.console.pages_content import area_choices
from app.db import DbSession
from app.errors import InvalidInput
from app.maintenance.powercut_report import ReportInput
from app.maintenance.powercut_router import report_for
from app.maintenance.powercuts import GRID, RESIDENT, UNEXPLAINED

__all__ = ["router", "power_cut_chart_svg"]

router = APIRouter(prefix="/console", include_in_schema=False)

KIND_LABELS = {RESIDENT: "疑似人为断电", GRID: "电网停电", UNEXPLAINED: "其他断电"}
KIND_COLOURS = {RESIDENT: "#b3261e", GRID: "#6b7280", UNEXPLAINED: "#b26a00"}
ACTIONS = {"lower_volume": "调低音量", "move_later": "推迟时间", "fewer_loops": "减少循环",
           "fewer_slots": "减少时段"}


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _axes(parts: list[str], days: int, left: int, top: int, plot_w: float,
          plot_h: float, first: datetime) -> None:
    for hour in range(0, 25, 6):
        y = top + hour / 24 * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
                     f'stroke="#d9dee3"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#5c6670">{hour:02d}:00</text>')
    for day in range(0, days, max(1, days // 10)):
        x = left + (day + 0.5) * plot_w / days
        label = (first + timedelta(days=day)).strftime("%m-%d")
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 16:.1f}" font-size="11" '
                     f'text-anchor="middle" fill="#5c6670">{label}</text>')


def power_cut_chart_svg(data: ReportInput, slot_times: list[str], zone: ZoneInfo,
                        width: int = 760, height: int = 360) -> str:
    """Each dark spell as a dot: the day across, its local start time down, its kind as colour;
    the suspected slots as dashed lines (drawn here: no charting library, no script)."""
    first = data.start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    days = max(1, (data.end.astimezone(zone) - first).days + 1)
    left, top, right, bottom = 52, 30, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="断电时间分布图" style="width:100%;height:auto;background:#fff;'
             f'border:1px solid #d9dee3;border-radius:8px">']
    _axes(parts, days, left, top, plot_w, plot_h, first)
    for at in sorted(set(slot_times)):
        minutes = int(at[:2]) * 60 + int(at[3:])
        y = top + minutes / 1440 * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" '
                     f'stroke="#1f5fa8" stroke-dasharray="5 4" data-slot="{at}"/>'
                     f'<text x="{left + plot_w - 2:.1f}" y="{y - 3:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#1f5fa8">{at} 播出</text>')
    for spell in data.analysis.spells:
        local = spell.start.astimezone(zone)
        day = (local.date() - first.date()).days
        x = left + (day + 0.5) * plot_w / days
        y = top + (local.hour * 60 + local.minute) / 1440 * plot_h
        info = data.speakers.get(spell.speaker)
        label = (f"{info.serial if info else spell.speaker} · {info.village if info else ''} · "
                 f"{local:%m-%d %H:%M} · {KIND_LABELS[spell.kind]}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{KIND_COLOURS[spell.kind]}" '
                     f'fill-opacity="0.85" data-kind="{spell.kind}"><title>{_escape(label)}'
                     f'</title></circle>')
    legend_x = left
    for kind, label in KIND_LABELS.items():
        parts.append(f'<circle cx="{legend_x + 6}" cy="14" r="5" fill="{KIND_COLOURS[kind]}"/>'
                     f'<text x="{legend_x + 15}" y="18" font-size="12" fill="#1d2329">'
                     f'{label}</text>')
        legend_x += 110
    parts.append("</svg>")
    return "".join(parts)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date", code="invalid_range") from None


@router.get("/power-cuts")
def power_cut_page(request: Request, user: ConsoleUser, session: DbSession,
                   start: str | None = None, end: str | None = None,
                   town: str | None = None) -> Any:
    """Speakers residents switch off, with the slots to change and the month on a chart."""
    require_page(user, "reports:read")
    request.state.principal = user
    report, data = report_for(session, user, _parse(start), _parse(end), town or None)
    zone = get_settings().tz
    slots = [slot.time for village in report.items for s in village.speakers
             for slot in s.slots]
    return render(request, "power_cuts.html", user, report=report,
                  svg=power_cut_chart_svg(data, slots, zone), towns=area_choices(
                      session, user, "town"), town=town,
                  start=data.start.astimezone(zone).strftime("%Y-%m-%d"),
                  end=data.end.astimezone(zone).strftime("%Y-%m-%d"),
                  kinds=KIND_LABELS, actions=ACTIONS)

"""Console pages for looking back: the as-run log (with CSV export) and the reports with charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.areas.service import get_area_in_scope
from app.auth.permissions import Principal
from app.config import get_settings
from app.console.charts import (
    PALETTE,
    Bar,
    Series,
    bar_chart,
    line_chart,
    nice_ceiling,
    percent,
)
from app.console.deps import ConsoleUser, render, require_page
from app.console.i18n import CAUSES
from app.console.listing import page_params
from app.console.pages_content import area_choices, villages_named
from app.db import DbSession, utcnow
from app.errors import InvalidInput
from app.maintenance import history
from app.maintenance.reports import coverage, coverage_csv, maintenance_csv, maintenance_report
from app.maintenance.schemas import CoveragePeriod
from app.playout.playlog import playlog_csv, playlog_page, playlog_query

__all__ = ["router", "PLAYLOG_RESULTS"]

router = APIRouter(prefix="/console", include_in_schema=False)

PLAYLOG_RESULTS = {"played": "已播放", "started": "播放中", "preempted": "被插播中断",
                   "failed": "播放失败", "missed": "未播出"}
_RANKS = {"played": 4, "preempted": 3, "failed": 2, "missed": 1, "started": 0}
KINDS = {"routine": "日常播出", "urgent": "紧急广播"}
MODES = {"actual": "正式", "exercise": "演练", "test": "测试"}
PAGE_SIZE = 50
MAX_TOWN_LINES = 7  # more lines than this are a tangle: the lowest towns and the whole area


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=get_settings().tz)


@dataclass(frozen=True)
class DayRange:
    """A range of whole local days, both ends included, as the forms show it."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None, default_days: int) -> DayRange:
        """The days asked for; the last ``default_days`` up to today when not (or badly) given."""
        today = utcnow().astimezone(get_settings().tz).date()
        end = _day(last) or today
        start = _day(first) or end - timedelta(days=default_days - 1)
        return cls(start, end) if start <= end else cls(end, end)

    @property
    def start(self) -> datetime:
        """Local midnight of the first day."""
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day."""
        return _midnight(self.last + timedelta(days=1))


# ---------------------------------------------------------------- as-run log


@dataclass(frozen=True)
class PlaylogFilters:
    """What the as-run log page was asked to show."""

    days: DayRange
    area: str | None
    result: str | None

    def query(self, **extra: Any) -> str:
        """These filters as a query string (for paging and the CSV link)."""
        values = {"from": self.days.first.isoformat(), "to": self.days.last.isoformat(),
                  "area": self.area or "", "result": self.result or "", **extra}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _playlog_statement(session: Session, user: Principal, filters: PlaylogFilters) -> Any:
    paths = [user.area_path] if user.area_path else []
    if filters.area:
        paths.append(get_area_in_scope(session=session, principal=user, code=filters.area).path)
    stmt = playlog_query(paths=paths, start=filters.days.start, end=filters.days.end)
    if filters.result:
        stmt = stmt.where(stmt.selected_columns.rank == _RANKS[filters.result])
    return stmt


def _playlog_filters(start: str | None, end: str | None, area: str | None,
                     result: str | None) -> PlaylogFilters:
    return PlaylogFilters(days=DayRange.parse(start, end, 7), area=area or None,
                          result=result if result in PLAYLOG_RESULTS else None)


@router.get("/playlog")
def playlog_view(request: Request, user: ConsoleUser, session: DbSession,
                 start: Annotated[str | None, Query(alias="from")] = None,
                 end: Annotated[str | None, Query(alias="to")] = None,
                 area: str | None = None, result: str | None = None) -> Any:
    """What the terminals played (and the orders nobody played), filtered, 50 to a page."""
    require_page(user, "playlog:read")
    request.state.principal = user
    filters = _playlog_filters(start, end, area, result)
    offset = page_params(request).offset
    entries, total = playlog_page(session=session, stmt=_playlog_statement(session, user, filters),
                                  limit=PAGE_SIZE, offset=offset)
    return render(request, "playlog.html", user, entries=entries, total=total, filters=filters,
                  village_names=villages_named(session, list({e.village for e in entries})),
                  areas=area_choices(session, user), results=PLAYLOG_RESULTS, kinds=KINDS,
                  modes=MODES, offset=offset, page_size=PAGE_SIZE)


@router.get("/playlog.csv")
def playlog_download(user: ConsoleUser, session: DbSession,
                     start: Annotated[str | None, Query(alias="from")] = None,
                     end: Annotated[str | None, Query(alias="to")] = None,
                     area: str | None = None, result: str | None = None) -> Response:
    """The whole filtered as-run log as CSV (the API's columns)."""
    require_page(user, "playlog:read")
    filters = _playlog_filters(start, end, area, result)
    entries, _ = playlog_page(session=session, stmt=_playlog_statement(session, user, filters),
                              limit=None)
    return _download(playlog_csv(entries), f"playlog-{filters.days.first}-{filters.days.last}")


def _download(body: str, name: str) -> Response:
    # A byte-order mark so that Excel, which most township offices open CSV with, reads UTF-8.
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


# ---------------------------------------------------------------- reports


@dataclass(frozen=True)
class ReportFilters:
    """The reports page's period, resolution and town."""

    days: DayRange
    step: str
    town: str | None

    def query(self) -> str:
        """These filters as a query string (for the CSV links)."""
        values = {"from": self.days.first.isoformat(), "to": self.days.last.isoformat(),
                  "step": self.step, "town": self.town or ""}
        return urlencode({k: v for k, v in values.items() if v})


def _report_filters(start: str | None, end: str | None, step: str | None,
                    town: str | None) -> ReportFilters:
    step = step if step in ("day", "hour") else "day"
    days = DayRange.parse(start, end, 2 if step == "hour" else 30)
    return ReportFilters(days=days, step=step, town=town or None)


def _edges(filters: ReportFilters) -> list[datetime]:
    return history.history_window(filters.days.start, filters.days.end, filters.step,  # type: ignore[arg-type]
                                  utcnow())


def _period_label(moment: datetime, step: str) -> str:
    local = moment.astimezone(get_settings().tz)
    return local.strftime("%H:%M" if step == "hour" and local.hour else "%m-%d")


def _whole_area(periods: list[CoveragePeriod]) -> list[float | None]:
    """The online rate of all towns together, period by period."""
    by_start: dict[datetime, list[float]] = {}
    for p in periods:
        total = by_start.setdefault(p.from_, [0.0, 0.0])
        total[0] += p.speakers_online
        total[1] += p.speakers
    return [online / speakers if speakers else None for online, speakers in by_start.values()]


def _mean_rate(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def online_rate_chart(periods: list[CoveragePeriod], edges: list[datetime], step: str) -> Any:
    """Each town's online rate over the periods (the lowest ones when there are many)."""
    towns: dict[str, tuple[str, list[float | None]]] = {}
    for p in periods:
        towns.setdefault(p.town, (p.name, []))[1].append(p.online_rate)
    means = {code: _mean_rate(values) for code, (_, values) in towns.items()}
    order = sorted(towns, key=lambda code: (means[code] is None, means[code] or 0.0))
    lines = [towns[code] for code in order]
    if len(lines) > MAX_TOWN_LINES:
        lines = [("全部镇街", _whole_area(periods))] + lines[:MAX_TOWN_LINES - 1]
    series = [Series(name, values, PALETTE[i % len(PALETTE)])
              for i, (name, values) in enumerate(lines)]
    legend = [f"平均 {percent(m)}" if (m := _mean_rate(s.values)) is not None else "无音柱"
              for s in series]
    return line_chart(name="online-rate", title="各镇街音柱在线率", series=series,
                      x_labels=[_period_label(e, step) for e in edges[:-1]], y_max=1.0,
                      legend=legend)


def _repair_edges(edges: list[datetime], step: str) -> list[datetime]:
    """Weeks over a long range of days (a day rarely closes enough tickets for a median)."""
    if step == "day" and len(edges) > 15:
        return edges[:-1:7] + [edges[-1]]
    return edges


def repair_chart(session: Session, user: Principal, edges: list[datetime], step: str) -> Any:
    """Median and mean time to repair of the tickets closed in each period."""
    periods = history.repair_times(session=session, principal=user,
                                   edges=_repair_edges(edges, step))
    medians = [p.median_hours for p in periods]
    means = [p.mean_hours for p in periods]
    top = max([v for v in medians + means if v is not None], default=0.0)
    return line_chart(
        name="mttr", title="平均修复时间（小时，按关闭日期）",
        series=[Series("中位数", medians, PALETTE[0]), Series("平均值", means, PALETTE[3])],
        x_labels=[_period_label(p.start, step) for p in periods],
        y_max=nice_ceiling(max(top, 1.0)), y_format=lambda v: f"{v:g} 小时", height=200,
        legend=[f"关闭 {sum(p.closed for p in periods)} 单", ""])


def cause_chart(session: Session, user: Principal, edges: list[datetime]) -> Any:
    """Outages opened in the range, by cause."""
    counts = history.outages_by_cause(session=session, principal=user, start=edges[0],
                                      end=edges[-1])
    bars = [Bar(CAUSES.get(cause, cause), n, PALETTE[1] if cause == "power_cut" else PALETTE[0])
            for cause, n in sorted(counts.items(), key=lambda c: -c[1])]
    return bar_chart(name="causes", title="故障次数（按原因）", bars=bars,
                     value_format=lambda v: f"{v:g} 次")


@router.get("/reports")
def reports_view(request: Request, user: ConsoleUser, session: DbSession,
                 start: Annotated[str | None, Query(alias="from")] = None,
                 end: Annotated[str | None, Query(alias="to")] = None,
                 step: str | None = None, town: str | None = None) -> Any:
    """Coverage now and over time, and how repairs went, for the chosen days."""
    require_page(user, "reports:read")
    request.state.principal = user
    filters, error = _report_filters(start, end, step, town), None
    try:
        edges = _edges(filters)
    except InvalidInput as refused:  # too many hours: the default range, and why
        error = refused.message
        filters = _report_filters(None, None, filters.step, filters.town)
        edges = _edges(filters)
    now = utcnow()
    periods = history.coverage_history(session=session, principal=user, edges=edges,
                                       town=filters.town, now=now)
    snapshot = coverage(session=session, principal=user, now=now)
    maintenance = maintenance_report(session=session, principal=user, start=edges[0],
                                     end=edges[-1], now=now)
    return render(
        request, "reports.html", user, filters=filters, error=error, snapshot=snapshot,
        maintenance=maintenance, causes=CAUSES, towns=area_choices(session, user, "town"),
        online_chart=online_rate_chart(periods, edges, filters.step),
        repair_chart=repair_chart(session, user, edges, filters.step),
        cause_chart=cause_chart(session, user, edges), periods=periods,
        period_label=lambda p: _period_label(p.from_, filters.step), percent=percent)


@router.get("/reports/{name}.csv")
def report_download(name: str, user: ConsoleUser, session: DbSession,
                    start: Annotated[str | None, Query(alias="from")] = None,
                    end: Annotated[str | None, Query(alias="to")] = None,
                    step: str | None = None, town: str | None = None) -> Response:
    """A report of the reports page as CSV: ``coverage``, ``history`` or ``maintenance``."""
    require_page(user, "reports:read")
    filters = _report_filters(start, end, step, town)
    if name == "coverage":
        return _download(coverage_csv(coverage(session=session, principal=user)), "coverage")
    edges = _edges(filters)
    if name == "history":
        rows = history.coverage_history(session=session, principal=user, edges=edges,
                                        town=filters.town)
        return _download(history.coverage_history_csv(rows), "coverage-history")
    if name == "maintenance":
        report = maintenance_report(session=session, principal=user, start=edges[0],
                                    end=edges[-1])
        return _download(maintenance_csv(report), "maintenance")
    raise InvalidInput(f"no report named {name!r}")

"""Play orders from schedules: each occurrence issued once per village, re-issued on change.

An order's identity is (schedule, village, start_at), under a unique constraint. This module
decides which orders to issue, withdraw or refresh; playout writes them
(:mod:`app.playout.orders`). Every insert is ``INSERT … ON CONFLICT DO NOTHING`` on that
identity (SQLite and PostgreSQL alike), so a restart, a re-run or a second process racing this
one never duplicates an order.

Issuing one schedule starts by locking its row (a no-op UPDATE: a row lock on PostgreSQL, the
write lock on SQLite), so two issuers of the same schedule take turns and the second sees what
the first committed: it inserts only what is still missing (so counts and version bumps are
exact), and a horizon job cannot resurrect orders that an edit is withdrawing. Schedules are
locked in id order and program versions bumped last, so issuers never deadlock.

- :func:`reissue_schedule` brings a schedule's future orders in line with it (after a change):
  withdraws obsolete ones, revives or inserts wanted ones, updates the media, loop, volume and
  title of unchanged occurrences. Orders that have started are never touched.
- :func:`top_up_schedule` / :func:`top_up_all` only issue what lies between a schedule's
  ``issued_through`` and the horizon (the periodic and per-time jobs: cheap when nothing is due).
- :func:`issue_village` gives a new village the orders of the schedules that cover it.

Every function takes the caller's session and leaves committing to it; program versions of the
villages whose orders changed are bumped in the same transaction.

Big changes are cut into short transactions (:mod:`app.runtime.chunked`), so that no other write (an
urgent broadcast) waits long behind them: a change affecting more than
:data:`INLINE_VILLAGES` villages records a :class:`PendingReissue` in its own transaction and,
once that commits, :func:`reissue_in_chunks` re-issues a chunk of villages per transaction
(before the request answers). If the process stops half-way, the lease holder resumes the
pass (:func:`resume_pending_reissues`); a newer change to the same schedule supersedes it.
The horizon top-up (:func:`top_up_paced`) likewise issues a chunk of (schedule, village)
pairs per transaction, and advances a schedule's ``issued_through`` only with its last chunk.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.config import get_settings
from app.db import session_scope, utcnow
from app.ids import new_id
from app.metrics import orders_issued
from app.playlists.service import PlayoutMedia, playout_media
from app.playout.models import ROUTINE_PRIORITY, PlayOrder
from app.playout.orders import insert_orders, set_orders
from app.playout.program import bump_program_versions
from app.runtime.chunked import Interrupted, Pacer
from app.runtime.events import on_commit
from app.schedules.calendar_days import schedule_calendar
from app.schedules.models import PendingReissue, Schedule, ScheduleTarget
from app.schedules.rules import Rule, occurrences

__all__ = [
    "IssueReport",
    "MISSED_MARGIN",
    "horizon_end",
    "order_not_after",
    "rule_of",
    "reissue_schedule",
    "reissue_schedules",
    "top_up_schedule",
    "top_up_schedules",
    "top_up_all",
    "verify_slot",
    "verify_slots",
    "issue_village",
    "issue_villages",
    "withdraw_future_orders",
    "reissue_in_chunks",
    "resume_pending_reissues",
    "top_up_paced",
    "INLINE_VILLAGES",
    "schedules_covering",
    "village_codes",
]

log = logging.getLogger(__name__)

# SPEC §6: a routine order's not_after is its start + loop × playlist duration + 15 minutes.
MISSED_MARGIN = timedelta(minutes=15)
# The horizon's end is included: an occurrence exactly CUNXIANG_HORIZON ahead is issued by the
# per-time job that fires at that time of day.
_HORIZON_SLACK = timedelta(seconds=1)
_CHUNK = 500  # ids per IN (…) list: well under SQLite's and PostgreSQL's parameter limits
# A change re-issues up to this many villages in its own transaction; more go in chunks.
INLINE_VILLAGES = 400
# Chunk sizes (first, fewest, most) of a chunked re-issue (villages) and of a top-up
# ((schedule, village) pairs); each chunk is sized to last about 0.25 s.
PASS_CHUNK = (200, 10, 5000)
TOP_UP_CHUNK = (1000, 10, 20000)
# A pending re-issue no pass has written for this long is resumed by the lease holder.
_PASS_STALE = timedelta(seconds=15)

Key = tuple[str, datetime]  # (village, start_at) within one schedule


@dataclass
class IssueReport:
    """What one issuing pass changed."""

    inserted: int = 0
    revived: int = 0
    updated: int = 0
    withdrawn: int = 0
    villages: set[str] = field(default_factory=set)

    @property
    def issued(self) -> int:
        """Orders that entered programs: inserted plus withdrawn ones issued again."""
        return self.inserted + self.revived

    def merge(self, other: IssueReport) -> IssueReport:
        """Add another pass's figures to this one."""
        self.inserted += other.inserted
        self.revived += other.revived
        self.updated += other.updated
        self.withdrawn += other.withdrawn
        self.villages |= other.villages
        return self


def horizon_end(now: datetime) -> datetime:
    """How far ahead orders are issued at ``now`` (CUNXIANG_HORIZON, end included)."""
    return now + timedelta(seconds=get_settings().horizon) + _HORIZON_SLACK


def order_not_after(start_at: datetime, loop: int, duration_ms: int) -> datetime:
    """Start + loop × playlist duration + 15 minutes."""
    return start_at + timedelta(milliseconds=loop * duration_ms) + MISSED_MARGIN


def rule_of(schedule: Schedule) -> Rule:
    """The pure rule of a stored schedule, in the service's time zone."""
    return Rule(
        times=tuple(schedule.times or ()), every_minutes=schedule.every_minutes,
        window=tuple(schedule.window) if schedule.window else None,  # type: ignore[arg-type]
        days=tuple(schedule.days), start_date=schedule.start_date, end_date=schedule.end_date,
        tz=get_settings().timezone, **schedule_calendar(schedule),
    )


@dataclass(frozen=True)
class _Template:
    """What every order of one schedule carries, apart from its village and start."""

    schedule_id: str
    playlist_id: str
    title: str
    loop: int
    volume: int | None
    media: list[dict[str, Any]]
    duration_ms: int
    slot_volumes: tuple[tuple[str, int], ...] = ()  # ("HH:MM", volume) of single slots

    def volume_at(self, start_at: datetime) -> int | None:
        """The slot's own volume (by its local time of day), else the schedule's."""
        if not self.slot_volumes:
            return self.volume
        local = f"{start_at.astimezone(get_settings().tz):%H:%M}"
        return dict(self.slot_volumes).get(local, self.volume)

    def fields(self, start_at: datetime) -> dict[str, Any]:
        """The columns an order at ``start_at`` must have (state aside)."""
        return {
            "playlist_id": self.playlist_id, "title": self.title, "loop": self.loop,
            "volume": self.volume_at(start_at), "media": self.media,
            "duration_ms": self.duration_ms,
            "not_after": order_not_after(start_at, self.loop, self.duration_ms),
        }

    def rows(self, keys: Iterable[Key], now: datetime) -> list[dict[str, Any]]:
        """Complete new order rows, one per (village, start)."""
        shared: dict[datetime, dict[str, Any]] = {}
        found = []
        for village, start_at in keys:
            common = shared.get(start_at)
            if common is None:
                common = shared[start_at] = {
                    "kind": "routine", "schedule_id": self.schedule_id, "broadcast_id": None,
                    "start_at": start_at, "mode": "actual", "level": None,
                    "priority": ROUTINE_PRIORITY, "state": "issued", "issued_at": now,
                    "updated_at": now, "first_fetched_at": None, **self.fields(start_at),
                }
            found.append({**common, "id": new_id("ord"), "village_code": village})
        return found

    def differs(self, order: Any) -> bool:
        """True when a stored order's content is not what this template gives."""
        wanted = self.fields(order.start_at)
        return any(getattr(order, name) != value for name, value in wanted.items())


def _template(schedule: Schedule, media: PlayoutMedia) -> _Template:
    items = [dict(item) for item in media.items]
    return _Template(schedule.id, schedule.playlist_id, schedule.name[:200], schedule.loop,
                     schedule.volume, items, int(media.duration_ms),
                     tuple(sorted((schedule.slot_volumes or {}).items())))


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _existing_keys(session: Session, schedule_id: str, starts: Sequence[datetime],
                   villages: Sequence[str] | None = None) -> set[Key]:
    """(village, start) of the schedule's orders at these starts (in these villages, if
    given), in any state."""
    found: set[Key] = set()
    village_chunks: Iterable[Sequence[str] | None] = [None] if villages is None \
        else _chunks(villages)
    for some in village_chunks:
        for chunk in _chunks(starts):
            stmt = select(PlayOrder.village_code, PlayOrder.start_at).where(
                PlayOrder.schedule_id == schedule_id, PlayOrder.start_at.in_(chunk))
            if some is not None:
                stmt = stmt.where(PlayOrder.village_code.in_(some))
            found.update((code, start) for code, start in session.execute(stmt))
    return found


def village_codes(session: Session, target_codes: Iterable[str]) -> list[str]:
    """Codes of the villages in or under the target areas, sorted, without repeats."""
    found: set[str] = set()
    for path in session.scalars(select(Area.path).where(Area.code.in_(list(target_codes)))):
        # A range on the indexed path ("p/" ≤ path < "p0", "0" following "/"): an exact
        # prefix test that, unlike LIKE, treats "_" in area codes literally.
        found.update(session.scalars(select(Area.code).where(
            Area.level == "village",
            or_(Area.path == path, and_(Area.path >= path + "/", Area.path < path + "0")),
        )))
    return sorted(found)


def _lock_schedule(session: Session, schedule_id: str) -> Schedule | None:
    """Take the schedule's row lock for this transaction and read it afresh (None if gone)."""
    return session.scalars(
        update(Schedule).where(Schedule.id == schedule_id)
        .values(issued_through=Schedule.issued_through, updated_at=Schedule.updated_at)
        .returning(Schedule)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()


def _future_orders(session: Session, schedule_id: str, now: datetime,
                   villages: Sequence[str] | None = None) -> list[Any]:
    columns = (PlayOrder.id, PlayOrder.village_code, PlayOrder.start_at, PlayOrder.state,
               PlayOrder.playlist_id, PlayOrder.title, PlayOrder.loop, PlayOrder.volume,
               PlayOrder.media, PlayOrder.duration_ms, PlayOrder.not_after)
    stmt = select(*columns).where(PlayOrder.schedule_id == schedule_id,
                                  PlayOrder.start_at >= now)
    if villages is None:
        return list(session.execute(stmt))
    found: list[Any] = []
    for chunk in _chunks(villages):
        found += session.execute(stmt.where(PlayOrder.village_code.in_(chunk)))
    return found


def _finish(session: Session, report: IssueReport) -> IssueReport:
    """Bump the changed villages' program versions; count issued orders once committed."""
    if report.villages:
        bump_program_versions(session, report.villages)
    if report.issued:
        count = report.issued
        on_commit(session, lambda: orders_issued.labels(kind="routine").inc(count))
    return report


def _withdraw(session: Session, schedule_id: str, now: datetime) -> IssueReport:
    rows = list(session.execute(
        select(PlayOrder.id, PlayOrder.village_code).where(
            PlayOrder.schedule_id == schedule_id, PlayOrder.state == "issued",
            PlayOrder.start_at >= now)
    ))
    set_orders(session, [r.id for r in rows], {"state": "withdrawn", "updated_at": now})
    return IssueReport(withdrawn=len(rows), villages={r.village_code for r in rows})


def withdraw_future_orders(
    session: Session, schedule_id: str, *, now: datetime | None = None
) -> IssueReport:
    """Withdraw every order of the schedule that has not started yet (disable, delete).

    For a schedule playing in many villages this is done in chunks once the caller commits
    (call it after the schedule is deleted or disabled in the session).
    """
    now = now or utcnow()
    if _many_villages(session, schedule_id, now):
        _defer(session, schedule_id, now)
        return IssueReport()
    return _finish(session, _withdraw(session, schedule_id, now))


MediaCache = dict[str, PlayoutMedia | None]


def _ready_media(session: Session, schedule: Schedule,
                 cache: MediaCache | None = None) -> PlayoutMedia | None:
    """The playlist's playable media, or None while it has nothing to play yet.

    A playlist whose newest approved audio is still rendering (``ready`` False) plays what
    it can: the last approved revision that has audio. Only a playlist with nothing playable
    at all (its first audio still rendering) issues nothing; the audio-ready event (or the
    next horizon run) issues its orders. ``cache`` shares one reading per playlist within a
    transaction (a change to the playlist re-issues these orders once it commits).
    """
    cache = {} if cache is None else cache
    if schedule.playlist_id not in cache:
        cache[schedule.playlist_id] = playout_media(session, schedule.playlist_id)
    media = cache[schedule.playlist_id]
    return media if media is not None and media.items else None


def reissue_schedule(
    session: Session, schedule_id: str, *, now: datetime | None = None
) -> IssueReport:
    """Bring the schedule's future orders (to the horizon) in line with the schedule."""
    return reissue_schedules(session, [schedule_id], now=now)


def reissue_schedules(
    session: Session, schedule_ids: Iterable[str], *, now: datetime | None = None,
    villages: Iterable[str] | None = None,
) -> IssueReport:
    """Re-issue several schedules; program versions are bumped once, after every lock is held.

    Schedules are locked in id order and village versions only at the end (sorted), the same
    order every issuer uses, so concurrent issuers wait for each other but never deadlock.
    ``villages``: only these villages' orders changed (a village moved); otherwise a
    schedule affecting more than :data:`INLINE_VILLAGES` villages is re-issued in chunks
    once this transaction commits.
    """
    now = now or utcnow()
    report = IssueReport()
    only = sorted(set(villages)) if villages is not None else None
    for schedule_id in sorted(set(schedule_ids)):
        if only is not None:
            report.merge(_reissue_villages(session, schedule_id, only, now))
        elif _many_villages(session, schedule_id, now):
            _defer(session, schedule_id, now)
        else:
            report.merge(_reissue(session, schedule_id, now))
            # Everything is in line now: a pass still running for an earlier change stops.
            session.execute(delete(PendingReissue).where(
                PendingReissue.schedule_id == schedule_id))
    return _finish(session, report)


def _affected_villages(session: Session, schedule_id: str, now: datetime) -> list[str]:
    """Villages whose orders of this schedule a re-issue may change: those it targets and
    those holding a future order of it."""
    schedule = session.get(Schedule, schedule_id)
    found = set(village_codes(session, schedule.target_codes)) \
        if schedule is not None and schedule.enabled else set()
    found.update(session.scalars(
        select(PlayOrder.village_code).where(
            PlayOrder.schedule_id == schedule_id, PlayOrder.state == "issued",
            PlayOrder.start_at >= now).distinct()))
    return sorted(found)


def _many_villages(session: Session, schedule_id: str, now: datetime) -> bool:
    """True when a re-issue may change more than :data:`INLINE_VILLAGES` villages' orders.

    Cheap even for 16,000 villages: each query stops after the limit (this runs in the
    transaction of the change, which may already hold SQLite's write lock).
    """
    schedule = session.get(Schedule, schedule_id)
    targeted: list[str] = []
    if schedule is not None and schedule.enabled:
        for path in session.scalars(select(Area.path).where(
                Area.code.in_(schedule.target_codes))):
            targeted += session.scalars(select(Area.code).where(
                Area.level == "village",
                or_(Area.path == path, and_(Area.path >= path + "/", Area.path < path + "0")),
            ).limit(INLINE_VILLAGES + 1))
            if len(targeted) > INLINE_VILLAGES:
                return True
    holding = list(session.scalars(select(PlayOrder.village_code).where(
        PlayOrder.schedule_id == schedule_id, PlayOrder.state == "issued",
        PlayOrder.start_at >= now).distinct().limit(INLINE_VILLAGES + 1)))
    return len(set(targeted) | set(holding)) > INLINE_VILLAGES


def _covered(session: Session, target_codes: Sequence[str],
             villages: Sequence[str]) -> list[str]:
    """Those of ``villages`` that lie in or under one of the target areas."""
    paths = list(session.scalars(select(Area.path).where(Area.code.in_(list(target_codes)))))
    found = []
    for chunk in _chunks(villages):
        for code, path in session.execute(select(Area.code, Area.path).where(
                Area.code.in_(chunk), Area.level == "village")):
            if any(path == p or path.startswith(p + "/") for p in paths):
                found.append(code)
    return sorted(found)


def _withdraw_rows(session: Session, rows: Sequence[Any], now: datetime) -> IssueReport:
    issued = [r for r in rows if r.state == "issued"]
    set_orders(session, [r.id for r in issued], {"state": "withdrawn", "updated_at": now})
    return IssueReport(withdrawn=len(issued), villages={r.village_code for r in issued})


def _reissue_villages(session: Session, schedule_id: str, villages: Sequence[str] | None,
                      now: datetime, extend_to: datetime | None = None) -> IssueReport:
    """Bring the schedule's future orders in ``villages`` (None: all) in line with it (lock
    taken).

    Orders go up to ``issued_through``; with ``extend_to``, up to that (or further if
    already issued further) and ``issued_through`` follows.
    """
    schedule = _lock_schedule(session, schedule_id)
    existing = _future_orders(session, schedule_id, now, villages)
    if schedule is None or not schedule.enabled:
        return _withdraw_rows(session, existing, now)
    cache: MediaCache = {}
    media = _ready_media(session, schedule, cache)
    if cache[schedule.playlist_id] is None:
        return _withdraw_rows(session, existing, now)  # the playlist is gone
    if media is None:
        return IssueReport()
    end = schedule.issued_through or horizon_end(now)
    if extend_to is not None:
        end = max(end, extend_to) if schedule.issued_through else extend_to
        schedule.issued_through = end
    starts = occurrences(rule_of(schedule), now, end)
    covered = village_codes(session, schedule.target_codes) if villages is None \
        else _covered(session, schedule.target_codes, villages)
    wanted = {(village, start) for start in starts for village in covered}
    return _reconcile(session, _template(schedule, media), wanted, existing, now)


def _defer(session: Session, schedule_id: str, now: datetime) -> None:
    """Record that the schedule's orders must follow this change; start a chunked pass once
    the change commits (the lease holder resumes it if this process stops first)."""
    _lock_schedule(session, schedule_id)  # after any pass's chunk in flight
    token = new_id("rei")
    connection = session.connection()
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = cast(Table, PendingReissue.__table__)
    connection.execute(insert(table).values(
        schedule_id=schedule_id, token=token, requested_at=now, seen_at=None,
    ).on_conflict_do_update(index_elements=[table.c.schedule_id],
                            set_={"token": token, "requested_at": now, "seen_at": None}))
    on_commit(session, lambda: _pass_after_commit(schedule_id, token))


def _pass_after_commit(schedule_id: str, token: str) -> None:
    try:
        reissue_in_chunks(schedule_id, token)
    except Interrupted:
        log.info("re-issuing schedule %s stopped between two chunks; it will be resumed",
                 schedule_id)


class _Superseded(Exception):  # noqa: N818 (rolls a chunk back; not an error)
    """A newer change (or an in-line re-issue) took over from this pass."""


def _claim_chunk(session: Session, schedule_id: str, token: str) -> bool:
    """Note this pass is alive (after the schedule's lock); False once it was superseded."""
    return session.execute(
        update(PendingReissue)
        .where(PendingReissue.schedule_id == schedule_id, PendingReissue.token == token)
        .values(seen_at=utcnow())
        .returning(PendingReissue.schedule_id)
        .execution_options(synchronize_session=False)
    ).first() is not None


def reissue_in_chunks(schedule_id: str, token: str) -> IssueReport:
    """Bring a schedule's future orders in line with its change ``token``, a chunk of
    villages per transaction; stops early if a newer change supersedes it.

    Raises :class:`app.runtime.chunked.Interrupted` between chunks when the process stops (the
    pending record stays: the pass is resumed).
    """
    now = utcnow()
    with session_scope() as session:
        villages = _affected_villages(session, schedule_id, now)
    end, report = horizon_end(now), IssueReport()
    try:
        for chunk in Pacer(first=PASS_CHUNK[0], least=PASS_CHUNK[1],
                           most=PASS_CHUNK[2]).chunks(villages):
            with session_scope() as session:
                done = _reissue_villages(session, schedule_id, chunk, utcnow(), extend_to=end)
                if not _claim_chunk(session, schedule_id, token):
                    raise _Superseded  # this chunk rolls back
                report.merge(_finish(session, done))
    except _Superseded:
        return report
    with session_scope() as session:
        _lock_schedule(session, schedule_id)
        session.execute(delete(PendingReissue).where(PendingReissue.schedule_id == schedule_id,
                                                     PendingReissue.token == token))
    return report


def resume_pending_reissues(*, now: datetime | None = None) -> int:
    """Resume the chunked re-issues that no process has worked on lately (its process
    stopped or died); how many were resumed."""
    cutoff = (now or utcnow()) - _PASS_STALE
    stale = func.coalesce(PendingReissue.seen_at, PendingReissue.requested_at) < cutoff
    with session_scope() as session:
        found = list(session.execute(select(PendingReissue.schedule_id, PendingReissue.token)
                                     .where(stale).order_by(PendingReissue.schedule_id)))
    resumed = 0
    for schedule_id, token in found:
        with session_scope() as session:
            claimed = session.execute(
                update(PendingReissue)
                .where(PendingReissue.schedule_id == schedule_id,
                       PendingReissue.token == token, stale)
                .values(seen_at=utcnow()).returning(PendingReissue.schedule_id)
                .execution_options(synchronize_session=False)).first()
        if claimed is not None:
            log.info("resuming the re-issue of schedule %s", schedule_id)
            reissue_in_chunks(schedule_id, token)
            resumed += 1
    return resumed


def _reissue(session: Session, schedule_id: str, now: datetime) -> IssueReport:
    """Every village of the schedule, up to the horizon (a change made in-line)."""
    return _reissue_villages(session, schedule_id, None, now, extend_to=horizon_end(now))


def _reconcile(session: Session, template: _Template, wanted: set[Key],
               existing: list[Any], now: datetime) -> IssueReport:
    report = IssueReport()
    known: set[Key] = set()
    withdraw, refresh = [], defaultdict(list)
    for order in existing:
        key = (order.village_code, order.start_at)
        known.add(key)
        if order.state not in ("issued", "withdrawn"):
            continue  # it has an outcome already (a receipt came early): leave it be
        if key not in wanted:
            if order.state == "issued":
                withdraw.append(order.id)
                report.villages.add(order.village_code)
        elif order.state == "withdrawn" or template.differs(order):
            refresh[order.start_at].append(order.id)
            report.villages.add(order.village_code)
            if order.state == "withdrawn":
                report.revived += 1
            else:
                report.updated += 1
    set_orders(session, withdraw, {"state": "withdrawn", "updated_at": now})
    report.withdrawn = len(withdraw)
    for start_at, ids in refresh.items():
        set_orders(session, ids, {"state": "issued", "updated_at": now,
                                  **template.fields(start_at)})
    new_rows = template.rows(sorted(wanted - known, key=lambda k: (k[1], k[0])), now)
    insert_orders(session, new_rows)
    report.inserted = len(new_rows)
    report.villages.update(row["village_code"] for row in new_rows)
    return report


def _new_rows(session: Session, template: _Template, villages: Sequence[str],
              starts: Sequence[datetime], now: datetime,
              only_these: bool | None = None) -> list[dict[str, Any]]:
    """Rows of the orders of these starts and villages that do not exist yet (lock held).

    ``only_these``: read the existing orders of these villages only (a few among many);
    by default, when there is a single village.
    """
    if only_these is None:
        only_these = len(villages) == 1
    existing = _existing_keys(session, template.schedule_id, starts,
                              villages if only_these else None)
    keys = [(v, start) for start in starts for v in villages if (v, start) not in existing]
    return template.rows(keys, now)


def _top_up_rows(session: Session, schedule_id: str, now: datetime,
                 cache: MediaCache) -> list[dict[str, Any]]:
    """Lock the schedule; the rows of its orders between ``issued_through`` and the horizon."""
    schedule = _lock_schedule(session, schedule_id)
    if schedule is None or not schedule.enabled:
        return []
    end = horizon_end(now)
    since = max(now, schedule.issued_through or now)
    if since >= end:
        return []
    starts = occurrences(rule_of(schedule), since, end)
    rows: list[dict[str, Any]] = []
    if starts:
        media = _ready_media(session, schedule, cache)
        if media is None:
            return []  # issued_through stays: the next run tries again
        rows = _new_rows(session, _template(schedule, media),
                         village_codes(session, schedule.target_codes), starts, now)
    schedule.issued_through = end
    return rows


def _issue_rows(session: Session, rows: list[dict[str, Any]]) -> IssueReport:
    """Insert new orders in one executemany; bump their villages once."""
    insert_orders(session, rows)
    report = IssueReport(inserted=len(rows), villages={row["village_code"] for row in rows})
    return _finish(session, report)


def top_up_schedules(
    session: Session, schedule_ids: Iterable[str], *, now: datetime | None = None
) -> IssueReport:
    """Issue the schedules' occurrences between their ``issued_through`` and the horizon."""
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    cache: MediaCache = {}
    for schedule_id in sorted(set(schedule_ids)):
        rows += _top_up_rows(session, schedule_id, now, cache)
    return _issue_rows(session, rows)


def top_up_schedule(
    session: Session, schedule_id: str, *, now: datetime | None = None
) -> IssueReport:
    """Issue one schedule's occurrences between its ``issued_through`` and the horizon."""
    return top_up_schedules(session, [schedule_id], now=now)


def _slot_rows(session: Session, schedule_id: str, start_at: datetime, now: datetime,
               cache: MediaCache) -> list[dict[str, Any]]:
    """Lock the schedule; rows of the orders its villages lack for the slot at ``start_at``."""
    schedule = _lock_schedule(session, schedule_id)
    if schedule is None or not schedule.enabled:
        return []
    if start_at not in occurrences(rule_of(schedule), start_at, start_at + timedelta(seconds=1)):
        return []
    media = _ready_media(session, schedule, cache)
    if media is None:
        return []
    villages = village_codes(session, schedule.target_codes)
    return _new_rows(session, _template(schedule, media), villages, [start_at], now)


def verify_slots(session: Session, slots: dict[str, datetime]) -> IssueReport:
    """Make sure every village holds its order for each (schedule → slot start) given.

    Issues a missing one (it still plays, late, before its not_after); never revives a
    withdrawn one.
    """
    now, rows, cache = utcnow(), list[dict[str, Any]](), MediaCache()
    for schedule_id in sorted(slots):
        rows += _slot_rows(session, schedule_id, slots[schedule_id], now, cache)
    report = _issue_rows(session, rows)
    if report.inserted:
        log.warning("%d order(s) were missing for slots starting now; issued them",
                    report.inserted)
    return report


def verify_slot(session: Session, schedule_id: str, start_at: datetime) -> IssueReport:
    """Make sure every village of the schedule holds its order for the slot at ``start_at``."""
    return verify_slots(session, {schedule_id: start_at})


def top_up_all(*, now: datetime | None = None) -> IssueReport:
    """Top up every enabled schedule with an occurrence due before the horizon.

    Which schedules are due is read without locks (a pure computation per schedule); only
    those are locked and issued, in short transactions (:func:`top_up_paced`).
    """
    now = now or utcnow()
    end = horizon_end(now)
    with session_scope() as session:
        due = [s.id for s in session.scalars(select(Schedule).where(Schedule.enabled.is_(True))
                                              .order_by(Schedule.id))
               if occurrences(rule_of(s), max(now, s.issued_through or now), end)]
    return top_up_paced(due, now=now)


Unit = tuple[str, str | None]  # (schedule, village); None: the schedule has no village


def top_up_paced(schedule_ids: Iterable[str], *, now: datetime | None = None) -> IssueReport:
    """Top up schedules in short transactions, each a chunk of (schedule, village) pairs.

    A schedule's ``issued_through`` advances with the chunk holding its last village, so a
    top-up stopped half-way is simply done again (what exists is not issued twice).
    """
    now = now or utcnow()
    units: list[Unit] = []
    with session_scope() as session:
        for schedule_id in sorted(set(schedule_ids)):
            schedule = session.get(Schedule, schedule_id)
            villages = village_codes(session, schedule.target_codes) if schedule else []
            units += [(schedule_id, v) for v in villages] or [(schedule_id, None)]
    last = {schedule_id: index for index, (schedule_id, _) in enumerate(units)}
    total, done = IssueReport(), 0
    pacer = Pacer(first=TOP_UP_CHUNK[0], least=TOP_UP_CHUNK[1], most=TOP_UP_CHUNK[2])
    for chunk in pacer.chunks(units):
        with session_scope() as session:
            total.merge(_top_up_units(session, chunk, now, ends={
                sid for sid, index in last.items() if done <= index < done + len(chunk)}))
        done += len(chunk)
    return total


def _top_up_units(session: Session, units: Sequence[Unit], now: datetime,
                  ends: set[str]) -> IssueReport:
    """One chunk of a paced top-up; ``ends``: schedules whose last village is in it."""
    by_schedule: dict[str, list[str]] = defaultdict(list)
    for schedule_id, village in units:
        by_schedule[schedule_id] += [village] if village else []
    rows: list[dict[str, Any]] = []
    cache: MediaCache = {}
    for schedule_id in sorted(by_schedule):
        schedule = _lock_schedule(session, schedule_id)
        if schedule is None or not schedule.enabled:
            continue
        end = horizon_end(now)
        since = max(now, schedule.issued_through or now)
        starts = occurrences(rule_of(schedule), since, end) if since < end else []
        media = _ready_media(session, schedule, cache) if starts else None
        if starts and media is None:
            continue  # nothing playable yet: issued_through stays, the next run tries again
        if starts and media is not None:
            villages = _covered(session, schedule.target_codes, by_schedule[schedule_id])
            rows += _new_rows(session, _template(schedule, media), villages, starts, now,
                              only_these=True)
        if schedule_id in ends and since < end:
            schedule.issued_through = end
    return _issue_rows(session, rows)


def schedules_covering(session: Session, village: Area) -> list[Schedule]:
    """Enabled schedules with a target that is the village or one of its ancestors."""
    ancestors = village.path.split("/")
    targeting = select(ScheduleTarget.schedule_id).where(ScheduleTarget.area_code.in_(ancestors))
    stmt = (select(Schedule).where(Schedule.enabled.is_(True), Schedule.id.in_(targeting))
            .order_by(Schedule.id))
    return list(session.scalars(stmt))


def issue_village(session: Session, village: Area, *, now: datetime | None = None) -> IssueReport:
    """Give a (new) village the orders of every schedule that covers it, up to the horizon."""
    return issue_villages(session, [(village.code, village.path)], now=now)


def issue_villages(session: Session, villages: Sequence[tuple[str, str]], *,
                   now: datetime | None = None) -> IssueReport:
    """Give new villages, as (code, path), the orders of every schedule covering them."""
    now = now or utcnow()
    above: dict[str, list[str]] = defaultdict(list)  # area code → the villages below it
    for code, path in villages:
        for part in path.split("/")[:-1]:  # a new village is no schedule's target yet
            above[part].append(code)
    targeting = select(ScheduleTarget.schedule_id, ScheduleTarget.area_code).join(
        Schedule, Schedule.id == ScheduleTarget.schedule_id).where(Schedule.enabled.is_(True))
    covered: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(above)):
        for schedule_id, area_code in session.execute(
                targeting.where(ScheduleTarget.area_code.in_(chunk))):
            covered[schedule_id].update(above[area_code])
    rows: list[dict[str, Any]] = []
    cache: MediaCache = {}
    for schedule_id in sorted(covered):
        locked = _lock_schedule(session, schedule_id)
        if locked is None or not locked.enabled:
            continue
        media = _ready_media(session, locked, cache)
        if media is None:
            continue
        starts = occurrences(rule_of(locked), now, locked.issued_through or horizon_end(now))
        rows += _new_rows(session, _template(locked, media), sorted(covered[schedule_id]),
                          starts, now, only_these=True)
    return _issue_rows(session, rows)

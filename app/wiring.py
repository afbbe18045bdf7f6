"""What this process runs besides answering requests, listed in one place, top to bottom.

Nothing registers itself by being imported: the parts of the domain provide functions, and
this module says which of them run and when.

- :data:`EVENTS` — every domain event and what it carries;
- :data:`SUBSCRIBERS` — the domain's reactions to them, run inside the transaction of the
  change that caused them;
- :data:`LEADER_JOBS` and :data:`SCHEDULE_CLOCK` — the scheduler's jobs, run by the one
  process holding the lease;
- :data:`TOKEN_KINDS` — who resolves which bearer token;
- :data:`AREA_USAGE_CHECKS`, :data:`PLAYLIST_USAGE_CHECKS` — what keeps an area or a playlist
  from being deleted; which schedules use a day type;
- :data:`COLLECTORS` — metrics read from the database at each scrape;
- :func:`build_services` — the background services of a server process, in start order, with
  the events each hears while it runs.

:func:`wire` installs the lists; :func:`app.main.create_app` calls it, and so do the
command-line tools that write to the database, and the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from app.announcements.service import announcements_in_area, on_pronunciation_changed
from app.announcements.worker import RenderWorker
from app.areas import service as areas
from app.areas.imports import RESUME_EVERY_S, resume_imports
from app.auth.security import API_KEY_PREFIX, TERMINAL_TOKEN_PREFIX, USER_TOKEN_PREFIX
from app.auth.tokens import TokenResolver, install_token_kinds
from app.broadcasts.jobs import SWEEP_SECONDS, sweep_broadcasts
from app.broadcasts.service import on_receipts_recorded
from app.config import Settings
from app.daytypes import service as day_types
from app.feeds.metrics import FeedCollector
from app.feeds.poller import POLL_EVERY_S, run_feed_polls
from app.maintenance.retention import RETENTION_EVERY_S, run_retention
from app.maintenance.sweep import SWEEP_EVERY_S, on_speaker_retired, run_sweep
from app.maintenance.webhook_worker import WebhookWorker
from app.maintenance.webhooks import on_broadcast_finished
from app.media.housekeeping import MediaHousekeeping
from app.metrics import install_collectors
from app.playlists import service as playlists
from app.playlists.service import playlists_in_area
from app.playout.deliveries import DeliveryRecorder
from app.playout.drain import DrainOnSigterm
from app.playout.jobs import MARK_MISSED_EVERY_S, mark_missed
from app.playout.longpoll import TerminalRuntime
from app.playout.notify import (
    ProgramNotifications,
    announce_orders_changed,
    announce_token_changed,
)
from app.playout.service import on_speaker_moved
from app.pronunciations.service import pronunciations_in_area
from app.runtime import events
from app.runtime.chunked import LongWrites
from app.runtime.events import Handler
from app.runtime.jobs import LeaderJob
from app.runtime.scheduler import SchedulerRuntime
from app.runtime.services import Running, Services
from app.schedules import reactions
from app.schedules.jobs import (
    HORIZON_EVERY_S,
    REISSUE_EVERY_S,
    SCHEDULE_CLOCK,
    resume_reissues,
    top_up_horizon,
)
from app.schedules.service import (
    schedules_playing_playlist,
    schedules_targeting_area,
    schedules_using_day_type,
)
from app.speakers.heartbeats import HeartbeatService
from app.speakers.service import resolve_terminal_token, speakers_in_area
from app.users import service as users

__all__ = ["EVENTS", "SUBSCRIBERS", "LEADER_JOBS", "SCHEDULE_CLOCK", "TOKEN_KINDS",
           "AREA_USAGE_CHECKS", "PLAYLIST_USAGE_CHECKS", "COLLECTORS", "wire", "build_services"]

# ---------------------------------------------------------------- events

# Every domain event: ``emit(session, name, **data)`` with this data, inside the transaction
# of the change.
EVENTS: dict[str, str] = {
    "area.created": "area: Area",
    "areas.created": "villages: list[(code, path)] (a CSV import's chunk, written in bulk; "
                     "area.created is not emitted for them)",
    "area.moved": "area: Area, old_path: str (its subtree moved with it)",
    "playlist.changed": "playlist_id: str",
    "announcement.approved": "announcement_id: str",
    "announcement.audio_ready": "announcement_id: str (an approved revision's audio is stored)",
    "pronunciation.changed": "area_path: str, words: set[str], rerendering: list[str] (an "
                             "entry of the area's lexicon changed; subscribers add the ids of "
                             "the announcements they render again)",
    "render.queued": "(a render job was queued)",
    "schedule.changed": "schedule_id: str",
    "day_type.changed": "day_type: str (its name; created, or its dates changed)",
    "orders.changed": "village_codes: set[str] (after program versions were bumped)",
    "speaker.health": "speaker_id: str, status: str (once per transition; for listeners "
                      "outside the service: nothing in it reacts)",
    "speaker.moved": "speaker_id: str, from_village: str, to_village: str",
    "speaker.retired": "speaker_id: str",
    "speaker.token_changed": "speaker_id: str (token rotated or revoked, or moved village)",
    "receipts.recorded": "order_id: str, speaker_id: str, village_code: str, events: list[str]",
    "broadcast.finished": "broadcast_id: str",
    "webhook.queued": "(webhook deliveries were queued)",
}

# The domain's reactions, in the order they run. Running services add their wake-ups
# (build_services below).
SUBSCRIBERS: list[tuple[str, Handler]] = [
    # Schedules follow the villages, playlists and content they play.
    ("area.created", reactions.on_area_created),
    ("areas.created", reactions.on_areas_created),
    ("area.moved", reactions.on_area_moved),
    ("playlist.changed", reactions.on_playlist_changed),
    ("announcement.approved", reactions.on_content_changed),
    ("announcement.audio_ready", reactions.on_content_changed),
    ("day_type.changed", reactions.on_day_type_changed),
    # Announcements saying a word whose reading changed are rendered again.
    ("pronunciation.changed", on_pronunciation_changed),
    # Other processes hear of changed programs and tokens (PostgreSQL NOTIFY at commit).
    ("orders.changed", announce_orders_changed),
    ("speaker.token_changed", announce_token_changed),
    # A moved speaker's terminal gets its new village's program at once.
    ("speaker.moved", on_speaker_moved),
    # A receipt may finish its urgent broadcast.
    ("receipts.recorded", on_receipts_recorded),
    # Maintenance: webhooks of finished broadcasts; a retired speaker's tickets close.
    ("broadcast.finished", on_broadcast_finished),
    ("speaker.retired", on_speaker_retired),
]

# ---------------------------------------------------------------- the scheduler's jobs

LEADER_JOBS: list[LeaderJob] = [
    LeaderJob("schedules.horizon", top_up_horizon, seconds=HORIZON_EVERY_S),
    LeaderJob("schedules.reissue", resume_reissues, seconds=REISSUE_EVERY_S),
    LeaderJob("playout.mark_missed", mark_missed, seconds=MARK_MISSED_EVERY_S),
    LeaderJob("broadcasts.sweep", sweep_broadcasts, seconds=SWEEP_SECONDS),
    LeaderJob("maintenance.sweep", run_sweep, seconds=SWEEP_EVERY_S),
    LeaderJob("maintenance.retention", run_retention, seconds=RETENTION_EVERY_S),
    LeaderJob("feeds.poll", run_feed_polls, seconds=POLL_EVERY_S),
    LeaderJob("areas.imports", resume_imports, seconds=RESUME_EVERY_S),
]
# SCHEDULE_CLOCK (app.schedules.jobs): one job per local time of day a schedule plays at.

# ---------------------------------------------------------------- registries

TOKEN_KINDS: dict[str, TokenResolver] = {
    USER_TOKEN_PREFIX: users.resolve_user_token,  # cxu_: a person's login
    API_KEY_PREFIX: users.resolve_api_key,  # cxk_: an API key
    TERMINAL_TOKEN_PREFIX: resolve_terminal_token,  # cxt_: a speaker's terminal
}

# Asked in this order before an area (a playlist) is deleted; the first reason answers 409.
AREA_USAGE_CHECKS: list[Callable[..., str | None]] = [
    announcements_in_area, playlists_in_area, schedules_targeting_area, speakers_in_area,
    pronunciations_in_area,
]
PLAYLIST_USAGE_CHECKS: list[Callable[..., str | None]] = [schedules_playing_playlist]

COLLECTORS = [FeedCollector()]


def wire() -> None:
    """Install the lists above (again: each call replaces what the last one installed)."""
    events.install(SUBSCRIBERS)
    install_token_kinds(TOKEN_KINDS)
    areas.install_usage_checks(AREA_USAGE_CHECKS)
    playlists.install_usage_checks(PLAYLIST_USAGE_CHECKS)
    day_types.install_schedule_finder(schedules_using_day_type)
    install_collectors(COLLECTORS)


# ---------------------------------------------------------------- background services


def build_services(settings: Settings, *, terminals: TerminalRuntime) -> Services:
    """The background services of a server process, started in this order and stopped in the
    reverse one; ``terminals`` is the app's terminal runtime (the notifier keeps it fresh)."""
    render = RenderWorker(concurrency=settings.render_workers)
    notifications = ProgramNotifications(terminals)
    webhooks = WebhookWorker()
    running: list[Running] = [
        Running("render worker", render, hears=[("render.queued", render.wake_after_commit)]),
    ]
    if settings.scheduler:  # CUNXIANG_SCHEDULER=false: API only
        scheduler = SchedulerRuntime(jobs=LEADER_JOBS, clock=SCHEDULE_CLOCK)
        running.append(Running("scheduler", scheduler,
                               hears=[("schedule.changed", scheduler.nudge_after_commit)]))
    running += [
        Running("program notifier", notifications,
                hears=[("orders.changed", notifications.wake_after_commit),
                       ("speaker.token_changed", notifications.forget_after_commit)]),
        Running("deliveries", DeliveryRecorder()),
        Running("heartbeats", HeartbeatService()),
        Running("webhook worker", webhooks,
                hears=[("webhook.queued", webhooks.wake_after_commit)]),
        # Stopped before the services above: long writes (imports, re-issues) stop between
        # two chunks first.
        Running("long writes", LongWrites()),
        Running("media housekeeping", MediaHousekeeping()),
        Running("long-poll drain", DrainOnSigterm(notifications)),
    ]
    return Services(running)

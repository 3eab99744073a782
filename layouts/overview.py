"""Overview: the town at a glance, six headline numbers and the freshness of every feed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from dash import html

from layouts import alerts as alerts_screen
from layouts import cameras as cameras_screen
from layouts import indicators as indicators_screen
from layouts.common import (
    Context,
    age_text,
    alarm_slot,
    big_tile,
    fmt_int,
    mark,
    newest_age,
    percent,
    screen_header,
)
from wall.city import CitySettings
from wall.domain import is_open_report
from wall.i18n import Translator

NAME = "overview"
PARTS = ("cameras", "wifi", "reports", "kpi", "kpi_submitted", "feeds", "alerts")
TILES = ("cameras", "wifi", "clients", "reports", "alerts", "indicators")
# The data behind each feed chip: (data part, label key).
FEEDS = (
    ("cameras", "feed.camera"),
    ("wifi", "feed.wifi"),
    ("reports", "feed.report"),
    ("kpi", "feed.kpi"),
)
MAX_WORKER_CHIPS = 3
PROBLEM_CHARS = 90  # of a store's refusal on a chip (the full text is in the worker's log)


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [html.Div(id=f"{NAME}-{tile}", className="slot") for tile in TILES],
                className="overview-grid",
            ),
            html.Footer(id=f"{NAME}-feeds", className="feed-strip"),
        ],
        className="screen",
    )


def fresh(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Rows whose newest point is within the staleness limit: what is live now."""
    if frame.empty:
        return frame
    limit = pd.Timestamp(ctx.now) - pd.Timedelta(seconds=ctx.stale_after_seconds)
    return frame[frame["time"] >= limit]


def status_marks(counts: Mapping[str, int], ctx: Context, words: Mapping[str, str]) -> list:
    """Marks for the states that need attention, e.g. ✖ 7 mất kết nối  ◷ 3 dữ liệu cũ."""
    return [
        mark(status, ctx.t, f"{fmt_int(counts[status], ctx.lang)} {ctx.t(word)}")
        for status, word in words.items()
        if counts.get(status, 0)
    ]


def cameras_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    states = cameras_screen.camera_states(data["cameras"], ctx)
    counts = states["status"].value_counts().to_dict()
    total, online = len(states), counts.get("online", 0)
    pct = percent(online, total)
    problems = status_marks(
        counts,
        ctx,
        {"offline": "ov.not_online", "stale": "ov.stale", "nodata": "ov.unknown"},
    )
    return big_tile(
        ctx.t("ov.cameras"),
        ctx.t("of", part=fmt_int(online, ctx.lang), whole=fmt_int(total, ctx.lang)),
        newest_age(data["cameras"], ctx),
        ctx,
        detail=[*problems, f"{pct}%"] if pct is not None else None,
        status="online" if total and online == total else None,
    )


def wifi_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    aps = data["wifi"]
    live = fresh(aps, ctx)
    up_flags = live["up"].fillna(False).astype(bool) if not live.empty else pd.Series(dtype=bool)
    counts = {"up": int(up_flags.sum()), "down": int((~up_flags).sum())}
    counts["stale"] = len(aps) - len(live)
    total, up = len(aps), counts["up"]
    pct = percent(up, total)
    problems = status_marks(counts, ctx, {"down": "ov.not_up", "stale": "ov.stale"})
    return big_tile(
        ctx.t("ov.wifi_up"),
        ctx.t("of", part=fmt_int(up, ctx.lang), whole=fmt_int(total, ctx.lang)),
        newest_age(aps, ctx),
        ctx,
        detail=[*problems, f"{pct}%"] if pct is not None else None,
        status="up" if total and up == total else None,
    )


def clients_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    aps = data["wifi"]
    clients = aps["clients"].sum() if "clients" in aps.columns and not aps.empty else None
    return big_tile(
        ctx.t("ov.clients"),
        fmt_int(clients, ctx.lang) if clients is not None else "–",
        newest_age(data["wifi"], ctx),
        ctx,
    )


def open_reports(reports: pd.DataFrame) -> pd.DataFrame:
    return reports[is_open_report(reports)]


def reports_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    reports = data["reports"]
    opened = open_reports(reports)
    new = int((opened["status"] == "new").sum()) if not opened.empty else 0
    return big_tile(
        ctx.t("ov.reports_open"),
        fmt_int(len(opened), ctx.lang),
        newest_age(reports, ctx),
        ctx.for_part("reports"),
        detail=f"{ctx.t('rep.status.new')}: {fmt_int(new, ctx.lang)}",
    )


def alerts_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    shown = alerts_screen.shown_alerts(data["alerts"], ctx)
    unacked = shown[shown["state"] != "active_ack"] if not shown.empty else shown
    counts = unacked["severity"].value_counts() if not unacked.empty else pd.Series(dtype=int)
    detail = [
        alerts_screen.severity_mark(sev, ctx.t, f"{int(counts[sev])}")
        for sev in alerts_screen.SEVERITIES
        if sev in counts
    ]
    alerts = data["alerts"]
    newest = ctx.age_seconds(alerts["time"].max()) if not alerts.empty else None
    return big_tile(
        ctx.t("ov.alerts_unack"),
        fmt_int(len(unacked), ctx.lang),
        None,
        ctx,
        detail=detail or None,
        status=None if len(unacked) else "met",
        status_word=ctx.t("al.none"),
        # The alert log is written when something happens: its age is no sign of staleness.
        age_note=ctx.t("al.newest", age=age_text(newest, ctx.t)) if newest is not None else "",
    )


def indicators_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    # Without the daily history (the overview reads no history part): latest values only.
    kpis = indicators_screen.assess(indicators_screen.latest_values(data, ctx), pd.DataFrame(), ctx)
    shown = indicators_screen.with_unreported(kpis, ctx)  # as the indicators screen counts them
    met, targets = indicators_screen.targets_met(shown)
    return big_tile(
        ctx.t("ov.indicators"),
        ctx.t("of", part=fmt_int(met, ctx.lang), whole=fmt_int(targets, ctx.lang)),
        newest_age(kpis, ctx),
        ctx.for_part("kpi"),
        detail=indicators_screen.assessment_counts(shown, ctx),
    )


def feeds_strip(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    """One chip per kind of data (live or stale by the newest point written), then one per feed
    worker that reports its health (by the age of its last message, or its store's refusal)."""
    chips = [html.Span(ctx.t("ov.feeds"), className="feed-strip-title")]
    for part, label in FEEDS:
        chips.append(feed_chip(ctx.t(label), newest_age(data[part], ctx), ctx.for_part(part)))
    health = data["feeds"]
    if not health.empty and "feed" in health.columns:
        for row in health.head(MAX_WORKER_CHIPS).to_dict("records"):
            age = ctx.age_seconds(row["time"])
            last_message = row.get("last_message_age_s")
            if age is not None and last_message is not None and not pd.isna(last_message):
                age += float(last_message)
            chips.append(feed_chip(str(row["feed"]), age, ctx, store_problem(row)))
    return chips


def store_problem(health: Mapping) -> str:
    """Why the worker's store refuses its writes, on one short line ("" while it takes them):
    its end, where the store's messages put the server's own reason."""
    problem = health.get("store_problem")
    if not isinstance(problem, str):  # absent (an older worker), or NaN
        return ""
    problem = " ".join(problem.split())
    return problem if len(problem) <= PROBLEM_CHARS else "…" + problem[1 - PROBLEM_CHARS :]


def feed_chip(name: str, age: float | None, ctx: Context, problem: str = "") -> html.Div:
    """A worker whose store refuses its writes (it holds them back and retries) says so and
    why, whatever the age of its last message: "stale" alone would hide the cause."""
    status = "nodata" if age is None else "stale" if ctx.is_stale(age) else "live"
    if problem:
        # Retrying, as far as the wall knows; since when it last heard from it, once stale.
        lead = ctx.t("ov.feed_age", age=age_text(age, ctx.t)) if status == "stale" else ""
        return html.Div(
            [
                html.Span(name, className="feed-name"),
                mark("offline", ctx.t, ctx.t("ov.store_problem")),
                html.Span(f"{lead or ctx.t('ov.retrying')} · {problem}", className="feed-age"),
            ],
            className="feed-chip feed-chip--store-problem",
        )
    return html.Div(
        [
            html.Span(name, className="feed-name"),
            mark(status, ctx.t),
            html.Span(
                ctx.t("ov.feed_age", age=age_text(age, ctx.t)) if age is not None else "",
                className="feed-age",
            ),
        ],
        className=f"feed-chip feed-chip--{status}",
    )


OUTPUTS = {
    f"{NAME}-cameras.children": cameras_tile,
    f"{NAME}-wifi.children": wifi_tile,
    f"{NAME}-clients.children": clients_tile,
    f"{NAME}-reports.children": reports_tile,
    f"{NAME}-alerts.children": alerts_tile,
    f"{NAME}-indicators.children": indicators_tile,
    f"{NAME}-feeds.children": feeds_strip,
}

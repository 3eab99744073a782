"""Overview: the town at a glance, six headline numbers and the freshness of every feed."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from dash import html

from layouts import alerts as alerts_screen
from layouts import indicators as indicators_screen
from layouts.common import (
    Context,
    age_text,
    big_tile,
    fmt_int,
    mark,
    newest_age,
    percent,
    screen_header,
)
from wall.domain import OPEN_REPORT_STATUSES
from wall.i18n import Translator

NAME = "overview"
PARTS = ("cameras", "wifi", "reports", "kpi", "feeds", "alerts")
TILES = ("cameras", "wifi", "clients", "reports", "alerts", "indicators")
# The data behind each feed chip: (feed name, data part, label key).
FEEDS = (
    ("camera", "cameras", "feed.camera"),
    ("wifi", "wifi", "feed.wifi"),
    ("report", "reports", "feed.report"),
    ("kpi", "kpi", "feed.kpi"),
)


def shell(t: Translator, tz: str) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, tz),
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


def cameras_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    cams = data["cameras"]
    total = len(cams)
    live = fresh(cams, ctx)
    online = int(live["online"].fillna(False).astype(bool).sum()) if not live.empty else 0
    pct = percent(online, total)
    status = None if not total else "online" if online == total else "offline"
    word = (
        ctx.t("status.online") if online == total else f"{total - online} {ctx.t('ov.not_online')}"
    )
    return big_tile(
        ctx.t("ov.cameras"),
        ctx.t("of", part=fmt_int(online, ctx.lang), whole=fmt_int(total, ctx.lang)),
        newest_age(cams, ctx),
        ctx,
        detail=f"{pct}%" if pct is not None else None,
        status=status,
        status_word=word,
    )


def wifi_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    aps = data["wifi"]
    live = fresh(aps, ctx)
    up = int(live["up"].fillna(False).astype(bool).sum()) if not live.empty else 0
    total = len(aps)
    status = None if not total else "up" if up == total else "down"
    pct = percent(up, total)
    word = ctx.t("status.up") if up == total else f"{total - up} {ctx.t('ov.not_up')}"
    return big_tile(
        ctx.t("ov.wifi_up"),
        ctx.t("of", part=fmt_int(up, ctx.lang), whole=fmt_int(total, ctx.lang)),
        newest_age(aps, ctx),
        ctx,
        detail=f"{pct}%" if pct is not None else None,
        status=status,
        status_word=word,
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
    if reports.empty or "status" not in reports.columns:
        return reports.iloc[0:0]
    return reports[reports["status"].isin(OPEN_REPORT_STATUSES)]


def reports_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    reports = data["reports"]
    opened = open_reports(reports)
    new = int((opened["status"] == "new").sum()) if not opened.empty else 0
    return big_tile(
        ctx.t("ov.reports_open"),
        fmt_int(len(opened), ctx.lang),
        newest_age(reports, ctx),
        ctx,
        detail=f"{ctx.t('rep.status.new')}: {fmt_int(new, ctx.lang)}",
    )


def alerts_tile(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    active = alerts_screen.active_alerts(data["alerts"])
    unacked = active[~active["acknowledged"]] if not active.empty else active
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
    kpis = indicators_screen.assess(data["kpi"])
    met = int((kpis["assessment"] == "met").sum()) if not kpis.empty else 0
    with_target = int(kpis["assessment"].isin(("met", "at_risk", "missed")).sum())
    return big_tile(
        ctx.t("ov.indicators"),
        ctx.t("of", part=fmt_int(met, ctx.lang), whole=fmt_int(with_target, ctx.lang)),
        newest_age(data["kpi"], ctx),
        indicators_screen.kpi_context(ctx),
        detail=indicators_screen.assessment_counts(kpis, ctx),
    )


def feeds_strip(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    """One chip per feed: live or stale (by the newest point it wrote) and the message age."""
    health = data["feeds"]
    reported = {}
    if not health.empty and "feed" in health.columns:
        for row in health.itertuples(index=False):
            age = ctx.age_seconds(row.time)
            extra = getattr(row, "last_message_age_s", None)
            if age is not None and extra is not None and not pd.isna(extra):
                age += float(extra)
            reported[row.feed] = age
    chips = [html.Span(ctx.t("ov.feeds"), className="feed-strip-title")]
    for feed, part, label in FEEDS:
        age = reported.get(feed, newest_age(data[part], ctx))
        limit = indicators_screen.kpi_context(ctx) if feed == "kpi" else ctx
        status = "nodata" if age is None else "stale" if limit.is_stale(age) else "live"
        chips.append(
            html.Div(
                [
                    html.Span(ctx.t(label), className="feed-name"),
                    mark(status, ctx.t),
                    html.Span(
                        ctx.t("ov.feed_age", age=age_text(age, ctx.t)) if age is not None else "",
                        className="feed-age",
                    ),
                ],
                className=f"feed-chip feed-chip--{status}",
            )
        )
    return chips


OUTPUTS = {
    f"{NAME}-cameras.children": cameras_tile,
    f"{NAME}-wifi.children": wifi_tile,
    f"{NAME}-clients.children": clients_tile,
    f"{NAME}-reports.children": reports_tile,
    f"{NAME}-alerts.children": alerts_tile,
    f"{NAME}-indicators.children": indicators_tile,
    f"{NAME}-feeds.children": feeds_strip,
}

"""The alarm banner every screen carries under its header, whatever screen a kiosk shows: the
unacknowledged critical and escalated alerts (how many, and the oldest: its text, ward and age),
an alarm flood, and alert rules that stopped running, so a dead evaluator never reads as "no
alerts". It takes its own room between the header and the screen's panels (never over them), and
none when there is nothing to say.

It draws from the alerts part every screen's refresh reads (callbacks/screens.py adds it to the
screen's parts: one cached read, shared by every screen and kiosk of a tick) and from the alert
service's heartbeat (`Context.extra["alert_rules"]`, a wall.heartbeat.Pulse). The banner also
carries the severities that sound (unacknowledged, not shelved) for assets/wall.js.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from dash import html

from layouts.alerts import SEVERITY_MARKS, shown_alerts
from layouts.common import (
    TRUNCATES,
    Builder,
    Context,
    PartLoading,
    age_text,
    alarm_slot,
    fmt_int,
    mark,
)
from wall.alerts.model import SEVERITIES, in_flood
from wall.heartbeat import Pulse

PARTS = ("alerts",)


def outputs(screen: str) -> dict[str, Builder]:
    """The banner's output on `screen` (its slot is in the screen's shell: common.alarm_slot)."""
    return {f"{alarm_slot(screen).id}.children": banner}


def unacknowledged(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Alerts no one has acknowledged yet, not shelved (cleared ones included: someone must
    still see them), most severe first, then oldest first."""
    shown = shown_alerts(frame, ctx)
    return shown[shown["state"] != "active_ack"] if not shown.empty else shown


def alarming(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """The alerts the banner counts: unacknowledged, not shelved, critical or escalated; oldest
    first."""
    unacked = unacknowledged(frame, ctx)
    if unacked.empty:
        return unacked
    loud = unacked[(unacked["severity"] == "critical") | unacked["escalated"].astype(bool)]
    return loud.sort_values(["raised", "key"], kind="stable")


def banner(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    """The banner's content; an element with no children (hidden) when all is well. Its
    `data-sound` lists the severities of the unacknowledged, unshelved alerts, most severe
    first, for the page's sound (assets/wall.js)."""
    items: list = []
    sounding: list[str] = []
    try:
        frame = data["alerts"]
    except PartLoading:  # the alerts are still being read: only the heartbeat can be said
        frame = None
    if frame is not None:
        loud = alarming(frame, ctx)
        unacked = unacknowledged(frame, ctx)
        sounding = [sev for sev in SEVERITIES if sev in set(unacked["severity"])]
        flood = in_flood(frame["raised"].dt.to_pydatetime(), ctx.now) if not frame.empty else 0
        if not loud.empty:
            items += [count_item(loud, ctx), oldest_item(loud.iloc[0], ctx)]
        elif flood and not unacked.empty:
            items.append(oldest_item(unacked.sort_values("raised").iloc[0], ctx))
        if flood:
            words = ctx.t("alarm.flood", n=fmt_int(flood, ctx.lang))
            items.append(html.Div(mark("offline", ctx.t, words), className="alarm-flood"))
    rules = rules_item(ctx)
    tone = "alarm" if items else "rules"
    if rules is not None:
        items.append(rules)
    return html.Div(
        items,
        className=f"alarm-banner alarm-banner--{tone}",
        role="alert" if items else None,
        **{"data-sound": " ".join(sounding)},
    )


def count_item(loud: pd.DataFrame, ctx: Context) -> html.Div:
    symbol, _ = SEVERITY_MARKS["critical"]
    escalated = int(loud["escalated"].astype(bool).sum())
    return html.Div(
        [
            html.Span(symbol, className="alarm-symbol", **{"aria-hidden": "true"}),
            html.Span(ctx.t("alarm.count", n=fmt_int(len(loud), ctx.lang)), className="alarm-n"),
            html.Span(
                f"⚠ {ctx.t('alarm.escalated', n=fmt_int(escalated, ctx.lang))}",
                className="alarm-escalated",
            )
            if escalated
            else None,
        ],
        className="alarm-count",
    )


def oldest_item(row: pd.Series, ctx: Context) -> html.Div:
    """The oldest alert of the banner: its text (cut with an ellipsis when long), ward, owner
    (when assigned) and age."""
    owner = row[f"owner_{ctx.lang}"]
    parts = [
        html.Span(ctx.t("alarm.oldest"), className="alarm-label"),
        html.Span(row[f"title_{ctx.lang}"], className="alarm-title", **TRUNCATES),
        html.Span(row["ward"], className="alarm-ward", **TRUNCATES) if row["ward"] else None,
        html.Span(ctx.t("alarm.owner", owner=owner), className="alarm-owner", **TRUNCATES)
        if owner
        else None,
        html.Span(age_text(ctx.age_seconds(row["raised"]), ctx.t), className="alarm-age"),
    ]
    return html.Div([p for p in parts if p is not None], className="alarm-oldest")


def rules_item(ctx: Context) -> html.Div | None:
    """'Alert rules not running since hh:mm' (the city's time; with the date when not today),
    when the alert service's heartbeat is stale; None while it beats."""
    pulse = ctx.extra.get("alert_rules")
    if not isinstance(pulse, Pulse) or not pulse.stopped(ctx.now):
        return None
    if pulse.last_pass is None:
        words = ctx.t("alarm.rules_never")
    else:
        words = ctx.t("alarm.rules_stopped", time=ctx.clock(pulse.last_pass))
    return html.Div(mark("stale", ctx.t, words), className="alarm-rules")

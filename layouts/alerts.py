"""Alerts: what the "alerts" event log holds, active ones by severity and age.

The rules that raise alerts and the officers' acknowledgement live in wall.alerts; this screen
reads the same kept state as the officers' console (wall.alerts.state, the log folded by
wall.alerts.model) and says it with the same words (wall.alerts.text), so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from dash import html

from layouts.common import (
    COLORS,
    TRUNCATES,
    Context,
    age_text,
    alarm_slot,
    fmt_int,
    fmt_number,
    mark,
    more_line,
    screen_header,
)
from wall.alerts.model import SEVERITIES, Alert, in_flood
from wall.alerts.text import RULE_NAMES, alert_title, anomaly_usual, label
from wall.alerts.text import SEVERITIES as SEVERITY_WORDS
from wall.alerts.text import STATES as STATE_WORDS
from wall.city import CitySettings
from wall.i18n import Translator

NAME = "alerts"
PARTS = ("alerts",)
# Shape and tone per severity: the order of shapes (◆ ▲ ● ○) carries the rank without colour.
SEVERITY_MARKS = {
    "critical": ("◆", "bad"),
    "high": ("▲", "bad"),
    "medium": ("●", "warn"),
    "low": ("○", "info"),
}
COLUMNS = (
    "key",
    "rule",
    "escalated",
    "severity",
    "state",
    "title_vi",
    "title_en",
    # What is usual, of an anomaly (its title then says what is now): a line of its own.
    "usual_vi",
    "usual_en",
    "ward",
    "raised",
    "acked_by",
    "owner_vi",
    "owner_en",
    "shelved_until",
    "time",
    "facts",  # the figures the rule found (the WiFi curve marks the anomalies with them)
)
SHOWN_STATES = ("active_unack", "active_ack", "cleared_unack")
MAX_ROWS = 9


def alerts_frame(alerts: Mapping[str, Alert]) -> pd.DataFrame:
    """One row per alert as the officers' console sees it (wall.alerts.model.fold), with its
    title in both languages; `time` is its last change."""
    rows = [
        {
            "key": alert.key,
            "rule": alert.rule,
            # Loud on the wall until someone acknowledges it.
            "escalated": alert.escalated_at is not None and alert.unacknowledged,
            "severity": alert.severity if alert.severity in SEVERITIES else "medium",
            "state": alert.state,
            **titles(alert),
            "ward": alert.ward or "",
            "raised": pd.Timestamp(alert.raised_at),
            "acked_by": alert.acked_by or "",
            "owner_vi": alert.owner_name("vi"),
            "owner_en": alert.owner_name("en"),
            "shelved_until": pd.Timestamp(alert.shelved_until) if alert.shelved_until else pd.NaT,
            "time": pd.Timestamp(alert.updated_at or alert.raised_at),
            "facts": dict(alert.facts),
        }
        for alert in alerts.values()
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("raised", "shelved_until", "time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def anomaly_raises(alerts: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """The `anomaly` alerts on series of `kinds` (wall.alerts.anomaly: ap, site, reports,
    category, cameras, indicator) and when each was raised, from the alerts part (the kept
    state of each alert, open or closed within the week, so a chart marking them asks the store
    nothing more; an alert raised twice in a day is marked at its latest raise): time, key,
    kind, name, name_vi, name_en (the profile's words, where it has them), site, value, low,
    high, active (the series is still out of its band: the alert is not cleared)."""
    columns = ["time", "key", "kind", "name", "name_vi", "name_en", "site", "value", "low", "high"]
    columns += ["active"]
    rows = []
    if not alerts.empty and {"rule", "facts", "raised"} <= set(alerts.columns):
        for alert in alerts[alerts["rule"] == "anomaly"].itertuples():
            facts = alert.facts if isinstance(alert.facts, dict) else {}
            if facts.get("kind") not in kinds:
                continue
            name = str(facts.get("name") or alert.key)
            rows.append(
                {
                    "time": alert.raised,
                    "key": alert.key,
                    "kind": facts["kind"],
                    "name": name,
                    "name_vi": str(facts.get("name_vi") or name),
                    "name_en": str(facts.get("name_en") or name),
                    "site": facts.get("site"),
                    "value": facts.get("value"),
                    "low": facts.get("low"),
                    "high": facts.get("high"),
                    "active": getattr(alert, "state", "") in ("active_unack", "active_ack"),
                }
            )
    frame = pd.DataFrame(rows, columns=columns)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def above_band(raises: pd.DataFrame) -> list[bool]:
    """Of each row of `anomaly_raises`, whether the value was above its band (more than usual:
    a triangle up) rather than below it."""
    return [
        bool(pd.notna(value) and pd.notna(high) and float(value) > float(high))
        for value, high in zip(raises["value"], raises["high"], strict=True)
    ]


def open_anomalies(alerts: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """The anomalies of `kinds` whose series is out of its usual band now (raised, not yet
    cleared; shelving silences the alarm, not the fact), newest raise first, with `up`
    (above_band). A cleared one is history, marked only on a chart's time axis."""
    raises = anomaly_raises(alerts, kinds)
    found = raises[raises["active"].astype(bool)]
    found = found.assign(up=above_band(found))
    return found.sort_values("time", ascending=False, kind="stable")


def anomaly_note(anomaly: Mapping, words: str, ctx: Context, extra_class: str = "") -> html.Div:
    """An open anomaly (a row of `open_anomalies`) beside a series drawn as a panel or a card:
    the charts' red triangle (up: more than usual, down: fewer) and, after "Bất thường từ
    10:15:" / "Anomaly since 10:15:", its figures at that raise in words, so it is never told by
    colour alone and its figures are not taken for the value now beside it. `words` is shown as
    written (text, not markup)."""
    up = bool(anomaly["up"])
    return html.Div(
        [
            html.Span("▲" if up else "▼", className="anomaly-symbol", **{"aria-hidden": "true"}),
            html.Span(
                ctx.t("anomaly.note", since=ctx.clock(anomaly["time"]), words=words),
                className="anomaly-words",
            ),
        ],
        className=f"anomaly-note {extra_class}".strip(),
    )


def anomaly_words(row: Mapping, ctx: Context, unit: str = "", counted: str = "") -> str:
    """An anomaly's figures at its raise against its usual band, the local way: "12 mất kết
    nối · thường 0–4" (`counted`: the i18n key saying what the value counts, "{n} mất kết
    nối"), "56,1 · thường 85,2–87,6 %" (`unit`: the series' unit, said once at the end: a
    card of a long catalogue has no room for it twice)."""

    def figure(value: object) -> str:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return fmt_number(float(value), ctx.lang) if number else "–"  # type: ignore[arg-type]

    # A figure stays with its unit and the band whole when the line wraps (no-break space, word
    # joiners around the dash): "0–" above "4" reads as another band.
    unit = f"\u00a0{unit}" if unit else ""
    value = figure(row.get("value"))
    if counted:
        value = ctx.t(counted, n=value)
    band = f"{figure(row.get('low'))}\u2060–\u2060{figure(row.get('high'))}{unit}"
    return ctx.t("anomaly.band", value=value, band=band)


def anomaly_trace(x: list, y: list, ctx: Context, up: bool, size: float, legend: bool) -> dict:
    """Triangles at anomalies on a chart (up: more than usual, down: fewer), one legend entry
    "Bất thường" / "Anomaly" when `legend`."""
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "markers",
        "marker": {
            "symbol": "triangle-up" if up else "triangle-down",
            "size": size * ctx.scale,
            "color": COLORS["bad"],
            "line": {"color": COLORS["text"], "width": 2 * ctx.scale},
        },
        "cliponaxis": False,
        "name": ctx.t("wifi.anomaly"),
        "showlegend": legend,
    }


def anomaly_label(
    text: str, x: object, y: float, ctx: Context, up: bool, shift: float | None = None
) -> dict:
    """An anomaly's label on a dark plate above (up) or below its triangle, readable over the
    lines and bars; `shift`: pixels (at 1080p) from the mark instead, up when positive."""
    shift = (16 if up else -16) if shift is None else shift
    return {
        "text": text,
        "xref": "x",
        "yref": "y",
        "x": x,
        "y": y,
        "yanchor": "bottom" if shift > 0 else "top",
        "yshift": shift * ctx.scale,
        "showarrow": False,
        "font": {"size": 20 * ctx.scale, "color": COLORS["text"]},
        "bgcolor": "rgba(11, 16, 22, 0.85)",
        "bordercolor": COLORS["bad"],
        "borderwidth": 1 * ctx.scale,
        "borderpad": 3 * ctx.scale,
    }


def titles(alert: Alert) -> dict[str, str]:
    """title_vi, title_en, usual_vi, usual_en: an anomaly's explanation is split in two, what is
    now and what is usual, each shown whole on the alerts screen."""
    found = {}
    for lang in ("vi", "en"):
        title, usual = alert_title(alert, lang), anomaly_usual(alert, lang)
        if usual and title.endswith("; " + usual):
            title = title.removesuffix("; " + usual)
        else:
            usual = ""
        found |= {f"title_{lang}": title, f"usual_{lang}": usual}
    return found


def shown_alerts(frame: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """What the wall lists: active or not yet acknowledged, not shelved; most severe first, then
    the oldest first."""
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=int))
    now = pd.Timestamp(ctx.now)
    shelved = frame["shelved_until"].notna() & (frame["shelved_until"] > now)
    shown = frame[frame["state"].isin(SHOWN_STATES) & ~shelved].copy()
    shown["rank"] = shown["severity"].map(SEVERITIES.index)
    return shown.sort_values(["rank", "raised", "key"], kind="stable").reset_index(drop=True)


def shelved_count(frame: pd.DataFrame, ctx: Context) -> int:
    if frame.empty:
        return 0
    open_ = frame["state"] != "closed"
    return int((open_ & (frame["shelved_until"] > pd.Timestamp(ctx.now))).sum())


def severity_mark(severity: str, t: Translator, suffix: str = "") -> html.Span:
    symbol, tone = SEVERITY_MARKS[severity]
    word = label(SEVERITY_WORDS, severity, t.lang)
    return html.Span(
        [
            html.Span(symbol, className="mark-symbol", **{"aria-hidden": "true"}),
            html.Span(f"{word} {suffix}".strip(), className="mark-word"),
        ],
        className=f"mark mark--{tone}",
    )


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [
                    html.Div(id=f"{NAME}-counts", className="slot alert-counts"),
                    html.Div(id=f"{NAME}-list", className="slot alert-list-slot"),
                ],
                className="alerts-grid",
            ),
        ],
        className="screen",
    )


def counts(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    shown = shown_alerts(data["alerts"], ctx)
    tally = shown["severity"].value_counts() if not shown.empty else pd.Series(dtype=int)
    unacked = int((shown["state"] != "active_ack").sum()) if not shown.empty else 0
    boxes = [
        html.Div(
            [
                html.Div(fmt_int(int(tally.get(sev, 0)), ctx.lang), className="count-number"),
                severity_mark(sev, ctx.t),
            ],
            className=f"count-box count-box--{sev}"
            + (" count-box--zero" if sev not in tally else ""),
        )
        for sev in SEVERITIES
    ]
    boxes.append(
        html.Div(
            [
                html.Div(fmt_int(unacked, ctx.lang), className="count-number"),
                mark("offline" if unacked else "met", ctx.t, ctx.t("al.unacked")),
            ],
            className="count-box count-box--unacked",
        )
    )
    shelved = shelved_count(data["alerts"], ctx)
    boxes.append(
        html.Div(
            [
                html.Div(fmt_int(shelved, ctx.lang), className="count-number"),
                mark("nodata", ctx.t, ctx.t("al.shelved")),
            ],
            className="count-box" + ("" if shelved else " count-box--zero"),
        )
    )
    return boxes


def alert_list(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    shown = shown_alerts(data["alerts"], ctx)
    if shown.empty:
        return html.Div(mark("met", ctx.t, ctx.t("al.none")), className="tile tile--calm")
    flood = in_flood(data["alerts"]["raised"].dt.to_pydatetime(), ctx.now)
    rows = grouped_rows(shown, ctx) if flood else alert_rows(shown, ctx)
    unsent = max(0, len(rows) - MAX_ROWS)
    rows = [*rows[:MAX_ROWS], more_line(unsent, ctx)]
    banner = (
        html.Div(mark("offline", ctx.t, ctx.t("al.flood", n=flood)), className="al-flood")
        if flood
        else None
    )
    return html.Div(
        [html.Div(ctx.t("al.active"), className="tile-title"), banner, *rows],
        className="tile al-list",
    )


def alert_rows(shown: pd.DataFrame, ctx: Context) -> list:
    """One row per alert; an escalated one carries a loud word and frame."""
    rows = []
    for row in shown.itertuples(index=False):
        state_word = label(STATE_WORDS, row.state, ctx.lang)
        state = [
            html.Div(f"⚠ {ctx.t('al.escalated')}", className="al-escalated")
            if row.escalated
            else None
        ]
        if row.state == "active_ack":
            state.append(mark("met", ctx.t, state_word))
            state.append(html.Div(row.acked_by, className="al-actor") if row.acked_by else None)
        else:
            tone = "offline" if row.state == "active_unack" else "at_risk"
            state.append(mark(tone, ctx.t, state_word))
        rows.append(
            html.Div(
                [
                    html.Div(severity_mark(row.severity, ctx.t), className="al-sev"),
                    html.Div(
                        [
                            *title_lines(row, ctx),
                            html.Div(
                                ctx.profile.unit_name(row.ward, ctx.lang), className="al-where"
                            ),
                            owner_line(getattr(row, f"owner_{ctx.lang}"), ctx),
                        ],
                        className="al-what",
                    ),
                    html.Div(age_text(ctx.age_seconds(row.raised), ctx.t), className="al-age"),
                    html.Div(state, className="al-state"),
                ],
                className=f"al-row al-row--{row.severity} al-row--{row.state}"
                + (" al-row--escalated" if row.escalated else ""),
            )
        )
    return rows


def title_lines(row, ctx: Context) -> list[html.Div]:
    """The alert's title on one line, cut if it must be; an anomaly's explanation whole, what
    is now and what is usual each on its own line (wrapped rather than cut)."""
    title, usual = getattr(row, f"title_{ctx.lang}"), getattr(row, f"usual_{ctx.lang}", "")
    if not usual:
        return [html.Div(title, className="al-title", **TRUNCATES)]
    return [
        html.Div(title, className="al-title al-title--whole"),
        html.Div(usual, className="al-usual"),
    ]


def owner_line(owner: str, ctx: Context) -> html.Div | None:
    """Who handles the alert (assigned in the officers' console), whole: wrapped, never cut."""
    return html.Div(ctx.t("al.owner", owner=owner), className="al-owner") if owner else None


def grouped_rows(shown: pd.DataFrame, ctx: Context) -> list:
    """In a flood, one row per kind of alert (most severe kinds first), so the few that matter
    are not scrolled away by the many."""
    rows = []
    for (rank, rule), group in shown.groupby(["rank", "rule"], sort=True):
        severity = SEVERITIES[rank]
        unacked = int((group["state"] != "active_ack").sum())
        wards = ", ".join(
            sorted({ctx.profile.unit_name(w, ctx.lang) for w in group["ward"] if w})[:4]
        )
        rows.append(
            html.Div(
                [
                    html.Div(severity_mark(severity, ctx.t), className="al-sev"),
                    html.Div(
                        [
                            html.Div(
                                f"{label(RULE_NAMES, rule, ctx.lang)} · "
                                f"{ctx.t('al.group', n=fmt_int(len(group), ctx.lang))}",
                                className="al-title",
                                **TRUNCATES,
                            ),
                            html.Div(wards, className="al-where"),
                        ],
                        className="al-what",
                    ),
                    html.Div(
                        age_text(ctx.age_seconds(group["raised"].min()), ctx.t),
                        className="al-age",
                    ),
                    html.Div(
                        [
                            html.Div(f"⚠ {ctx.t('al.escalated')}", className="al-escalated")
                            if group["escalated"].any()
                            else None,
                            mark(
                                "offline",
                                ctx.t,
                                ctx.t("al.group_unacked", n=fmt_int(unacked, ctx.lang)),
                            )
                            if unacked
                            else mark("met", ctx.t, label(STATE_WORDS, "active_ack", ctx.lang)),
                        ],
                        className="al-state",
                    ),
                ],
                className=f"al-row al-row--{severity} al-row--group"
                + (" al-row--escalated" if group["escalated"].any() else ""),
            )
        )
    return rows


OUTPUTS = {
    f"{NAME}-counts.children": counts,
    f"{NAME}-list.children": alert_list,
}

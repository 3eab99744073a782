"""Indicators (chỉ số điều hành): the town's operating indicators by sector against target.

Each indicator shows its latest accepted value: of its latest period, the newest of what an
automated source sent over MQTT and what its unit submitted (wall.submissions). The city
profile's catalogue gives an indicator its name (in the wall's language), sector, unit, target
and direction; an indicator it does not hold keeps what its MQTT messages say, higher being
better. Its state and the figure expected at its period's end come from
wall.indicator_projection (met, on track, at risk, missed), with the source of the value shown
(console, file, API, MQTT). Trends
are small inline SVG lines: crisp at any resolution and far lighter than seventeen plotly figures.
An indicator whose MQTT values are out of their usual band (an open `anomaly` alert, wall.alerts)
carries the charts' red triangle beside its value and the figures against the band in a line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import quote

import pandas as pd
from dash import html

from layouts.alerts import anomaly_note, anomaly_words, open_anomalies
from layouts.common import (
    COLORS,
    TRUNCATES,
    Context,
    age_line,
    alarm_slot,
    fmt_number,
    mark,
    newest_age,
    screen_header,
)
from wall.city import CitySettings, Indicator
from wall.i18n import Translator
from wall.indicator_projection import Projection, projection
from wall.periods import Period, PeriodError, parse_period, period_of

NAME = "indicators"
# The alerts part is the one every screen's alarm banner reads: the anomaly marks ask nothing more.
PARTS = ("kpi", "kpi_submitted", "kpi_daily", "alerts")
TREND_POINTS = 14


def latest_values(data: Mapping[str, pd.DataFrame], ctx: Context) -> pd.DataFrame:
    """One row per indicator: its latest accepted value, from MQTT (`kpi`) or a unit's
    submission (`kpi_submitted`, shown once read), with the catalogue's name, sector, unit,
    target and direction. The latest period wins, then the newest value of it; a value of no
    period (or one that is not of the indicator's kind) counts for the period of its time."""
    sent = data["kpi"]
    submitted = data.get("kpi_submitted")
    frames = [f for f in (sent.assign(path="mqtt"), submitted) if f is not None and not f.empty]
    if not frames:
        return sent
    rows = pd.concat(frames, ignore_index=True)
    catalogue = {i.indicator_id: i for i in ctx.profile.indicators}
    known = rows["indicator_id"].map(catalogue)

    def period_start(indicator: Indicator | float, period: object, time: object) -> pd.Timestamp:
        if not isinstance(indicator, Indicator):
            return pd.Timestamp(time)
        try:
            named = parse_period(indicator.period, str(period))
        except PeriodError:
            named = period_of(indicator.period, pd.Timestamp(time).to_pydatetime(), ctx.tz)
        return pd.Timestamp(named.start(ctx.tz))

    period = rows["period"] if "period" in rows.columns else pd.Series(None, index=rows.index)
    rows["period_start"] = [
        period_start(i, p, t) for i, p, t in zip(known, period, rows["time"], strict=True)
    ]
    rows = rows.sort_values(["period_start", "time"], kind="stable")
    rows = rows.drop_duplicates("indicator_id", keep="last").drop(columns="period_start")
    known = rows["indicator_id"].map(catalogue)
    listed = known.notna()
    for column, of in (
        ("name", lambda i: i.name(ctx.lang)),
        ("sector", lambda i: i.sector),
        ("unit", lambda i: i.unit_in(ctx.lang)),
        ("target", lambda i: i.target),
        ("direction", lambda i: i.direction),
    ):
        own = rows[column] if column in rows.columns else pd.Series(None, index=rows.index)
        rows[column] = own.astype(object).where(~listed, known[listed].map(of))
    return rows.reset_index(drop=True)


def figures_of(row: Mapping, daily: pd.DataFrame, period: Period, ctx: Context) -> list:
    """The period's figures of an indicator: the daily means of its MQTT values (the last
    TREND_POINTS days, those inside the period) and its latest value."""
    figures = [(pd.Timestamp(row["time"]).to_pydatetime(), float(row["actual"]))]
    if not daily.empty and {"indicator_id", "value"} <= set(daily.columns):
        start, end = period.start(ctx.tz), period.end(ctx.tz)
        own = daily[daily["indicator_id"] == row["indicator_id"]]
        for time, value in zip(own["time"], pd.to_numeric(own["value"]), strict=True):
            moment = pd.Timestamp(time).to_pydatetime()
            if start <= moment < end and value == value and moment < figures[0][0]:
                figures.append((moment, float(value)))
    return figures


def period_shown(row: Mapping, ctx: Context) -> Period:
    """The period of an indicator's latest value (its own kind when in the catalogue, else
    the month of its time)."""
    indicator = next(
        (i for i in ctx.profile.indicators if i.indicator_id == row["indicator_id"]), None
    )
    kind = indicator.period if indicator is not None else "month"
    try:
        return parse_period(kind, str(row.get("period")))
    except PeriodError:
        return period_of(kind, pd.Timestamp(row["time"]).to_pydatetime(), ctx.tz)


def assess(kpis: pd.DataFrame, daily: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Latest indicator rows with an `assessment` (wall.indicator_projection's state, or
    `no_target`) and its `projection`."""
    if kpis.empty or "actual" not in kpis.columns:
        return kpis.assign(assessment=pd.Series(dtype=object), projection=pd.Series(dtype=object))
    catalogue = {i.indicator_id: i for i in ctx.profile.indicators}
    states, projections = [], []
    for record in kpis.to_dict("records"):
        target = record.get("target")
        value = pd.to_numeric(record.get("actual"), errors="coerce")
        if target is None or pd.isna(target) or pd.isna(value):
            states.append("no_target")
            projections.append(None)
            continue
        indicator = catalogue.get(record["indicator_id"])
        direction = record.get("direction")
        period = period_shown(record, ctx)
        found = projection(
            figures_of(record, daily, period, ctx),
            period=period,
            target=float(target),
            direction="lower" if direction == "lower" else "higher",
            aggregation=indicator.aggregation if indicator is not None else "last",
            now=ctx.now,
            zone=ctx.tz,
            unit=indicator.unit if indicator is not None else str(record.get("unit") or ""),
        )
        states.append(found.state)
        projections.append(found)
    return kpis.assign(assessment=states, projection=projections)


def with_unreported(kpis: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """The assessed rows, and an `unreported` row for each catalogue indicator no value has come for
    yet: the leaders' room sees what is missing, not a shorter list."""
    shown = set(kpis["indicator_id"]) if "indicator_id" in kpis.columns else set()
    missing = [
        {
            "indicator_id": i.indicator_id,
            "name": i.name(ctx.lang),
            "sector": i.sector,
            "unit": i.unit_in(ctx.lang),
            "target": i.target,
            "direction": i.direction,
            "responsible_unit": i.responsible_unit,
            "assessment": "unreported",
            "projection": None,
        }
        for i in ctx.profile.indicators
        if i.indicator_id not in shown
    ]
    if not missing:
        return kpis
    return pd.concat([kpis, pd.DataFrame(missing)], ignore_index=True)


def reason(found: Projection | None, unit: str, ctx: Context) -> str:
    """The projection in words: "Theo nhịp hiện tại, 91/95 vào 31/12", with its 80 % range
    when there is one: "Theo xu hướng, 96/95 vào 30/11 (khoảng 93–99)"."""
    if found is None or found.basis is None:
        return ""
    figure = ctx.t(
        f"proj.of_{found.direction}",
        value=fmt_number(found.expected, ctx.lang),
        target=fmt_number(found.target, ctx.lang),
    )
    figure = f"{figure} {unit}" if unit and unit != "%" else figure  # % is the card's own
    text = ctx.t(
        f"proj.{found.basis}",
        figure=figure,
        day=f"{found.last_day():%d/%m}",
        period=found.period.name,
    )
    if found.low is None or found.high is None:
        return text
    spread = ctx.t(
        "proj.range", low=fmt_number(found.low, ctx.lang), high=fmt_number(found.high, ctx.lang)
    )
    return f"{text} ({spread})"


def names_target(found: Projection | None) -> bool:
    """The projection's words give the target (the card need not say it twice)."""
    return found is not None and found.basis not in (None, "final")


def source_line(row: Mapping, ctx: Context) -> str:
    """Where the shown value came from and when: "Tệp · vh-xh · 03/12 10:12"."""
    path = row.get("path")
    path = "mqtt" if path is None or pd.isna(path) else str(path)
    by = row.get("by_unit")
    when = f"{pd.Timestamp(row['time']).tz_convert(ctx.tz):%d/%m %H:%M}"
    parts = [ctx.t(f"path.{path}")]
    if by is not None and not pd.isna(by):
        parts.append(str(by))
    return " · ".join([*parts, when])


STATES_COUNTED = ("met", "on_track", "at_risk", "missed")


def assessment_counts(kpis: pd.DataFrame, ctx: Context) -> list:
    """A mark per state, and one for the catalogue's indicators without a value when there are."""
    counts = kpis["assessment"].value_counts() if not kpis.empty else pd.Series(dtype=int)
    shown = [*STATES_COUNTED, *(("unreported",) if counts.get("unreported", 0) else ())]
    return [
        mark(status, ctx.t, f"{ctx.t(f'status.{status}')} {int(counts.get(status, 0))}")
        for status in shown
    ]


def targets_met(kpis: pd.DataFrame) -> tuple[int, int]:
    """(met, targets): a target nothing was reported for counts, as not met."""
    if kpis.empty:
        return 0, 0
    counted = kpis["assessment"].isin((*STATES_COUNTED, "unreported"))
    return int((kpis["assessment"] == "met").sum()), int(counted.sum())


def unreported_line(row: Mapping, ctx: Context) -> str:
    """Who owes the value of an indicator none has come for: "Chưa nhận số liệu · Phòng KT"."""
    unit = ctx.profile.handling_unit(str(row.get("responsible_unit") or ""))
    return " · ".join([ctx.t("kpi.unreported"), *([unit.name(ctx.lang)] if unit else [])])


def sparkline(values: list[float], target: float | None, tone: str) -> str:
    """A trend line as an SVG data URI (with the target as a dashed line)."""
    width, height, pad = 200, 60, 4
    points = [v for v in values if v == v]
    if len(points) < 2:
        return ""
    scale_values = [*points, target] if target is not None and target == target else points
    low, high = min(scale_values), max(scale_values)
    span = (high - low) or 1.0

    def y(v: float) -> float:
        return round(height - pad - (v - low) / span * (height - 2 * pad), 1)

    step = (width - 2 * pad) / (len(points) - 1)
    path = " ".join(f"{round(pad + i * step, 1)},{y(v)}" for i, v in enumerate(points))
    target_line = (
        f'<line x1="0" x2="{width}" y1="{y(target)}" y2="{y(target)}" stroke="{COLORS["muted"]}" '
        'stroke-width="2" stroke-dasharray="6 5"/>'
        if target is not None and target == target
        else ""
    )
    last_x, last_y = round(pad + (len(points) - 1) * step, 1), y(points[-1])
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none">{target_line}'
        f'<polyline fill="none" stroke="{COLORS[tone]}" stroke-width="4" '
        f'stroke-linejoin="round" points="{path}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="5" fill="{COLORS[tone]}"/></svg>'
    )
    return "data:image/svg+xml;charset=utf-8," + quote(svg)


def trends(daily: pd.DataFrame) -> dict[str, list[float]]:
    """The daily mean of each indicator (Store.aggregate rows: time, indicator_id, value),
    oldest first, at most TREND_POINTS days."""
    if daily.empty or not {"indicator_id", "value"} <= set(daily.columns):
        return {}
    frame = daily.sort_values("time", kind="stable")
    return {
        key: pd.to_numeric(group["value"], errors="coerce").tail(TREND_POINTS).tolist()
        for key, group in frame.groupby("indicator_id")
    }


TONES = {
    "met": "ok",
    "on_track": "info",
    "at_risk": "warn",
    "missed": "bad",
    "no_target": "none",
    "unreported": "none",
}


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(id=f"{NAME}-cards", className="kpi-grid"),
            html.Footer(id=f"{NAME}-age", className="screen-footer"),
        ],
        className="screen",
    )


def headline(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    kpis = with_unreported(assess(latest_values(data, ctx), data["kpi_daily"], ctx), ctx)
    met, total = targets_met(kpis)
    return html.Div(
        [
            html.Span(ctx.t("kpi.summary", met=met, total=total), className="headline-number"),
            html.Span(assessment_counts(kpis, ctx), className="headline-marks"),
        ],
        className="headline",
    )


def grid_style(count: int) -> dict[str, str]:
    """Columns and rows for `count` cards: six columns and three rows for the town's 17, more
    columns (then rows) for a longer catalogue, every card on the screen."""
    columns = max(6, math.ceil(math.sqrt(2 * count)))
    rows = max(3, math.ceil(count / columns))
    return {
        "gridTemplateColumns": f"repeat({columns}, minmax(0, 1fr))",
        "gridTemplateRows": f"repeat({rows}, minmax(0, 1fr))",
    }


def cards(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    kpis = with_unreported(assess(latest_values(data, ctx), data["kpi_daily"], ctx), ctx)
    if kpis.empty:
        return [html.Div(mark("nodata", ctx.t), className="tile tile--calm")]
    lines = trends(data["kpi_daily"])
    anomalies = indicator_anomalies(data.get("alerts", pd.DataFrame()), ctx)
    sector = kpis["sector"] if "sector" in kpis.columns else pd.Series("", index=kpis.index)
    kpis = kpis.assign(sector=sector.fillna("")).sort_values(["sector", "indicator_id"])
    result = []
    for row in kpis.itertuples(index=False):
        record = row._asdict()
        target = record.get("target")
        target = None if target is None or pd.isna(target) else float(target)
        unit = record.get("unit") or ""
        unit = "" if pd.isna(unit) else str(unit)
        name = record.get("name")
        name = record["indicator_id"] if name is None or pd.isna(name) else str(name)
        tone = TONES[row.assessment]
        line = sparkline(lines.get(row.indicator_id, []), target, tone)
        reported = row.assessment != "unreported"
        value = fmt_number(float(row.actual), ctx.lang) if reported else "–"
        sector = ctx.t.label(ctx.profile.sector_labels, row.sector) if row.sector else ""
        anomaly = anomalies.get(row.indicator_id)
        result.append(
            html.Div(
                html.Div(
                    [
                        html.Div(
                            sector,
                            className="kpi-sector",
                            style={"--chars": str(max(len(sector), 10))},
                        ),
                        html.Div(name, className="kpi-name", **TRUNCATES),
                        html.Div(
                            [
                                html.Span(
                                    value, className="kpi-value", style={"--chars": str(len(value))}
                                ),
                                html.Span(unit, className="kpi-unit"),
                                *anomaly_symbol(anomaly),
                            ],
                            className="kpi-value-row",
                        ),
                        *(
                            [
                                anomaly_note(
                                    anomaly,
                                    anomaly_words(anomaly, ctx, unit=unit),
                                    ctx,
                                    "kpi-anomaly",
                                )
                            ]
                            if anomaly is not None
                            else []
                        ),
                        html.Div(
                            [
                                mark(row.assessment, ctx.t),
                                html.Span(
                                    ctx.t(
                                        "kpi.target",
                                        target=f"{fmt_number(target, ctx.lang)} {unit}".strip(),
                                    )
                                    if target is not None and not names_target(record["projection"])
                                    else "",
                                    className="kpi-target",
                                ),
                            ],
                            className="kpi-status-row",
                        ),
                        html.Div(
                            reason(record["projection"], unit, ctx),
                            className="kpi-projection",
                        ),
                        html.Div(
                            source_line(record, ctx) if reported else unreported_line(record, ctx),
                            className="kpi-source",
                        ),
                        html.Img(src=line, className="kpi-trend", alt="")
                        if line
                        else html.Div(className="kpi-trend"),
                    ],
                    className="kpi-card-body",
                ),
                className=f"kpi-card kpi-card--{row.assessment}"
                + (" kpi-card--anomaly" if anomaly is not None else ""),
            )
        )
    return [html.Div(result, className="kpi-cards", style=grid_style(len(result)))]


def anomaly_symbol(anomaly: dict | None) -> list:
    """The triangle beside an indicator's value while its anomaly is open (none otherwise)."""
    if anomaly is None:
        return []
    symbol = "▲" if anomaly["up"] else "▼"
    return [
        html.Span(symbol, className="anomaly-symbol kpi-anomaly-symbol", **{"aria-hidden": "true"})
    ]


def indicator_anomalies(alerts: pd.DataFrame, ctx: Context) -> dict[str, dict]:
    """{indicator_id: its open anomaly} (the series' name is the indicator's id)."""
    found = open_anomalies(alerts, ("indicator",))
    return {row["name"]: row for row in found.to_dict("records")[::-1]}  # the newest wins


def footer(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return age_line(newest_age(latest_values(data, ctx), ctx), ctx.for_part("kpi"))


OUTPUTS = {
    f"{NAME}-headline.children": headline,
    f"{NAME}-cards.children": cards,
    f"{NAME}-age.children": footer,
}

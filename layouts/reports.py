"""Field reports: open reports by category and ward, new vs resolved per hour, the oldest open
ones, and where they are on a map that needs no tile server (tiles optional by setting)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

import pandas as pd
from dash import html

from layouts.alerts import anomaly_label, anomaly_raises, anomaly_trace
from layouts.common import (
    COLORS,
    LABEL_CHARS,
    TRUNCATES,
    Context,
    Figure,
    age_text,
    alarm_slot,
    empty_figure,
    figure,
    figure_text,
    fmt_int,
    graph,
    horizontal_bars,
    mark,
    more_line,
    newest_age,
    screen_header,
    tile_head,
    to_time,
)
from layouts.overview import open_reports
from wall.city import CitySettings
from wall.domain import UNKNOWN, UNKNOWN_LABEL
from wall.i18n import Translator

NAME = "reports"
PARTS = ("reports", "cameras", "alerts")
HISTORY = timedelta(hours=24)
OLDEST_SHOWN = 7
SURGES_SHOWN = 6  # anomaly marks on the hourly chart, the newest
# Category shapes: the map and charts never tell categories apart by colour alone.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross")
SYMBOL_GLYPHS = ("●", "■", "◆", "▲", "✖", "★", "⬢", "✚")
PALETTE = ("#5cb8f0", "#f5c542", "#2fd6a0", "#ff7043", "#e58ee6", "#ffffff", "#9aa7b4", "#c7e86b")
GRAPHS = ("map", "category", "ward", "hourly")
# Up to this many open reports each gets a full-size, outlined marker; past it markers shrink
# (down to a third) so a city's thousands read as a density of colour, not an overlapping blob.
MAP_FULL_MARKERS = 400
# Map positions to about a metre: the figure is sent as JSON text, a city's 8,000 open reports
# at full float precision took twice the bytes.
MAP_DECIMALS = 5


def shell(t: Translator, city: CitySettings) -> html.Div:
    return html.Div(
        [
            screen_header(NAME, t, city),
            alarm_slot(NAME),
            html.Main(
                [
                    *(
                        html.Div(
                            [html.Div(id=f"{NAME}-{name}-head"), graph(f"{NAME}-{name}")],
                            className=f"tile tile--graph reports-{name}",
                        )
                        for name in GRAPHS
                    ),
                    html.Div(id=f"{NAME}-oldest", className="tile reports-oldest"),
                ],
                className="reports-grid",
            ),
        ],
        className="screen",
    )


def categories(reports: pd.DataFrame, known: tuple[str, ...]) -> list[str]:
    """Every category present, the town's known ones first: fixes each one's shape and colour."""
    present = set(reports["category"].dropna().unique()) if "category" in reports.columns else set()
    return [c for c in known if c in present] + sorted(present - set(known))


def category_labels(ctx: Context) -> dict[str, tuple[str, str]]:
    return {**ctx.profile.category_labels, UNKNOWN: UNKNOWN_LABEL}


def category_style(reports: pd.DataFrame, ctx: Context) -> dict[str, tuple[str, str, str]]:
    """category → (plotly symbol, glyph for text, colour)."""
    return {
        c: (SYMBOLS[i % len(SYMBOLS)], SYMBOL_GLYPHS[i % len(SYMBOLS)], PALETTE[i % len(PALETTE)])
        for i, c in enumerate(categories(reports, ctx.profile.category_codes))
    }


def headline(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Span:
    opened = open_reports(data["reports"])
    return html.Span(
        f"{fmt_int(len(opened), ctx.lang)} {ctx.t('ov.reports_open').lower()}",
        className="headline-number",
    )


def map_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(ctx.t("rep.map"), newest_age(data["reports"], ctx), ctx.for_part("reports"))


def map_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    """Open reports by category shape; cameras as a faint street-level backdrop and ward names
    at the middle of their cameras, so the town is recognisable without any map tiles."""
    reports = data["reports"]
    opened = open_reports(reports)
    if not {"lat", "lon"} <= set(opened.columns):
        return empty_figure(ctx, ctx.t("rep.none_open"))
    # Only the columns drawn: a city's open reports carry titles and times the map does not use.
    opened = opened.reindex(columns=["category", "lat", "lon"]).dropna(subset=["lat", "lon"])
    cams = data["cameras"]
    cams = (
        cams.dropna(subset=["lat", "lon"])
        if {"lat", "lon"} <= set(cams.columns)
        else cams.iloc[0:0]
    )
    tiles = ctx.extra.get("map_tiles_url")
    style = category_style(reports, ctx)
    shrink = max(1 / 3, min(1.0, (MAP_FULL_MARKERS / max(len(opened), 1)) ** 0.5))
    traces = []
    outline_lat, outline_lon = ctx.profile.boundary_lines()
    if outline_lat:  # the units' outlines, under everything (points only without them)
        traces.append(
            {
                "lat": pd.Series(outline_lat, dtype=float),
                "lon": pd.Series(outline_lon, dtype=float),
                "mode": "lines",
                "showlegend": False,
                "hoverinfo": "skip",
                "line": {"width": 2 * ctx.scale, "color": "rgba(180,192,204,0.4)"},
            }
        )
    if not cams.empty:
        traces.append(
            {
                "lat": cams["lat"].round(MAP_DECIMALS),
                "lon": cams["lon"].round(MAP_DECIMALS),
                "mode": "markers",
                "showlegend": False,
                "marker": {"size": 5 * ctx.scale, "color": "rgba(180,192,204,0.25)"},
            }
        )
    for category, (symbol, _glyph, color) in style.items():
        part = opened[opened["category"] == category]
        if part.empty:
            continue
        traces.append(
            {
                "lat": part["lat"].round(MAP_DECIMALS),
                "lon": part["lon"].round(MAP_DECIMALS),
                "mode": "markers",
                # The legend draws the marker's own shape: no glyph beside it.
                "name": figure_text(f"{ctx.t.label(category_labels(ctx), category)} ({len(part)})"),
                "marker": {
                    "size": 19 * ctx.scale * shrink,
                    "color": color,
                    "symbol": symbol,
                    "line": {"width": 1.5 if shrink == 1 else 0, "color": "#000"},
                },
            }
        )
    if not cams.empty and "ward" in cams.columns:  # on top, readable over many reports
        named = cams.assign(ward=ctx.profile.todays_units(cams["ward"], ctx.lang))
        centres = named.groupby("ward")[["lat", "lon"]].mean().reset_index()
        traces.append(
            {
                "lat": centres["lat"].round(MAP_DECIMALS),
                "lon": centres["lon"].round(MAP_DECIMALS),
                "mode": "text",
                "text": [
                    figure_text(ward, LABEL_CHARS, on_tiles=bool(tiles)) for ward in centres["ward"]
                ],
                "textposition": label_sides(centres["lon"], cams["lon"]),
                "showlegend": False,
                "textfont": {"size": 17 * ctx.scale, "color": "rgba(220,228,236,0.75)"},
            }
        )
    if not traces:
        return empty_figure(ctx, ctx.t("rep.none_open"))
    fig = figure(
        ctx,
        showlegend=True,
        # Bottom left: the town's outline leaves that corner free.
        legend={
            "itemsizing": "constant",  # legend shapes stay big when the map's markers shrink
            "orientation": "v",
            "x": 0,
            "y": 0,
            "yanchor": "bottom",
            "bgcolor": "rgba(11,15,20,0.7)",
        },
    )
    if tiles:
        for trace in traces:
            # Over tiles, plotly draws every symbol but a circle with icons it fetches from a CDN
            # (cdn.jsdelivr.net): blocked by the wall's CSP, unreachable from a closed command
            # room. Circles, told apart by colour only (a limit README states).
            trace.pop("textposition", None)  # one position for all on a tiled map
            if "marker" in trace:
                trace["marker"] = {
                    k: v for k, v in trace["marker"].items() if k not in ("line", "symbol")
                }
            fig["data"].append({"type": "scattermap", **trace})
        lat = pd.concat([t["lat"] for t in traces])
        lon = pd.concat([t["lon"] for t in traces])
        fig["layout"]["map"] = {
            "style": {
                "version": 8,
                "sources": {"tiles": {"type": "raster", "tiles": [tiles], "tileSize": 256}},
                "layers": [{"id": "tiles", "type": "raster", "source": "tiles"}],
            },
            "center": {"lat": float(lat.mean()), "lon": float(lon.mean())},
            "zoom": 12.5,
        }
        return fig
    for trace in traces:
        fig["data"].append(
            {"type": "scatter", "x": trace.pop("lon"), "y": trace.pop("lat"), **trace}
        )
    fig["layout"]["xaxis"]["visible"] = False
    # Equal distances look equal: one degree of longitude is cos(latitude) of one of latitude.
    stretch = 1 / math.cos(math.radians(ctx.profile.centre[0]))
    fig["layout"]["yaxis"].update(visible=False, scaleanchor="x", scaleratio=stretch)
    return fig


def label_sides(label_lon: pd.Series, town_lon: pd.Series) -> list[str]:
    """A label near the town's west or east edge is written towards its middle, so no unit's
    name runs out of the map."""
    west, east = town_lon.min(), town_lon.max()
    third = (east - west) / 3
    return [
        "middle right"
        if lon < west + third
        else "middle left"
        if lon > east - third
        else "middle center"
        for lon in label_lon
    ]


def category_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(
        ctx.t("rep.by_category"), newest_age(data["reports"], ctx), ctx.for_part("reports")
    )


def category_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    reports = data["reports"]
    opened = open_reports(reports)
    if opened.empty:
        return empty_figure(ctx, "✔ " + ctx.t("rep.none_open"))
    style = category_style(reports, ctx)
    counts = opened["category"].value_counts()
    order = [c for c in style if c in counts]
    return horizontal_bars(
        ctx,
        [f"{style[c][1]} {ctx.t.label(category_labels(ctx), c)}" for c in order],
        [int(counts[c]) for c in order],
        [style[c][2] for c in order],
    )


def ward_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(
        ctx.t("rep.by_ward"), newest_age(data["reports"], ctx), ctx.for_part("reports")
    )


def ward_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    opened = open_reports(data["reports"])
    if opened.empty or "ward" not in opened.columns:
        return empty_figure(ctx, "✔ " + ctx.t("rep.none_open"))
    counts = (
        ctx.profile.todays_units(opened["ward"], ctx.lang)
        .fillna(ctx.t("cam.unknown_ward"))
        .value_counts()
    )
    return horizontal_bars(ctx, list(counts.index), counts.tolist(), COLORS["info"])


def hourly_counts(reports: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """New (by `created`) and resolved (by `updated` of resolved/closed reports) per hour over
    the last 24 hours: hour (UTC), new, resolved."""
    end = pd.Timestamp(ctx.now).floor("h") + pd.Timedelta(hours=1)
    hours = pd.date_range(end - pd.Timedelta(HISTORY), end, freq="h", inclusive="left")
    result = pd.DataFrame({"hour": hours, "new": 0, "resolved": 0})
    if reports.empty:
        return result
    if "created" in reports.columns:
        created = to_time(reports["created"]).dt.floor("h")
        result["new"] = result["hour"].map(created.value_counts()).fillna(0).astype(int)
    if {"updated", "status"} <= set(reports.columns):
        done = reports["status"].isin(("resolved", "closed"))
        updated = to_time(reports.loc[done, "updated"]).dt.floor("h")
        result["resolved"] = result["hour"].map(updated.value_counts()).fillna(0).astype(int)
    return result


def hourly_head(data: Mapping[str, pd.DataFrame], ctx: Context) -> html.Div:
    return tile_head(
        ctx.t("rep.per_hour"), newest_age(data["reports"], ctx), ctx.for_part("reports")
    )


def hourly_figure(data: Mapping[str, pd.DataFrame], ctx: Context) -> Figure:
    counts = hourly_counts(data["reports"], ctx)
    x = counts["hour"].dt.tz_convert(ctx.tz).dt.tz_localize(None)
    fig = figure(ctx, showlegend=True, barmode="group", bargap=0.25, bargroupgap=0.05)
    fig["data"] += [
        {
            "type": "bar",
            "x": x,
            "y": counts["new"],
            "name": ctx.t("rep.new"),
            "marker": {"color": COLORS["warn"]},
        },
        {
            "type": "bar",
            "x": x,
            "y": counts["resolved"],
            "name": "▨ " + ctx.t("rep.resolved"),
            "marker": {"color": COLORS["ok"], "pattern": {"shape": "/", "fgcolor": "#000"}},
        },
    ]
    marks, labels = surge_marks(data.get("alerts", pd.DataFrame()), counts, ctx)
    fig["data"] += marks
    fig["layout"]["annotations"] = labels
    fig["layout"]["xaxis"].update(tickformat="%H:%M", dtick=3 * 3600 * 1000)
    fig["layout"]["yaxis"]["rangemode"] = "tozero"
    return fig


def surge_marks(alerts: pd.DataFrame, counts: pd.DataFrame, ctx: Context) -> tuple[list, list]:
    """The anomaly alerts on new reports (a ward's, a category's) raised in the chart's hours:
    a triangle over that hour's bar of new reports, labelled with the ward or category in the
    screen's language (and how many more were raised that hour). Marks and their labels."""
    raises = anomaly_raises(alerts, ("reports", "category"))
    if raises.empty or counts.empty:
        return [], []
    hours = raises.assign(hour=raises["time"].dt.floor("h"))
    hours = hours[hours["hour"].isin(counts["hour"])].sort_values(["hour", "kind", "time"])
    name = "name_vi" if ctx.lang == "vi" else "name_en"
    marks = []
    for hour, group in hours.groupby("hour", sort=True):
        label = figure_text(str(group.iloc[0][name]), LABEL_CHARS)
        if len(group) > 1:
            label += f" +{len(group) - 1}"
        new = int(counts.loc[counts["hour"] == hour, "new"].iloc[0])
        marks.append((hour, new, label))
    marks = marks[-SURGES_SHOWN:]
    x = [pd.Timestamp(h).tz_convert(ctx.tz).tz_localize(None) for h, _, _ in marks]
    trace = anomaly_trace(x, [n for _, n, _ in marks], ctx, True, 24, legend=True)
    labels = [
        anomaly_label(label, at, n, ctx, True) for at, (_, n, label) in zip(x, marks, strict=True)
    ]
    return [trace], labels


def oldest(data: Mapping[str, pd.DataFrame], ctx: Context) -> list:
    opened = open_reports(data["reports"])
    head = tile_head(ctx.t("rep.oldest"), newest_age(data["reports"], ctx), ctx.for_part("reports"))
    if opened.empty:
        return [head, html.Div(mark("met", ctx.t, ctx.t("rep.none_open")), className="calm")]
    opened = opened.assign(
        opened_at=to_time(opened["created"]) if "created" in opened.columns else opened["time"]
    )
    opened = opened.assign(opened_at=opened["opened_at"].fillna(opened["time"]))
    style = category_style(data["reports"], ctx)
    rows = []
    oldest_first = opened.sort_values(["opened_at", "report_id"])
    for row in oldest_first.head(OLDEST_SHOWN).itertuples():
        record = row._asdict()
        title = record.get("title")
        title = row.report_id if title is None or pd.isna(title) else str(title)
        ward = record.get("ward")
        glyph = style.get(row.category, ("", "•", ""))[1]
        rows.append(
            html.Div(
                [
                    html.Div(age_text(ctx.age_seconds(row.opened_at), ctx.t), className="old-age"),
                    html.Div(
                        [
                            html.Div(title, className="old-title", **TRUNCATES),
                            html.Div(
                                f"{glyph} {ctx.t.label(category_labels(ctx), row.category)}"
                                + (
                                    f" · {ctx.profile.unit_name(ward, ctx.lang)}"
                                    if isinstance(ward, str)
                                    else ""
                                )
                                + f" · {ctx.t(f'rep.status.{row.status}')}",
                                className="old-where",
                            ),
                        ],
                        className="old-what",
                    ),
                ],
                className="old-row",
            )
        )
    return [head, *rows, more_line(max(0, len(oldest_first) - OLDEST_SHOWN), ctx)]


OUTPUTS = {
    f"{NAME}-headline.children": headline,
    f"{NAME}-map-head.children": map_head,
    f"{NAME}-category-head.children": category_head,
    f"{NAME}-ward-head.children": ward_head,
    f"{NAME}-hourly-head.children": hourly_head,
    f"{NAME}-map.figure": map_figure,
    f"{NAME}-category.figure": category_figure,
    f"{NAME}-ward.figure": ward_figure,
    f"{NAME}-hourly.figure": hourly_figure,
    f"{NAME}-oldest.children": oldest,
}

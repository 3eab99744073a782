"""Building blocks every wall screen shares: tiles with their data's age, status marks that never
rely on colour alone, number formats, and the dark plotly figure style.

Everything here is a pure function of plain data, so the screens can be tested without a browser.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from dash import dcc, html

from wall.city import CityProfile, CitySettings, load_profile
from wall.i18n import Translator

log = logging.getLogger(__name__)

# Okabe–Ito based, readable on the dark background and distinguishable with colour-blindness.
COLORS = {
    "ok": "#2fd6a0",
    "warn": "#f5c542",
    "bad": "#ff7043",
    "none": "#9aa7b4",
    "info": "#5cb8f0",
    "text": "#f3f6f9",
    "muted": "#b4c0cc",
    "grid": "#2c3845",
}
# Every status has a shape and a word as well as a colour.
MARKS = {
    "online": ("✔", "ok"),
    "up": ("✔", "ok"),
    "met": ("✔", "ok"),
    "offline": ("✖", "bad"),
    "down": ("✖", "bad"),
    "missed": ("✖", "bad"),
    "at_risk": ("▲", "warn"),
    "on_track": ("➚", "info"),
    "stale": ("◷", "warn"),
    "nodata": ("○", "none"),
    "no_target": ("○", "none"),
    "unreported": ("○", "none"),
    "live": ("●", "ok"),
    "loading": ("◌", "none"),
    "sound_blocked": ("♪", "warn"),  # a glyph of the wall's fonts (an emoji would be a box)
}
STATUS_WORDS = {
    "online": "status.online",
    "offline": "status.offline",
    "nodata": "status.nodata",
    "stale": "status.stale",
    "met": "status.met",
    "at_risk": "status.at_risk",
    "on_track": "status.on_track",
    "missed": "status.missed",
    "no_target": "status.no_target",
    "unreported": "status.unreported",
    "up": "status.up",
    "down": "status.down",
    "live": "status.live",
    "loading": "status.loading",
    "sound_blocked": "alarm.sound_blocked",
}
# Data that arrives when something happens, or once a period, is not stale after a quiet couple
# of minutes: its staleness limit is at least this (seconds) whatever stale_after_seconds says.
STALE_FLOOR_SECONDS = {"reports": 6 * 3600, "kpi": 2 * 86_400}
GRAPH_CONFIG = {"staticPlot": True, "responsive": True, "displayModeBar": False}
# Labels from data (wards, sites) are cut to this in a chart: the town's longest site name is
# 28 characters; a feed's 64-character ward would leave no room for the bars.
LABEL_CHARS = 32


@dataclass(frozen=True)
class Context:
    """What a screen needs besides its data: the time, the city's zone, the language, the
    staleness threshold and the size of the display (1.0 = 1920 pixels wide)."""

    now: datetime
    tz: ZoneInfo
    t: Translator
    stale_after_seconds: float
    scale: float = 1.0
    profile: CityProfile = field(default_factory=load_profile)  # the town the screens show
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.t.lang

    def age_seconds(self, when: Any) -> float | None:
        """Seconds since `when` (a UTC timestamp), or None when there is no time at all."""
        if when is None or (isinstance(when, float) and math.isnan(when)) or pd.isna(when):
            return None
        return max(0.0, (self.now - pd.Timestamp(when).to_pydatetime()).total_seconds())

    def for_part(self, part: str) -> Context:
        """This context with the staleness limit of one data part (see STALE_FLOOR_SECONDS)."""
        floor = STALE_FLOOR_SECONDS.get(part, 0)
        return replace(self, stale_after_seconds=max(self.stale_after_seconds, floor))

    def on_time_axis(self) -> Context:
        """This context with `now` rounded up to the minute, for a chart spanning hours: drawn
        from the same data it stays the same chart for a minute, so kiosks are not sent it
        again every tick; a minute does not show on such an axis."""
        return replace(self, now=pd.Timestamp(self.now).ceil("min").to_pydatetime())

    def is_stale(self, age: float | None) -> bool:
        return age is not None and age > self.stale_after_seconds

    def local(self, when: Any) -> datetime:
        return pd.Timestamp(when).to_pydatetime().astimezone(self.tz)

    def clock(self, when: Any) -> str:
        """'10:15' in the city's time, '10:15 05/12' when not today."""
        local = self.local(when)
        today = local.date() == self.local(self.now).date()
        return f"{local:%H:%M}" if today else f"{local:%H:%M %d/%m}"


def age_text(seconds: float | None, t: Translator) -> str:
    """'12 giây', '5 phút', '3 giờ', '2 ngày': the rounded age an operator reads at a glance."""
    if seconds is None:
        return t("never")
    seconds = max(0, int(seconds))
    if seconds < 60:
        return t("age.s", n=seconds)
    if seconds < 3600:
        return t("age.m", n=seconds // 60)
    if seconds < 86_400:
        return t("age.h", n=seconds // 3600)
    if seconds < 3 * 86_400 and (seconds % 86_400) // 3600:
        return t("age.dh", d=seconds // 86_400, h=(seconds % 86_400) // 3600)
    return t("age.d", n=seconds // 86_400)


def fmt_int(value: float | int | None, lang: str) -> str:
    """Grouped digits the local way: 12.345 in Vietnamese, 12,345 in English."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{round(value):,}"
    return text.replace(",", ".") if lang == "vi" else text


def fmt_number(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer():
        return fmt_int(value, lang)
    text = f"{value:,.{digits}f}"
    if lang == "vi":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def percent(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


# An element of a list of titles (report titles, camera names): cut with an ellipsis when long,
# by design; every other text on a screen must fit (tests/test_browser_clipping.py).
TRUNCATES = {"data-truncates": ""}


def more_line(unsent: int, ctx: Context) -> html.Div:
    """A list's last line: how many of its rows are not shown. `unsent` counts those the server
    left out; the page (wall.js) adds the rows that do not fit the panel whole, and hides the
    line when nothing is left out."""
    return html.Div(
        f"+ {fmt_int(unsent, ctx.lang)}" if unsent else "",
        className="list-more",
        **{"data-unsent": str(unsent)},
    )


def mark(status: str, t: Translator, word: str | None = None, size: str = "") -> html.Span:
    """A status as shape + word + colour, e.g. ✖ Mất kết nối."""
    symbol, tone = MARKS[status]
    return html.Span(
        [
            html.Span(symbol, className="mark-symbol", **{"aria-hidden": "true"}),
            html.Span(word if word is not None else t(STATUS_WORDS[status]), className="mark-word"),
        ],
        className=f"mark mark--{tone} {size}".strip(),
    )


def age_line(age: float | None, ctx: Context) -> html.Div:
    """The footer every tile carries: how old its data is, and the stale warning past the limit."""
    if age is None:
        return html.Div([mark("nodata", ctx.t, ctx.t("never"))], className="age age--none")
    if ctx.is_stale(age):
        return html.Div(
            [mark("stale", ctx.t, ctx.t("stale_since", age=age_text(age, ctx.t)))],
            className="age age--stale",
        )
    return html.Div(ctx.t("updated", age=age_text(age, ctx.t)), className="age")


def tile_head(title: str, age: float | None, ctx: Context) -> html.Div:
    """Title and data age of a tile whose body is a figure (the figure is a separate output)."""
    stale = " tile-head--stale" if age is None or ctx.is_stale(age) else ""
    return html.Div(
        [html.Div(title, className="tile-title"), age_line(age, ctx)],
        className=f"tile-head{stale}",
    )


def big_number_class(value: str) -> str:
    """Long values ("2.000 / 2.000", a city's cameras) step down a size or two rather than
    overflow their tile."""
    if len(value) > 11:
        return "big-number big-number--longer"
    return "big-number big-number--long" if len(value) > 9 else "big-number"


def big_tile(
    title: str,
    value: str,
    age: float | None,
    ctx: Context,
    *,
    detail: Any = None,
    status: str | None = None,
    status_word: str | None = None,
    age_note: str | None = None,
) -> html.Div:
    """A headline number with its title, optional status mark and detail, and its data age
    (or `age_note` for data whose age says nothing about freshness, such as an event log)."""
    stale = age is None or ctx.is_stale(age)
    return html.Div(
        [
            html.Div(title, className="tile-title"),
            html.Div(
                html.Span(value, className=big_number_class(value)),
                className="big-row",
            ),
            html.Div(
                [
                    mark(status, ctx.t, status_word, size="mark--big") if status else None,
                    *(detail if isinstance(detail, list) else [detail]),
                ],
                className="tile-detail",
            )
            if status or detail is not None
            else None,
            age_line(age, ctx) if age_note is None else html.Div(age_note, className="age"),
        ],
        className="tile tile--big" + (" tile--stale" if stale and age_note is None else ""),
    )


def newest_age(frame: pd.DataFrame, ctx: Context) -> float | None:
    if frame is None or frame.empty or "time" not in frame.columns:
        return None
    return ctx.age_seconds(frame["time"].max())


# A plotly figure as Dash sends it: {"data": [trace, …], "layout": {…}}. The screens build them as
# plain dicts: plotly's figure objects validate every property as it is set, which took most of a
# city-scale drawing (0.2 s for the reports map alone); tests check the dicts are valid figures.
Figure = dict[str, Any]


def _wall_template() -> dict[str, Any]:
    """plotly_dark cut to what the wall draws: the whole template is 7 KB in every figure sent to
    every kiosk."""
    dark = pio.templates["plotly_dark"]
    used_layout = ("xaxis", "yaxis", "annotationdefaults", "shapedefaults", "colorway", "font")
    return go.layout.Template(
        layout={key: dark.layout[key] for key in used_layout},
        data={kind: dark.data[kind] for kind in ("bar", "scatter", "scattermap")},
    ).to_plotly_json()


WALL_TEMPLATE = _wall_template()


def figure(ctx: Context, **layout: Any) -> Figure:
    """An empty figure in the wall's style: dark, large type, no hover, legend on top. `layout`
    is merged in as plotly's update_layout would (nested settings key by key)."""
    s = ctx.scale
    base = {
        "template": WALL_TEMPLATE,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {
            "family": "DejaVu Sans, Liberation Sans, sans-serif",
            "size": 22 * s,
            "color": COLORS["text"],
        },
        "margin": {"l": 12 * s, "r": 24 * s, "t": 12 * s, "b": 12 * s},
        "hovermode": False,
        "autosize": True,
        "showlegend": False,
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": 22 * s},
            "itemwidth": 60 * s,  # a line's dash must read from the back of the room
        },
        "uirevision": "wall",
    }
    for axis in ("xaxis", "yaxis"):
        base[axis] = {
            "gridcolor": COLORS["grid"],
            "zeroline": False,
            "automargin": True,
            "tickfont": {"size": 20 * s},
        }
    # A time axis ending now can have a tick just inside its end whose label would run past
    # the figure (automargin does not move the sides for it): not drawn rather than cut.
    base["xaxis"]["ticklabeloverflow"] = "hide past div"
    return {"data": [], "layout": merged(base, layout)}


def merged(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `update` merged in, nested dicts key by key (as plotly's update_layout)."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merged(base[key], value)
        else:
            base[key] = value
    return base


def figure_text(text: Any, max_chars: int | None = None, *, on_tiles: bool = False) -> str:
    """Text as plotly shows it literally. Plotly reads a few HTML tags (<b>, <a href>, <br>…)
    and entities in every text of a figure, so a ward named "<b>X</b>" would be drawn bold;
    with & < > as entities it shows as written (nothing else changes, diacritics included).
    Only for figures: Dash components already show their text as text. Text longer than
    `max_chars` is cut with "…" (before escaping: no entity is cut in half).

    `on_tiles`: for the `text` of a tiled map's trace (scattermap), which MapLibre draws as
    plain text (entities would show as "&lt;"); plotly only turns <br> in it into a line break,
    so an invisible word joiner after that "<" keeps it as written."""
    text = str(text)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    if on_tiles:
        return _BR_TAG.sub("<\u2060", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_BR_TAG = re.compile(r"<(?=br)", re.IGNORECASE)  # plotly's BR_TAG_ALL is /<br(\s+.*)?>/gi


def horizontal_bars(
    ctx: Context,
    labels: Sequence[str],
    values: Sequence[float],
    colors: str | Sequence[str],
    value_marks: Sequence[str] = (),
) -> Figure:
    """The wall's ranking chart: bars from the top down, each with its value in a column on
    the right, after its row's `value_marks` (a "▲" of an anomaly) where given. `labels` are
    plain text (a ward, a site), shown as written and cut to LABEL_CHARS (the bars keep their
    own rows when two labels are cut alike). The values are
    the right axis' labels, so plotly makes room for the longest one: a value in the millions
    never runs past the panel, as text beside the bar would."""
    shown = [figure_text(label, LABEL_CHARS) for label in labels]
    labels = [figure_text(label) for label in labels]
    marks = list(value_marks) or [""] * len(values)
    texts = [mark + fmt_int(v, ctx.lang) for mark, v in zip(marks, values, strict=True)]
    fig = figure(ctx, bargap=0.2)
    bar = {"type": "bar", "y": labels, "x": list(values), "orientation": "h"}
    fig["data"].append({**bar, "marker": {"color": colors}})
    # The same rows on the right axis, drawn empty: that axis only carries the values.
    fig["data"].append(
        {**bar, "yaxis": "y2", "marker": {"opacity": 0}, "hoverinfo": "skip", "showlegend": False}
    )
    layout = fig["layout"]
    # Every label shown, even when the bars are close: plotly would otherwise skip some. The
    # first row on top by the rows' order (plotly puts the array's first at the bottom), not by
    # a reversed autorange, which a redraw of the same chart may not apply (the labels and bars
    # were seen upside down against the values' column).
    layout["yaxis"].update(
        tickmode="array",
        tickvals=labels,
        ticktext=shown,
        categoryorder="array",
        categoryarray=labels[::-1],
    )
    layout["yaxis2"] = {
        **layout["yaxis"],
        "overlaying": "y",
        "side": "right",
        "ticktext": [figure_text(text) for text in texts],
        "tickfont": {"size": 22 * ctx.scale, "color": COLORS["text"]},
        "showgrid": False,
    }
    longest = max(1.0, float(max(values, default=0)))
    layout["xaxis"].update(visible=False, range=[0, longest])
    return fig


def empty_figure(ctx: Context, message: str | None = None) -> Figure:
    fig = figure(ctx)
    fig["layout"]["xaxis"]["visible"] = False
    fig["layout"]["yaxis"]["visible"] = False
    fig["layout"]["annotations"] = [
        {
            "text": message or ctx.t("no_data"),
            "showarrow": False,
            "font": {"size": 26 * ctx.scale, "color": COLORS["muted"]},
            "xref": "paper",
            "yref": "paper",
            "x": 0.5,
            "y": 0.5,
        }
    ]
    return fig


BLANK_FIGURE = {
    "data": [],
    "layout": {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
    },
}


def graph(graph_id: str) -> dcc.Graph:
    """A figure slot: transparent until its screen's first refresh fills it."""
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, className="graph", figure=BLANK_FIGURE)


Builder = Callable[[Mapping[str, pd.DataFrame], Context], Any]


class PartLoading(LookupError):
    """A part an output draws from has no answer yet (its first read is still running)."""


class Parts(dict[str, pd.DataFrame]):
    """A screen's parts for one tick; asking for one that is not there means it is loading."""

    def __missing__(self, name: str) -> pd.DataFrame:
        raise PartLoading(name)


def render_outputs(builders: Mapping[str, Builder], data: Parts, ctx: Context) -> dict[str, Any]:
    """Each output of a screen built on its own: one tile that cannot be drawn (unexpected data)
    shows "no data" and a log line, one whose data is still loading says so, and the rest of the
    screen still updates."""
    result = {}
    for output, build in builders.items():
        try:
            result[output] = build(data, ctx)
        except PartLoading:
            result[output] = placeholder(output, "loading", "tile--loading", ctx)
        except Exception:
            log.exception("cannot draw %s; showing it as 'no data'", output)
            result[output] = placeholder(output, "nodata", "tile--error", ctx)
    return result


def placeholder(output: str, status: str, tile_class: str, ctx: Context) -> Any:
    """What an output shows in place of its drawing: the status word on an empty figure, or a
    tile with the status mark."""
    if output.endswith(".figure"):
        return empty_figure(ctx, ctx.t(STATUS_WORDS[status]))
    return html.Div(mark(status, ctx.t), className=f"tile {tile_class}")


def screen_header(name: str, t: Translator, city: CitySettings) -> html.Header:
    """Screen title, town, the live clock (filled by assets/wall.js in the city's time zone) and
    the connection badge."""
    return html.Header(
        [
            html.Div(
                [
                    html.Div(t(f"screen.{name}"), className="screen-title"),
                    html.Div(
                        f"{t('ioc')} · {city.profile.name(t.lang)}", className="screen-subtitle"
                    ),
                ],
                className="screen-titles",
            ),
            html.Div(id=f"{name}-headline", className="screen-headline"),
            html.Div(
                [
                    html.Span(
                        [mark("offline", t, t("reconnecting"))],
                        className="reconnect-badge",
                    ),
                    # Shown by assets/wall.js when the browser refuses to play the alarm sound.
                    html.Span(
                        [mark("sound_blocked", t)],
                        className="sound-badge",
                    ),
                    html.Div(id=f"{name}-status", className="screen-status"),
                ],
                className="screen-badges",
            ),
            html.Div(
                className="wall-clock",
                **{"data-tz": city.tz.key, "data-lang": t.lang},
            ),
        ],
        className="screen-header",
    )


def alarm_slot(name: str) -> html.Div:
    """Where the screen's alarm banner goes (layouts/alarm.py), between its header and its
    panels: it takes room there only when it has something to say."""
    return html.Div(id=f"{name}-alarm", className="alarm-slot")


def as_bool(series: pd.Series) -> pd.Series:
    """A boolean field column as True/False/NA, whatever the backend returned (bool, 0/1)."""
    return series.map(lambda v: None if v is None or pd.isna(v) else bool(v)).astype("boolean")


def to_time(series: pd.Series) -> pd.Series:
    """RFC 3339 text fields (report created/updated) as UTC timestamps; bad values become NaT."""
    return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")

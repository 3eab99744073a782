"""One refresh callback per screen: the parts it needs (through the cache) → its pure builders.

A tick goes: `{screen}-tick` (dcc.Interval) → a browser-side gate that lets it through only when
the screen is visible and its previous round trip has finished (assets/wall.js watches the
requests themselves, so the callback graph has no cycle) → `{screen}-pull` → the server callback
below → every output of the screen at once. Slow queries therefore never pile up callbacks, and
a hidden kiosk screen costs nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, no_update

from callbacks.queries import Queries
from layouts import SCREENS
from layouts.common import Context, mark, render_outputs
from wall.cache import shared
from wall.i18n import Translator
from wall.settings import Settings

log = logging.getLogger(__name__)
SCALE_LIMITS = (0.5, 4.0)
DESIGN_WIDTH = 1920


def scale_for(pull: Any) -> float:
    """Figure scale from the browser's width (1.0 at 1920 px), so plotly text grows with the CSS;
    in steps of 1/8, so walls of nearly the same size share one drawing."""
    try:
        width = float(pull.get("w", DESIGN_WIDTH))
    except (AttributeError, TypeError, ValueError):
        return 1.0
    low, high = SCALE_LIMITS
    return min(high, max(low, round(width / DESIGN_WIDTH * 8) / 8))


def refresh(
    screen: ModuleType, queries: Queries, settings: Settings, lang: str, pull: Any
) -> list[Any]:
    """The values of the screen's outputs, then its status line.

    The drawing itself is shared like the queries: kiosks showing the same screen in the same
    language at the same size get one drawing per tick between them.
    """
    t = Translator(lang if lang in ("vi", "en") else settings.language)
    outputs = list(screen.OUTPUTS)
    scale = scale_for(pull)

    def draw() -> list[Any]:
        data = queries.parts(screen.PARTS)
        ctx = Context(
            now=datetime.now(UTC),
            tz=settings.tz,
            t=t,
            stale_after_seconds=settings.stale_after_seconds,
            scale=scale,
            extra={"map_tiles_url": settings.map_tiles_url},
        )
        values = render_outputs(screen.OUTPUTS, data, ctx)
        # Figures as plain dicts: what Dash sends anyway, and far quicker out of the cache.
        return [
            values[key].to_dict() if isinstance(values[key], go.Figure) else values[key]
            for key in outputs
        ]

    try:
        values = shared(
            f"screen:{screen.NAME}:{t.lang}:{scale:.2f}", settings.refresh_seconds, draw
        )
    except Exception as exc:  # the store is down or answered nonsense: keep the last picture
        log.warning("screen %s: cannot read the store: %s", screen.NAME, exc)
        status = mark("offline", t, t("store_unavailable"))
        return [no_update] * len(outputs) + [status]
    return [*values, None]


def register(app: Dash, settings: Settings, queries: Queries) -> None:
    for screen in SCREENS.values():
        _register_screen(app, screen, settings, queries)


def _register_screen(app: Dash, screen: ModuleType, settings: Settings, queries: Queries) -> None:
    name = screen.NAME
    app.clientside_callback(
        f"function(n, current) {{ return window.iocWall.gate({name!r}, n, current); }}",
        Output(f"{name}-pull", "data"),
        Input(f"{name}-tick", "n_intervals"),
        Input("page-current", "data"),
    )
    outputs = [Output(*key.rsplit(".", 1)) for key in screen.OUTPUTS]

    @app.callback(
        *outputs,
        Output(f"{name}-status", "children"),
        Input(f"{name}-pull", "data"),
        State("page-lang", "data"),
        prevent_initial_call=True,
    )
    def update(pull: Any, lang: str) -> list[Any]:
        return refresh(screen, queries, settings, lang, pull)

    update.__name__ = f"update_{name}"

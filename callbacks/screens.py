"""One refresh callback per screen: the parts it needs (through the cache) → its pure builders.

A tick goes: `{screen}-tick` (dcc.Interval) → a browser-side gate that lets it through only when
the screen is visible and its previous round trip has finished (assets/wall.js watches the
requests themselves, so the callback graph has no cycle) → `{screen}-pull` → the server callback
below → the outputs of the screen. Slow queries therefore never pile up callbacks, and a hidden
kiosk screen costs nothing.

A kiosk is sent only what changed: each tick's shared drawing carries a digest of every output,
the kiosk keeps the digests of what it shows (`{screen}-shown`, written by the same callback), and
an output whose digest the kiosk already has is answered `no_update`. The digests are of the
content, so they stay true across server restarts and worker processes; a reloaded page has none
and gets everything. A response that fails never reaches the page, and of two responses of one
callback Dash applies only the latest, so the digests a kiosk holds are those of what it shows.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, NamedTuple

from dash import Dash, Input, Output, State, no_update
from plotly.io.json import to_json_plotly

from callbacks.queries import Queries
from layouts import SCREENS, alarm
from layouts.common import Builder, Context, mark, render_outputs
from wall.cache import shared
from wall.heartbeat import Heartbeat, Pulse
from wall.i18n import Translator
from wall.settings import Settings

log = logging.getLogger(__name__)
SCALE_LIMITS = (0.5, 4.0)
DESIGN_WIDTH = 1920


def scale_for(pull: Any) -> float:
    """Figure scale from the browser's width (1.0 at 1920 px), so plotly text grows with the CSS;
    in steps of 1/8, so walls of nearly the same size share one drawing. A width that is not a
    finite number (the request did not come from the wall's page) draws at the design size."""
    width = pull.get("w") if isinstance(pull, dict) else None
    if isinstance(width, bool) or not isinstance(width, int | float):
        return 1.0
    try:
        ratio = width / DESIGN_WIDTH
    except OverflowError:  # an integer beyond any float
        return 1.0
    if not math.isfinite(ratio):
        return 1.0
    low, high = SCALE_LIMITS
    return min(high, max(low, round(ratio * 8) / 8))


class Drawing(NamedTuple):
    """A screen's outputs for one tick, the digest of each, and whether a part it draws from was
    still loading."""

    values: list[Any]
    digests: list[str]
    loading: bool = False


def digest(value: Any) -> str:
    """A short fingerprint of an output's JSON, as Dash sends it: equal digests, same value."""
    return hashlib.blake2b(to_json_plotly(value).encode(), digest_size=8).hexdigest()


def for_kiosk(keys: Sequence[str], drawing: Drawing, shown: Any, page_id: Any) -> list[Any]:
    """The drawing as one kiosk needs it: `no_update` for each output whose digest the kiosk
    holds, the value otherwise; then the digests it will hold (`no_update` if the same).

    `shown` counts only if it was recorded on this very page (`page_id`, new at each rendering of
    the page): a response that was on its way when the page was rendered anew must not vouch for
    the fresh, empty components."""
    known: Any = {}
    if isinstance(shown, dict) and shown.get("page") == page_id:
        known = shown.get("digests")
    if not isinstance(known, dict):
        known = {}
    values = [
        no_update if known.get(key) == fingerprint else value
        for key, value, fingerprint in zip(keys, drawing.values, drawing.digests, strict=True)
    ]
    digests = dict(zip(keys, drawing.digests, strict=True))
    return [*values, no_update if digests == known else {"page": page_id, "digests": digests}]


def builders(screen: ModuleType) -> dict[str, Builder]:
    """The screen's own outputs, then the alarm banner every screen carries."""
    return {**screen.OUTPUTS, **alarm.outputs(screen.NAME)}


def parts(screen: ModuleType) -> tuple[str, ...]:
    """The parts the screen and its alarm banner draw from (the alerts part at most once)."""
    return tuple(dict.fromkeys((*screen.PARTS, *alarm.PARTS)))


def alert_rules_pulse(settings: Settings) -> Pulse:
    """The alert service's last pass, from its heartbeat file (a stat, no store query)."""
    return Pulse(Heartbeat(settings, "alerts").last_beat(), settings.alert_evaluate_seconds)


def refresh(
    screen: ModuleType,
    queries: Queries,
    settings: Settings,
    lang: str,
    pull: Any,
    shown: Any = None,
    page_id: Any = None,
) -> list[Any]:
    """The values of the screen's outputs (`no_update` for those the kiosk already shows, see
    `for_kiosk`), its status line (loading while a part has no answer yet), then the digests the
    kiosk will hold.

    The drawing itself is shared like the queries: kiosks showing the same screen in the same
    language at the same size get one drawing (and one set of digests) per tick between them.
    """
    t = Translator(lang if lang in ("vi", "en") else settings.language)
    screen_builders, screen_parts = builders(screen), parts(screen)
    outputs = list(screen_builders)
    scale = scale_for(pull)

    def draw() -> Drawing:
        data = queries.parts(screen_parts)
        ctx = Context(
            now=datetime.now(UTC),
            tz=settings.tz,
            t=t,
            stale_after_seconds=settings.stale_after_seconds,
            scale=scale,
            profile=settings.profile,
            extra={
                "map_tiles_url": settings.map_tiles_url,
                "alert_rules": alert_rules_pulse(settings),
            },
        )
        values = render_outputs(screen_builders, data, ctx)
        plain = [values[key] for key in outputs]
        return Drawing(plain, [digest(value) for value in plain], len(data) < len(screen_parts))

    try:
        drawing = shared(
            f"drawing:{screen.NAME}:{t.lang}:{scale:.2f}", settings.refresh_seconds, draw
        )
    except Exception as exc:  # the store is down or answered nonsense: keep the last picture
        log.warning("screen %s: cannot read the store: %s", screen.NAME, exc)
        status = mark("offline", t, t("store_unavailable"))
        # The kiosk keeps its picture, so it keeps the digests of that picture too.
        return [no_update] * len(outputs) + [status, no_update]
    *values, digests = for_kiosk(outputs, drawing, shown, page_id)
    return [*values, mark("loading", t) if drawing.loading else None, digests]


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
    outputs = [Output(*key.rsplit(".", 1)) for key in builders(screen)]

    @app.callback(
        *outputs,
        Output(f"{name}-status", "children"),
        Output(f"{name}-shown", "data"),
        Input(f"{name}-pull", "data"),
        State("page-lang", "data"),
        State(f"{name}-shown", "data"),
        State("page-id", "data"),
        prevent_initial_call=True,
    )
    def update(pull: Any, lang: str, shown: Any, page_id: Any) -> list[Any]:
        return refresh(screen, queries, settings, lang, pull, shown, page_id)

    update.__name__ = f"update_{name}"

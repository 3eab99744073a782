"""`create_app(settings)`: the Dash wall, ready for a WSGI server (`app.server`).

No dev tools, no debug overlay and no error page ever reach a wall: production mode only, the
layout is a static root, and every screen fills itself through its own refresh callback.
"""

from __future__ import annotations

from dash import Dash, dcc, html
from werkzeug.middleware.proxy_fix import ProxyFix

from callbacks import pages, screens
from callbacks.queries import Queries
from wall import indicator_api, officer_console, screen_api
from wall.cache import init_cache
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR
from wall.store import Store
from wall.web_surface import harden


def root_layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="page-lang"),
            html.Div(id="page", className="page"),
        ],
        id="wall-root",
    )


def create_app(settings: Settings | None = None, store: Store | None = None) -> Dash:
    """The wall app. `store` is for callers that already hold one (tests); by default each
    worker process opens its own from the settings on first use, and building the app opens
    none (wall.server forks its workers from this process)."""
    settings = settings or load_settings()
    app = Dash(
        __name__,
        title=f"IOC {settings.profile.name(settings.language)}",
        update_title=None,
        assets_folder=str(PROJECT_DIR / "assets"),
        serve_locally=True,
        suppress_callback_exceptions=True,
        # Refresh answers are JSON of 10–60 kB: gzip cuts them several-fold on the wire.
        compress=True,
    )
    app.enable_dev_tools(debug=False, dev_tools_ui=False, dev_tools_props_check=False)
    app.layout = root_layout
    if settings.trusted_proxies:  # the client's address and scheme, as the proxies in front saw
        hops = settings.trusted_proxies
        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=hops, x_proto=hops)
    init_cache(app.server, settings)
    queries = Queries(settings, store)
    pages.register(app, settings)
    screens.register(app, settings, queries)
    officer_console.register(app.server, settings, queries.store)
    indicator_api.register(app.server, settings, queries.store)
    screen_api.register(app.server, settings, queries.store)
    harden(app, settings)  # after every callback: the CSP holds their inline scripts' hashes

    @app.server.route("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        """Kiosks ask this before reloading, so a reload never lands on a dead server."""
        return "ok", 200, {"Cache-Control": "no-store", "Content-Type": "text/plain"}

    # Dash prepares its script registry on the first request of a process; with threaded
    # workers a second request racing the first one is refused ("dash is not a registered
    # library"). One request here, before any worker is forked, prepares it for all of them.
    app.server.test_client().get("/")
    return app

"""The leaders' briefs in the officer console: /officer/briefs lists the briefs kept in
IOC_BRIEF_DIR, newest first, and /officer/briefs/<name> downloads one of their files.

A download names a file, never a path: only a name that is a brief's (wall.brief.BRIEF_NAME) and
is a regular file directly inside the brief folder is served; anything else is a 404, so `../`,
absolute or percent-encoded paths and links out of the folder reach nothing. A folder that is
missing or cannot be read is said on the page, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, g, redirect, send_file

from layouts.common import fmt_int
from wall.brief import BRIEF_NAME, KeptBrief, kept_briefs
from wall.brief_mail import mail_states
from wall.settings import Settings
from wall.store import Store, StoreError

log = logging.getLogger(__name__)

CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv"}  # Flask adds charset=utf-8 to text


def add_routes(
    bp: Blueprint,
    settings: Settings,
    store: Store,
    page: Callable[..., tuple[str, int]],
    t: Callable[..., str],
    lang: Callable[[], str],
    local: Callable,
) -> None:
    """Add the brief pages to the console's blueprint: they share its sign-in check and look."""
    folder = Path(settings.brief_dir)

    def period_text(brief: KeptBrief) -> str:
        last = brief.period.next_first_day - timedelta(days=1)
        if brief.kind == "day":
            return f"{brief.first_day:%d/%m/%Y}"
        if brief.kind == "month":
            return f"{brief.first_day:%m/%Y}"
        return f"{brief.first_day:%d/%m} – {last:%d/%m/%Y}"

    def size_text(size: int) -> str:
        if size < 1024:
            return f"{size} B"
        kb = size / 1024
        return f"{fmt_int(kb, lang())} KB" if kb < 1024 else f"{kb / 1024:.1f} MB"

    @bp.get("/officer/briefs")
    def briefs_page():
        if not g.officer:
            return redirect("/officer/signin")
        intro = t("briefs_intro", folder=str(folder))
        try:
            kept = kept_briefs(folder)
        except FileNotFoundError:
            return page(t("briefs"), "briefs", rows=[], intro=intro, problem=t("briefs_no_dir"))
        except OSError as exc:
            log.error("briefs folder %s cannot be read: %s", folder, exc)
            problem = t("briefs_unreadable", why=exc.strerror or type(exc).__name__)
            return page(t("briefs"), "briefs", rows=[], intro=intro, problem=problem)
        messages = []
        try:
            mailed = mail_states(store, [b.stem for b in kept])
        except StoreError:
            mailed = {}
            messages.append(("error", t("briefs_mail_unknown")))
        rows = []
        for brief in kept:
            state = mailed.get(brief.stem)
            if state is None:
                mail = ""
            elif state.sent_at:
                mail = t("brief_mailed", time=local(state.sent_at), count=state.recipients)
            else:
                mail = t("brief_not_mailed", why=state.failure or "")
            rows.append(
                {
                    "kind": t(f"brief_{brief.kind}"),
                    "period": period_text(brief),
                    "lang": {"vi": "Tiếng Việt", "en": "English"}.get(brief.lang or "", "—"),
                    "made": local(brief.made),
                    "files": [
                        (f"/officer/briefs/{brief.stem}.{ext}", ext.upper(), size_text(size))
                        for ext, size in sorted(brief.files.items(), key=lambda i: i[0] != "pdf")
                    ],
                    "mail": mail,
                    "mail_failed": state is not None and not state.sent_at,
                }
            )
        return page(t("briefs"), "briefs", rows=rows, intro=intro, problem=None, messages=messages)

    @bp.get("/officer/briefs/<name>")
    def brief_file(name: str):
        if not g.officer:
            return redirect("/officer/signin")
        match = BRIEF_NAME.fullmatch(name)
        path = folder / name
        try:
            if not match or not path.is_file() or path.resolve().parent != folder.resolve():
                raise FileNotFoundError(name)
            handle = path.open("rb")
        except OSError:
            return page(t("briefs"), "base", 404, messages=[("error", t("brief_not_found"))])
        log.info("officer %s downloaded %s", g.officer, name)
        return send_file(
            handle,
            mimetype=CONTENT_TYPES[match.group(3)],
            as_attachment=True,
            download_name=name,
            max_age=0,
        )

"""What drawing the leaders' brief costs with each candidate renderer: prints, asserts nothing.

    python bench/brief_renderers.py --write-doc

The same figures (a day of bench/seed_city.py's city, and the day before for the comparison),
drawn as the brief's pages by:
- ReportLab: the brief's own `write_pdf`, the reference;
- headless Chromium printing the same figures as an HTML page to PDF, a new browser process per
  brief (as a scheduled command would) and a browser kept running (Selenium's print);
- WeasyPrint, the same HTML, when it is installed (`pip install weasyprint`; not a dependency).
The HTML holds the brief's figures (its CSV rows) as tables and one bar chart as inline SVG,
with the DejaVu fonts the PDF embeds: less layout than the brief, so its renderers are favoured.
Only drawing is timed: the figures are read from the store once, before.
"""

from __future__ import annotations

import argparse
import base64
import html
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import seed_city
from tests.browser_fixtures import CHROMIUM_FLAGS, chromium
from wall.brief import chosen_period, csv_rows, figures, write_pdf
from wall.city import load_profile
from wall.store.sqlite import SQLiteStore

FONTS = Path("/usr/share/fonts/truetype/dejavu")
CONCLUSION = (
    "Why ReportLab: on the run written on 2026-12-06 it drew the whole brief many times faster "
    "than either HTML renderer drew the simpler page (see the ratios), with no browser process "
    "to start or supervise and no system library beyond a TTF font; its PDF embeds font subsets "
    "(Chromium's held the fonts whole: ~1.5 MB against ~50 KiB) and draws charts as vector "
    "graphics; maintained since 2000 under a BSD licence. Drawing is a small part of a brief: "
    'the store reads take the rest ("Leaders\' brief at city scale" above).'
)


def brief_html(rows: list[list[str]], by_ward: dict[str, float]) -> str:
    """The brief's figures as a printable A4 page: a table per section and a bar chart."""
    sections: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        sections.setdefault(row[0], []).append(row[1:])
    bars = "".join(
        f'<text x="0" y="{22 * n + 15}">{html.escape(ward)}</text>'
        f'<rect x="180" y="{22 * n + 3}" width="{300 * share:.1f}" height="16" fill="#2c6fbb"/>'
        for n, (ward, share) in enumerate(sorted(by_ward.items()))
    )
    chart = f'<svg width="500" height="{22 * len(by_ward) + 10}">{bars}</svg>'
    tables = "".join(
        f"<h2>{html.escape(name)}</h2><table><tr><th>figure</th><th>key</th><th>value</th>"
        "<th>previous</th></tr>"
        + "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in found
        )
        + "</table>"
        for name, found in sections.items()
    )
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><style>
@font-face {{ font-family: DejaVu; src: url("file://{FONTS}/DejaVuSans.ttf"); }}
@font-face {{ font-family: DejaVu; font-weight: bold;
  src: url("file://{FONTS}/DejaVuSans-Bold.ttf"); }}
@page {{ size: A4; margin: 18mm; }}
body {{ font-family: DejaVu; font-size: 10.5pt; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 0.25pt solid #bbb; padding: 2pt 4pt; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
</style></head><body><h1>Báo cáo tóm tắt cho lãnh đạo</h1>{chart}{tables}</body></html>"""


def timed(work: Callable[[], object], repeat: int) -> float:
    """The median seconds of `repeat` runs of `work`, after one not counted."""
    work()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--repeat", type=int, default=5, help="timed runs of each renderer")
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    profile = load_profile()
    zone = ZoneInfo(profile.timezone)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        with SQLiteStore(out / "ioc.db") as store:
            seed_city(store, now, 2.2, reports=5000)
            period = chosen_period("day", None, now, zone)
            day = figures(store, period.start(zone), period.end(zone), profile)
            previous = period.previous()
            before = figures(store, previous.start(zone), previous.end(zone), profile)
        page = out / "brief.html"
        page.write_text(brief_html(csv_rows(day, before, profile, "vi"), day.camera_by_ward))
        results: list[tuple[str, float | None, Path | None]] = []

        def reportlab() -> None:
            write_pdf(out / "rl.pdf", period, day, before, profile, zone, now, "vi")

        results.append(("ReportLab (the brief's write_pdf)", timed(reportlab, opts.repeat), None))

        def chromium_process() -> None:
            subprocess.run(
                [
                    "/usr/bin/chromium",
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={out / 'profile'}",
                    "--no-pdf-header-footer",
                    f"--print-to-pdf={out / 'cold.pdf'}",
                    page.as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )

        results.append(
            ("Chromium, a process per brief", timed(chromium_process, opts.repeat), None)
        )
        browser = chromium()
        try:
            from selenium.webdriver.common.print_page_options import PrintOptions

            options = PrintOptions()
            options.page_width, options.page_height = 21.0, 29.7

            def chromium_kept() -> None:
                browser.get(page.as_uri())
                (out / "warm.pdf").write_bytes(base64.b64decode(browser.print_page(options)))

            results.append(
                ("Chromium kept running (Selenium print)", timed(chromium_kept, 5), None)
            )
        finally:
            browser.quit()
        try:
            import weasyprint
        except ImportError:
            results.append(("WeasyPrint (not installed)", None, None))
        else:
            document = page.read_text()

            def weasy() -> None:
                weasyprint.HTML(string=document, base_url=folder).write_pdf(out / "wp.pdf")

            results.append(
                (f"WeasyPrint {weasyprint.__version__}", timed(weasy, opts.repeat), None)
            )
        names = ("rl.pdf", "cold.pdf", "warm.pdf", "wp.pdf")
        files = dict(zip((r[0] for r in results), names, strict=True))
        kib = {
            label: (out / name).stat().st_size // 1024
            for label, name in files.items()
            if (out / name).exists()
        }
    reference = results[0][1]
    lines = ["| renderer | median s | / ReportLab | PDF KiB |", "|---|---|---|---|"]
    for label, seconds, _ in results:
        if seconds is None:
            lines.append(f"| {label} | – | – | – |")
        else:
            ratio = seconds / reference
            lines.append(f"| {label} | {seconds:.3f} | {ratio:.2f} | {kib.get(label, '–')} |")
    table = "\n".join(lines)
    print(table)
    if opts.write_doc:
        write_section(
            "Leaders' brief: renderers compared",
            f"Command: `python bench/brief_renderers.py --write-doc` "
            f"({now:%Y-%m-%d}, this machine: 2 cores shared with other work; {opts.repeat} timed "
            "runs each after one not counted, 5 for the kept browser). Only drawing is timed, "
            "from the same figures of a day of bench/seed_city.py's city (5,000 reports). "
            "ReportLab draws the whole brief (its pages, charts as vector graphics); the others "
            "print an HTML page of the same figures (the brief's CSV rows as tables and one SVG "
            "bar chart, the same DejaVu fonts): less layout than the brief, so if anything they "
            "are favoured. WeasyPrint is not a dependency: installed for the run only "
            "(`pip install weasyprint`).\n\n" + table + "\n\n" + CONCLUSION,
        )


if __name__ == "__main__":
    main()

"""`python -m wall indicators …`: the city's indicator catalogue and the units' figures."""

from __future__ import annotations

import argparse

from layouts.common import fmt_number
from wall.i18n import Translator
from wall.settings import Settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    command = sub.add_parser(
        "indicators", help="the indicator catalogue and the figures units submit"
    )
    actions = command.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "list", help="print the catalogue (in the wall's language: IOC_LANGUAGE=en for English)"
    )


def indicators(args: argparse.Namespace, settings: Settings) -> int:
    return {"list": catalogue}[args.action](args, settings)


def catalogue(args: argparse.Namespace, settings: Settings) -> int:
    """The catalogue as tab-separated lines under a header, in the wall's language."""
    t, lang, profile = Translator(settings.language), settings.language, settings.profile
    units = {u.code: (u.name_vi, u.name_en) for u in profile.handling_units}
    print(t("ind.catalogue", city=profile.name(lang), n=len(profile.indicators)))
    print(t("ind.columns"))
    for i in profile.indicators:
        target = f"{fmt_number(i.target, lang)} {i.unit}".strip()
        fields = (
            i.indicator_id,
            i.name(lang),
            t.label(profile.sector_labels, i.sector),
            i.unit,
            t(f"ind.{i.direction}", target=target),
            t(f"ind.{i.aggregation}"),
            t(f"ind.{i.period}"),
            t.label(units, i.responsible_unit),
            t("ind.due", n=i.due_day),
        )
        print("\t".join(fields))
    return 0

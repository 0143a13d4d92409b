"""The dashboard: the desk's figures over a window (1, 7 or 30 days) from
:func:`botkit.desk.report.support_figures`, the numbers ``botkit report`` prints, with bar charts of the
daily conversations and handoffs, the ratings and the handoff reasons."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botkit.console.accounts import Login
from botkit.console.charts import bar_chart
from botkit.console.texts import text
from botkit.console.web import language_of, page, render, state_of
from botkit.desk.records import utc_now
from botkit.desk.report import support_figures
from botkit.desk.report_series import daily_activity

WINDOWS = (1, 7, 30)
NONE = "\u2013"  # an en dash: no figure yet


def percent(value: float | None) -> str:
    """``0.25`` -> ``"25.0%"``; None -> ``NONE``."""
    return NONE if value is None else f"{value * 100:.1f}%"


def duration(seconds: float | None) -> str:
    """Seconds as agents read a wait: ``"42 s"``, ``"3.5 min"``, ``"2.0 h"``; None -> ``NONE``."""
    if seconds is None:
        return NONE
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@page()
async def dashboard(request: Request, login: Login) -> Response:
    """The support figures and their charts."""
    engine = state_of(request).engine
    days = (
        int(request.query_params.get("days", "7")) if request.query_params.get("days", "7").isdigit() else 7
    )
    days = days if days in WINDOWS else 7
    until = utc_now()
    since = until - timedelta(days=days)
    figures = await asyncio.to_thread(support_figures, engine, since, until)
    daily = await asyncio.to_thread(daily_activity, engine, since, until)
    lang = language_of(request)
    charts = [
        bar_chart(
            text("daily", lang),
            [d.day.strftime("%m-%d") for d in daily],
            [
                (text("conversations", lang), [d.conversations for d in daily]),
                (text("handoffs", lang), [d.handoffs for d in daily]),
            ],
            chart_id="chart-daily",
        ),
        bar_chart(
            text("csat_chart", lang),
            [str(r) for r in figures.csat_distribution],
            [(text("ratings", lang), list(figures.csat_distribution.values()))],
            chart_id="chart-csat",
        ),
        bar_chart(
            text("reasons_chart", lang),
            list(figures.handoff_reasons) or [NONE],
            [(text("handoffs", lang), list(figures.handoff_reasons.values()) or [0])],
            chart_id="chart-reasons",
        ),
    ]
    return render(
        request,
        "dashboard.html",
        login,
        figures=figures,
        days=days,
        windows=WINDOWS,
        charts=charts,
        percent=percent,
        duration=duration,
    )


ROUTES = [Route("/dashboard", dashboard, methods=["GET"])]

"""The console's Starlette app: its pages (each module's ``ROUTES``), its two static files, and the
security headers. The assets ship in the package (``static/``): no CDN and no build step."""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botkit.console import pages_admin, pages_auth, pages_dashboard, pages_desk, pages_kb
from botkit.console.web import ConsoleState, SecurityHeaders

STATIC = resources.files("botkit.console") / "static"
MEDIA_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


def build_app(state: ConsoleState) -> Starlette:
    """The app serving ``state``'s console."""
    assets = {name: (STATIC / name).read_text(encoding="utf-8") for name in MEDIA_TYPES}

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(assets[name], media_type=MEDIA_TYPES[name], headers={"Cache-Control": "max-age=300"})

    routes = [
        *pages_auth.ROUTES,
        *pages_desk.ROUTES,
        *pages_dashboard.ROUTES,
        *pages_kb.ROUTES,
        *pages_admin.ROUTES,
        Route("/static/{name}", static, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
    app.state.console = state
    return app

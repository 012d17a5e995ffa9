"""``python -m app.cli.launch run app/main.py …``: Streamlit's own command line, hardened first.

Streamlit has no setting to turn off ``/_stcore/metrics`` (cache sizes, session counts: nothing a
student's browser needs), so the route factory is replaced by one that serves 404 before the server
is built. ``cnn-lens run`` starts the app through this module; ``cnn-lens serve`` calls
``hide_metrics()`` itself before starting Streamlit in-process.
"""

from __future__ import annotations

import logging
import sys

LOG = logging.getLogger(__name__)


def hide_metrics() -> bool:
    """Make ``/_stcore/metrics`` answer 404 in servers created after this call; False if this
    Streamlit version has no such route factory (then block the path in the reverse proxy)."""
    try:
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        from streamlit.web.server.starlette import starlette_app
    except ImportError:
        return False
    if not hasattr(starlette_app, "create_metrics_routes"):
        LOG.warning("this Streamlit version has no metrics route factory; block /_stcore/metrics in "
                    "the proxy")
        return False

    def no_metrics(_runtime: object, base_url: str | None) -> list[Route]:
        prefix = "/" + (base_url or "").strip("/") if (base_url or "").strip("/") else ""

        async def not_found(_request: object) -> PlainTextResponse:
            return PlainTextResponse("Not found", status_code=404)

        return [Route(f"{prefix}/_stcore/metrics", not_found, methods=["GET", "HEAD", "OPTIONS"])]

    starlette_app.create_metrics_routes = no_metrics
    return True


def main() -> None:
    """Hide the metrics route, then hand over to ``streamlit`` with this process's arguments."""
    hide_metrics()
    from streamlit.web import cli

    sys.argv[0] = "streamlit"
    sys.exit(cli.main())


if __name__ == "__main__":
    main()

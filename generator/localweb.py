"""The guards of the local web applications, the studio and the station.

Each answers only requests whose Host header names the address it is bound
to (DNS rebinding); every POST must carry this run's token (a page on another
site cannot read it) and come from the application's own origin (``Origin``,
``Sec-Fetch-Site``); no page may be framed (``frame-ancestors 'none'``,
``X-Frame-Options: DENY``) and no script runs but the application's own files.
"""

from __future__ import annotations

import hmac

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def guard(views, *, name: str, token_header: str, keys, error, extra_headers: dict[str, str] | None = None) -> None:
    """Put the guards on every request of the app ``views`` (a Flask blueprint) is registered on.
    ``keys()`` gives (hosts, token) for the app at hand; ``error(message, status)`` answers a refusal."""
    from flask import request

    @views.before_app_request
    def _guard():
        hosts, token = keys()
        refused = refusal(request, name=name, hosts=hosts, token=token, token_header=token_header)
        return error(*refused) if refused else None

    @views.after_app_request
    def _protect(response):
        response.headers.update(SECURITY_HEADERS)
        response.headers.update(extra_headers or {})
        return response


def refusal(request, *, name: str, hosts: set[str] | None, token: str, token_header: str) -> tuple[str, int] | None:
    """Why ``request`` (Flask's) is refused, with its status; None when it may go on.
    ``hosts`` None: bound to every address, any Host (``site.serve.allowed_hosts``)."""
    if hosts is not None and request.host.lower() not in hosts:
        return f"this {name} answers at {' or '.join(sorted(hosts))}, not {request.host!r}", 403
    if request.method == "POST":
        if not hmac.compare_digest(request.headers.get(token_header, "").encode(), token.encode()):
            return f"missing or wrong {name} token: reload the {name}'s page", 403
        origin, site = request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site")
        origins = {f"http://{host}" for host in (hosts if hosts is not None else {request.host.lower()})}
        if (origin is not None and origin.lower() not in origins) or (site is not None and site not in ("same-origin", "none")):
            return f"this request came from another site's page: only the {name}'s own pages may change anything", 403
    return None


def server_url(server) -> str:
    """The address a werkzeug server listens at, as a browser writes it."""
    host = server.host
    return f"http://{f'[{host}]' if ':' in host else host}:{server.server_port}/"

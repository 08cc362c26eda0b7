"""The local review page (`letters review serve`): the held queue in a browser, a debtor a page.

A small Starlette app served by uvicorn on 127.0.0.1 only. Every request needs the random token
that `serve` reports at start (in the query string once, then an HttpOnly, SameSite=Strict
cookie); a POST also needs a same-origin `Origin`/`Sec-Fetch-Site` and the form's CSRF token,
derived from the session token. Decisions go through `letters.review.queue.decide` (via `page`),
like the command line's and `review.csv`'s. The letter that would go is rendered into an
owner-only temporary folder that is removed when the server stops. Nothing is logged: no access
log (the token is in a query string), no addresses, no names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from letters.errors import LettersError
from letters.intake.policy import Policy
from letters.render.preview import PreviewFiles
from letters.review.letter import would_go
from letters.review.queue import (
    NOT_MAILABLE_REASONS,
    DecisionRequest,
    ReviewError,
    ReviewItem,
    decide,
    list_queue,
    review_item,
)
from letters.state import opened_store

HOST = "127.0.0.1"
PAGE_FILES = Path(__file__).with_name("page_templates")
MAX_FORM_BYTES = 16_384
REVIEWER_COOKIE = "letters_reviewer"
SHORTCUTS = (
    ("1 … 9", "accept candidate N"),
    ("n / p", "next / previous debtor in the queue"),
    ("l", "leave the debtor in the queue (with the note, if any)"),
    ("a", "type a corrected address"),
    ("m", "choose a not-mailable reason"),
    ("r", "type the reviewer's name"),
    ("Esc", "leave a text field, so the keys work again"),
)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class PageSettings:
    """What the page works on: the state, the policy and templates the letters are rendered
    with, and the reviewer's name to start with (`--by`)."""

    db_path: Path
    policy: Policy
    templates_dir: Path
    reviewer: str = ""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def csrf_token(token: str) -> str:
    """A session's CSRF token: derived from its secret token, so only the page knows it."""
    return hmac.new(token.encode(), b"letters-review-csrf", hashlib.sha256).hexdigest()


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _rank(text: str) -> int:
    return int(text) if text.isdigit() else 1


class _Guard:
    """Lets through only requests with the session token (query string or cookie), only from the
    page's own origin for anything but GET, and adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, token: str, refuse: Callable[[str], str]) -> None:
        self.app, self.token, self.refuse = app, token, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        refused = self._check(Request(scope))
        await (refused or self.app)(scope, receive, send_with_headers)

    def _check(self, request: Request) -> Response | None:
        port = request.scope["server"][1]
        cookie = f"letters_review_{port}"  # cookies do not tell ports apart
        given = request.query_params.get("token")
        if given is not None:
            if not secrets.compare_digest(given, self.token):
                return _html(self.refuse("this link's token is not this server's"), 403)
            rest = urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            )
            response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), 303)
            response.set_cookie(cookie, self.token, httponly=True, samesite="strict", path="/")
            return response
        if not secrets.compare_digest(request.cookies.get(cookie, ""), self.token):
            return _html(self.refuse("open the link `letters review serve` printed"), 403)
        if request.method not in ("GET", "HEAD"):
            # A browser says where a post comes from in Sec-Fetch-Site; its Origin is "null"
            # under the page's no-referrer policy, so it counts only when it names a site.
            origin = request.headers.get("origin")
            site = request.headers.get("sec-fetch-site")
            own = {f"http://{HOST}:{port}", f"http://localhost:{port}", "null"}
            if (origin is not None and origin not in own) or site not in (None, "same-origin"):
                return _html(self.refuse("a cross-site post is refused"), 403)
        return None


class _Previews:
    """The letters that would go, rendered once per debtor, queue round and candidate into an
    owner-only temporary folder; failures kept as their one-line message."""

    def __init__(self, root: Path, settings: PageSettings) -> None:
        self.root, self.settings = root, settings
        self.lock = threading.Lock()
        self.rendered: dict[str, PreviewFiles | str] = {}

    def get(self, item: ReviewItem, rank: int) -> tuple[str, PreviewFiles | str]:
        """The preview's id (for its PNG's address) and its files, or why there is none."""
        entry = item.entry
        key = "\0".join((entry.customer_id, entry.batch_id, entry.opened_on, str(rank)))
        preview_id = hashlib.sha256(key.encode()).hexdigest()[:24]
        with self.lock:
            if preview_id not in self.rendered:
                self.rendered[preview_id] = self._render(item, rank, self.root / preview_id)
            return preview_id, self.rendered[preview_id]

    def _render(self, item: ReviewItem, rank: int, folder: Path) -> PreviewFiles | str:
        chosen = next((c for c in item.candidates if c.rank == rank), None)
        if chosen is None:
            return f"no candidate {rank}"
        settings = self.settings
        try:
            with opened_store(settings.db_path) as store:
                return would_go(store, item, chosen.address, settings.policy,
                                settings.templates_dir, folder)  # fmt: skip
        except LettersError as exc:
            return str(exc)

    def png(self, preview_id: str, page: int) -> Path | None:
        """The PNG of a page of a rendered preview, if there is one."""
        with self.lock:
            files = self.rendered.get(preview_id)
        if isinstance(files, PreviewFiles) and 1 <= page <= len(files.png_paths):
            return files.png_paths[page - 1]
        return None


def _factor_rows(item: ReviewItem) -> list[tuple[str, list[tuple[str, str]]]]:
    """The score factors as table rows: name, then (contribution, detail) per candidate."""
    names: list[str] = []
    for candidate in item.candidates:
        names += [name for name, _v, _d in candidate.factors if name not in names]
    rows = []
    for name in names:
        cells = []
        for candidate in item.candidates:
            found = next((f for f in candidate.factors if f[0] == name), None)
            cells.append((f"{found[1]:+.3f}", found[2]) if found else ("", ""))
        rows.append((name, cells))
    return rows


def _neighbours(queue: list[str], customer_id: str) -> tuple[str | None, str | None]:
    """The debtors before and after this one in the open queue (the first, when not in it)."""
    if customer_id not in queue:
        return None, next(iter(queue), None)
    at = queue.index(customer_id)
    return (queue[at - 1] if at > 0 else None), (queue[at + 1] if at + 1 < len(queue) else None)


def _next_after(before: list[str], after: list[str], customer_id: str) -> str | None:
    """Where to go after deciding: the next debtor still waiting, after this one in the order the
    reviewer saw, else the first one waiting; None when the queue is empty."""
    at = before.index(customer_id) if customer_id in before else -1
    later = [c for c in before[at + 1 :] if c in after]
    return next(iter(later or [c for c in after if c != customer_id]), None)


def _request(customer_id: str, form: dict[str, str]) -> DecisionRequest:
    """The decision a submitted form asks for (its button: `accept:N`, `address`, ...)."""
    kind, _, rank = form.get("decision", "").partition(":")
    candidate = None
    if kind == "accept":
        if not rank.isdigit():
            raise ReviewError(f"candidate {rank!r}: not a candidate number", "candidate")
        candidate = int(rank)
    return DecisionRequest(
        customer_id, kind, form.get("reviewer", ""), candidate, form.get("address", ""),
        form.get("reason", "") if kind == "not_mailable" else "", form.get("note", ""), via="page",
    )  # fmt: skip


async def _form(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields (the last value of each), at most MAX_FORM_BYTES."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ReviewError("the form is too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


class _Page:
    """The page's endpoints; each opens the state for itself (SQLite connections are per thread)."""

    def __init__(self, settings: PageSettings, token: str, previews: _Previews) -> None:
        self.settings, self.previews = settings, previews
        self.csrf = csrf_token(token)
        loader = jinja2.FileSystemLoader(PAGE_FILES)
        self.jinja = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        self.static = {name: (PAGE_FILES / name).read_bytes() for name in ("page.js", "page.css")}

    def render(self, template: str, **context: Any) -> str:
        """A page of the review, with what every page shows."""
        return self.jinja.get_template(template).render(
            {"done": "", **context}, shortcuts=SHORTCUTS
        )

    def refusal(self, why: str) -> str:
        """The 403 page."""
        return self.render("error.html", title="Not allowed", message=f"403: {why}")

    def _reviewer(self, request: Request) -> str:
        return unquote(request.cookies.get(REVIEWER_COOKIE, "")) or self.settings.reviewer

    async def queue(self, request: Request) -> Response:
        """The held debtors, oldest first."""
        items = await run_in_threadpool(self._queue_items)
        done = request.query_params.get("done", "")
        return _html(self.render("queue.html", items=items, done=done))

    def _queue_items(self) -> list[ReviewItem]:
        with opened_store(self.settings.db_path) as store:
            return list_queue(store, include_decided=True)

    async def debtor(self, request: Request) -> Response:
        """One held debtor: candidates and factors side by side, the letter, the decisions."""
        customer_id = request.path_params["customer_id"]
        rank = _rank(request.query_params.get("candidate", "1"))
        done = request.query_params.get("done", "")
        body, status = await run_in_threadpool(
            self._debtor_page, customer_id, rank, self._reviewer(request), done, "", {}
        )
        return _html(body, status)

    def _debtor_page(self, customer_id: str, rank: int, reviewer: str, done: str, error: str,
                     form: dict[str, str]) -> tuple[str, int]:  # fmt: skip
        try:
            with opened_store(self.settings.db_path) as store:
                item = review_item(store, customer_id)
                queue = [i.customer_id for i in list_queue(store)]
        except LettersError as exc:
            return self.render("error.html", title="Not found", message=str(exc)), 404
        preview_id, preview = self.previews.get(item, rank) if item.candidates else ("", "")
        previous, following = _neighbours(queue, customer_id)
        page = self.render(
            "debtor.html", item=item, factor_rows=_factor_rows(item), rank=rank,
            preview_id=preview_id, preview=preview, previous=previous, following=following,
            position=queue.index(customer_id) + 1 if customer_id in queue else 0,
            waiting=len(queue), reasons=NOT_MAILABLE_REASONS, csrf=self.csrf, done=done,
            error=error, form=form, reviewer=form.get("reviewer", reviewer),
        )  # fmt: skip
        return page, 400 if error else 200

    async def decide(self, request: Request) -> Response:
        """Record the decision of the form, then go to the next debtor waiting."""
        try:
            form = await _form(request)
        except ReviewError as exc:
            return _html(self.render("error.html", title="Refused", message=str(exc)), 400)
        if not secrets.compare_digest(form.get("csrf", ""), self.csrf):
            return _html(self.refusal("the form's CSRF token is missing or wrong"), 403)
        customer_id = form.get("customer_id", "")
        reviewer = form.get("reviewer", "")
        outcome = await run_in_threadpool(self._apply, customer_id, form)
        if isinstance(outcome, str):  # a ReviewError: the same page, the one-line reason on top
            rank = _rank(form.get("decision", "").partition(":")[2])
            body, _status = await run_in_threadpool(
                self._debtor_page, customer_id, rank, reviewer, "", outcome, form
            )
            response: Response = _html(body, 400)
        else:
            done = urlencode({"done": outcome[1]})
            where = f"/debtor/{quote(outcome[0], safe='')}?{done}" if outcome[0] else f"/?{done}"
            response = RedirectResponse(where, 303)
        if reviewer.strip():
            response.set_cookie(REVIEWER_COOKIE, quote(reviewer.strip(), safe=""),
                                max_age=90 * 86400, httponly=True, samesite="strict")  # fmt: skip
        return response

    def _apply(self, customer_id: str, form: dict[str, str]) -> tuple[str, str] | str:
        """Decide; the next debtor and what was done, or the ReviewError's one line."""
        try:
            with opened_store(self.settings.db_path) as store:
                before = [i.customer_id for i in list_queue(store)]
                applied = decide(store, _request(customer_id, form), self.settings.now())
                after = [i.customer_id for i in list_queue(store)]
        except LettersError as exc:
            return str(exc)
        state = "recorded" if applied.changed else "already recorded, unchanged"
        decision = applied.decision
        what = decision.kind + (f" {decision.candidate}" if decision.candidate else "")
        return _next_after(before, after, customer_id) or "", f"{customer_id}: {what} {state}"

    async def png(self, request: Request) -> Response:
        """A page of the letter that would go, as rendered for the debtor's page."""
        path = self.previews.png(request.path_params["preview_id"], request.path_params["page"])
        if path is None:
            return Response("no such page", 404, media_type="text/plain")
        return Response(await run_in_threadpool(path.read_bytes), media_type="image/png")

    async def asset(self, request: Request) -> Response:
        """The page's script and style sheet (served, since the CSP allows no inline ones)."""
        name = request.url.path.lstrip("/")
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(self.static[name], media_type=f"{kind}; charset=utf-8")


def create_app(settings: PageSettings, token: str, preview_dir: Path) -> ASGIApp:
    """The review page as an ASGI app: only requests with `token` get through."""
    page = _Page(settings, token, _Previews(preview_dir, settings))
    routes = [
        Route("/", page.queue),
        Route("/debtor/{customer_id:path}", page.debtor),
        Route("/decide", page.decide, methods=["POST"]),
        Route("/letter/{preview_id}/{page:int}.png", page.png),
        Route("/page.js", page.asset),
        Route("/page.css", page.asset),
    ]
    hosts = Middleware(TrustedHostMiddleware, allowed_hosts=[HOST, "localhost"])
    app = Starlette(routes=routes, middleware=[hosts])
    return _Guard(app, token, page.refusal)

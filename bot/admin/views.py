"""The console's pages: each handler reads query parameters, asks the stores, renders one template.

Authorization is not here: :class:`bot.admin.auth.AdminGuard` has checked the credentials (and the
CSRF token of every POST) before any of these runs. Handlers change state only through the stores'
own services (HandoffDesk, PrivacyDesk, ingest) and answer a POST with a redirect, so a reload does
not repeat it. Personal data stays out of URLs: customers are addressed by external or internal id,
conversations by their first turn's id, and a search by name or email is a POST.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.admin.auth import (
    LOGIN_PATH,
    LoginLimiter,
    Principal,
    SessionSigner,
    client_address,
    is_https,
    session_cookie,
    token_matches,
)
from bot.admin.queries import ALL, REOPEN_WINDOW, UNANSWERED_ACTIONS, AdminQueries, Period
from bot.customers.journey import timeline
from bot.errors import ReviewError
from bot.learning.gaps import KnowledgeGaps
from bot.store.records import CustomerRecord
from bot.store.tables import Customer

if TYPE_CHECKING:
    from bot.learning.review import TeamAnswers
    from bot.runtime import Runtime

__all__ = ["AGENT", "ConsoleViews"]

AGENT = "admin:console"  # who claimed or resolved a handoff from the console, as agents see it
PAGE_SIZE = 50
GAP_GROUPS = 20  # knowledge gaps shown on the review page, biggest first
MAX_ANSWER = 5000  # characters of an approved answer: a knowledge section, not a page
# A post-login destination must be a path inside the console: no scheme, no host, no "//".
_SAFE_NEXT = re.compile(r"^/[A-Za-z0-9/_\-.~]*$")
SECURITY_HEADERS = {
    # Scripts only from the console's own static files (Chart.js and admin.js): no inline script runs.
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def _templates() -> Environment:
    env = Environment(loader=PackageLoader("bot.admin", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.0f}%"
    env.filters["score"] = lambda v: "—" if v is None else f"{v:+.2f}"
    env.filters["avg"] = lambda v: "—" if v is None else f"{v:.2f}"
    env.filters["when"] = lambda v: "" if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return env


def customer_ref(customer: Customer | CustomerRecord | None, customer_id: int | None = None) -> str:
    """The URL reference of a customer: the external id when there is one, else the internal id."""
    if customer is not None and customer.external_id:
        return customer.external_id
    return str(customer.id if customer is not None else customer_id)


# Ids and page numbers from a URL stay within a database integer: a larger one is no row, not a 500.
_MAX_ID = 2**40


def _int(value: str | None, default: int, low: int = 0) -> int:
    try:
        return min(max(low, int(value)), _MAX_ID) if value else default
    except ValueError:
        return default


class ConsoleViews:
    def __init__(self, runtime: Runtime, token: str, signer: SessionSigner, limiter: LoginLimiter) -> None:
        self._runtime = runtime
        self._token = token
        self._signer = signer
        self._limiter = limiter
        self.queries = AdminQueries(runtime.database)
        self._env = _templates()

    # -- rendering ---------------------------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        principal: Principal = request.scope.get("admin", Principal("", ""))
        base = request.scope.get("root_path", "")
        html = self._env.get_template(template).render(
            base=base, csrf=principal.csrf, signed_in=principal.signed_in, via=principal.via,
            brand=self._runtime.config.brand.name, path=request.url.path, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def _redirect(self, request: Request, inner: str, **params: str) -> RedirectResponse:
        target = request.scope.get("root_path", "") + inner + (f"?{urlencode(params)}" if params else "")
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    def _missing(self, request: Request, what: str) -> HTMLResponse:
        return self.render(request, "missing.html", status=404, what=what)

    # -- sign-in -----------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        principal: Principal = request.scope["admin"]
        destination = request.query_params.get("next", "/")
        if principal.signed_in:
            return self._redirect(request, destination if _SAFE_NEXT.match(destination) else "/")
        return self._login_page(request, principal, destination, "", 200)

    def _login_page(self, request: Request, principal: Principal, destination: str, error: str, status: int,
                    headers: dict[str, str] | None = None) -> Response:
        cookie = ""
        if not principal.csrf:  # first visit: an anonymous session carries the login form's CSRF token
            cookie = self._signer.dump(signed_in=False)
            principal = Principal("", self._signer.load(cookie)["csrf"])  # type: ignore[index]
            request.scope["admin"] = principal
        response = self.render(request, "login.html", status=status, error=error,
                               next=destination if _SAFE_NEXT.match(destination) else "/")
        if cookie:
            response.headers.append("set-cookie", session_cookie(cookie, secure=is_https(request.scope, dict(request.headers)),
                                                                 path=request.scope.get("root_path") or "/"))
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    async def login(self, request: Request) -> Response:
        principal: Principal = request.scope["admin"]
        form = await request.form()
        destination = str(form.get("next") or "/")
        address = client_address(request.scope)
        wait = self._limiter.retry_after(address)
        if wait:
            return self._login_page(request, principal, destination, "Too many failed sign-ins from this address; "
                                    f"try again in {wait} s.", 429, {"retry-after": str(wait)})
        if not token_matches(str(form.get("token") or ""), self._token):
            self._limiter.failed(address)
            return self._login_page(request, principal, destination, "That is not the admin token.", 401)
        self._limiter.succeeded(address)
        # A fresh session (and CSRF token) on sign-in: a cookie planted before cannot ride along.
        response = self._redirect(request, destination if _SAFE_NEXT.match(destination) else "/")
        response.headers.append("set-cookie", session_cookie(
            self._signer.dump(signed_in=True), secure=is_https(request.scope, dict(request.headers)),
            max_age=self._signer.max_age, path=request.scope.get("root_path") or "/"))
        return response

    async def logout(self, request: Request) -> Response:
        response = self._redirect(request, LOGIN_PATH)
        response.headers.append("set-cookie", session_cookie("", secure=is_https(request.scope, dict(request.headers)),
                                                             max_age=0, path=request.scope.get("root_path") or "/"))
        return response

    # -- overview ----------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        try:
            period = Period.parse(request.query_params.get("from"), request.query_params.get("to"))
        except ValueError as error:
            period, problem = Period.parse(None, None), f"Ignored the period ({error}); showing the last 30 days."
        else:
            problem = ""
        overview = await self.queries.overview(period)
        chart = {"labels": list(overview.sentiment_days),
                 "series": {p: list(v) for p, v in overview.sentiment_series.items()}}
        return self.render(request, "overview.html", overview=overview, problem=problem, chart=chart, all=ALL,
                           window_hours=int(REOPEN_WINDOW.total_seconds() // 3600), unanswered_actions=UNANSWERED_ACTIONS)

    # -- conversations -----------------------------------------------------------------------

    async def conversations(self, request: Request) -> Response:
        params = request.query_params
        customer = None
        ref = params.get("customer", "").strip()
        if ref:
            customer = await self.queries.customer_by_ref(ref)
        page = _int(params.get("page"), 1, 1)
        thresholds = self._runtime.config.thresholds
        rows = [] if ref and customer is None else await self.queries.conversations(
            platform=params.get("platform", ""), customer_id=customer.id if customer else None,
            sentiment=params.get("sentiment", ""), handoff=params.get("handoff", ""),
            negative_below=thresholds.negative_sentiment, positive_above=thresholds.positive_sentiment,
            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        filters = {k: params.get(k, "") for k in ("platform", "customer", "sentiment", "handoff")}
        return self.render(request, "conversations.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, page=page,
                           filters=filters, platforms=await self.queries.platforms(), unknown_customer=bool(ref and not customer),
                           query=urlencode({k: v for k, v in filters.items() if v}))

    async def conversation(self, request: Request) -> Response:
        ref = int(request.path_params["ref"])
        transcript = await self.queries.transcript(ref) if ref < _MAX_ID else None
        if transcript is None:
            return self._missing(request, "conversation")
        customer = await self._runtime.customers.get(transcript.customer_id)
        return self.render(request, "conversation.html", t=transcript, customer=customer,
                           customer_ref=customer_ref(customer, transcript.customer_id))

    # -- customers ---------------------------------------------------------------------------

    async def customers(self, request: Request) -> Response:
        params = request.query_params
        page = _int(params.get("page"), 1, 1)
        rows = await self.queries.customers(stage=params.get("stage", ""), platform=params.get("platform", ""),
                                            limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        return self.render(request, "customers.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, page=page,
                           filters={"stage": params.get("stage", ""), "platform": params.get("platform", "")},
                           platforms=await self.queries.platforms(), searched="", ref=customer_ref,
                           stages=("new", "first_purchase", "active", "at_risk", "lapsed"),
                           notice="Customer forgotten everywhere." if params.get("forgotten") else "")

    async def find_customers(self, request: Request) -> Response:
        """A POST, so a name or an email never lands in a URL, a browser history or a proxy log."""
        text = str((await request.form()).get("q") or "").strip()
        rows = await self.queries.find_customers(text) if text else []
        return self.render(request, "customers.html", rows=rows, more=False, page=1, filters={"stage": "", "platform": ""},
                           platforms=await self.queries.platforms(), searched=text, ref=customer_ref,
                           stages=("new", "first_purchase", "active", "at_risk", "lapsed"), notice="")

    async def _customer(self, request: Request) -> CustomerRecord | None:
        return await self.queries.customer_by_ref(request.path_params["ref"])

    async def customer(self, request: Request) -> Response:
        customer = await self._customer(request)
        if customer is None or customer.id is None:
            return self._missing(request, "customer")
        runtime = self._runtime
        insights = await runtime.insights.build(customer)
        journey = await timeline(runtime.database, customer.id)
        points = await self.queries.sentiment_history(customer.id)
        recommendations = await runtime.advisor.suggest(customer.id, insights.owned_skus)
        memories = await runtime.memory.export(customer.id)
        identities = [p for p in journey if p.kind == "identity"]
        chart = {"labels": [p.at.strftime("%Y-%m-%d %H:%M") for p in points],
                 "series": {"sentiment": [round(p.score, 3) for p in points]},
                 "platforms": [p.platform for p in points]}
        return self.render(request, "customer.html", c=customer, ref=customer_ref(customer), insights=insights,
                           journey=journey, points=points, chart=chart, recommendations=recommendations,
                           memories=memories, identities=identities,
                           conversations=await self.queries.conversation_refs(customer.id),
                           notice="Memory deleted." if request.query_params.get("deleted") else "")

    async def export(self, request: Request) -> Response:
        customer = await self._customer(request)
        if customer is None or customer.id is None:
            return self._missing(request, "customer")
        data = await self._runtime.privacy.export(customer.id)
        body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        # The file is named by internal id: the download bar should not show an email or a name.
        headers = {**SECURITY_HEADERS, "content-disposition": f'attachment; filename="customer-{customer.id}.json"'}
        return Response(body, media_type="application/json", headers=headers)

    async def forget_form(self, request: Request) -> Response:
        customer = await self._customer(request)
        if customer is None:
            return self._missing(request, "customer")
        return self.render(request, "forget.html", c=customer, ref=customer_ref(customer), error="")

    async def forget(self, request: Request) -> Response:
        customer = await self._customer(request)
        if customer is None or customer.id is None:
            return self._missing(request, "customer")
        ref = customer_ref(customer)
        if str((await request.form()).get("confirm") or "").strip() != ref:
            return self.render(request, "forget.html", status=400, c=customer, ref=ref,
                               error=f"Type {ref} to confirm; nothing was deleted.")
        await self._runtime.privacy.forget(customer.id)
        return self._redirect(request, "/customers", forgotten="1")

    async def delete_memory(self, request: Request) -> Response:
        customer = await self._customer(request)
        if customer is None or customer.id is None:
            return self._missing(request, "customer")
        memory_id = request.path_params["memory"]
        # Only an id this customer's export lists may be deleted: a URL cannot reach another customer's.
        if memory_id not in {str(m["id"]) for m in await self._runtime.memory.export(customer.id)}:
            return self._missing(request, "memory")
        await self._runtime.memory.shard(customer.id).delete(ids=[memory_id])
        return self._redirect(request, f"/customers/{customer_ref(customer)}", deleted="1")

    # -- handoffs ----------------------------------------------------------------------------

    async def handoffs(self, request: Request) -> Response:
        notes = {"claimed": "claimed", "resolved": "resolved; the bot asked the customer for a rating"}
        done = request.query_params.get("done", "")
        notice = f"Handoff #{_int(request.query_params.get('id'), 0)} {notes[done]}." if done in notes else ""
        return self.render(request, "handoffs.html", open=await self.queries.handoffs(open_only=True),
                           recent=await self.queries.handoffs(open_only=False), notice=notice, error="", agent=AGENT)

    async def claim(self, request: Request) -> Response:
        return await self._handoff_action(request, "claim")

    async def resolve(self, request: Request) -> Response:
        """Hands the conversation back to the bot, which asks the customer for a 1–5 rating."""
        return await self._handoff_action(request, "resolve")

    async def _handoff_action(self, request: Request, action: str) -> Response:
        handoff_id = min(int(request.path_params["id"]), _MAX_ID)
        desk = self._runtime.desk
        result = await (desk.agent_claim if action == "claim" else desk.agent_resolve)(handoff_id, AGENT)
        if not result.ok:
            return self.render(request, "handoffs.html", status=409, open=await self.queries.handoffs(open_only=True),
                               recent=await self.queries.handoffs(open_only=False), notice="", error=result.reason,
                               agent=AGENT)
        return self._redirect(request, "/handoffs", done="claimed" if action == "claim" else "resolved", id=str(handoff_id))

    # -- review and knowledge ----------------------------------------------------------------

    async def review(self, request: Request, *, status: int = 200, error: str = "") -> Response:
        period = Period.parse(None, None)
        done = request.query_params.get("done", "")
        notes = {"approved": "approved: it answers customers now, as “Answered by our team”", "rejected": "rejected"}
        notice = f"Review item #{_int(request.query_params.get('id'), 0)} {notes[done]}." if done in notes else ""
        # Grouped by meaning here, on the admin's request: embedding runs off the event loop, never on a turn.
        gaps = await KnowledgeGaps(self._runtime.team_answers.queue, self._runtime.embedder).clusters(
            GAP_GROUPS, since=period.start)
        return self.render(request, "review.html", status=status, disliked=await self.queries.disliked(),
                           candidates=await self.queries.review_items(pending=True),
                           decided=await self.queries.review_items(pending=False), gaps=gaps, period=period,
                           notice=notice, error=error, max_answer=MAX_ANSWER)

    async def approve_item(self, request: Request) -> Response:
        """Approve a candidate as the form holds it: the admin may have edited the question or the answer."""
        form = await request.form()
        question, answer = str(form.get("question") or ""), str(form.get("answer") or "")
        if len(answer) > MAX_ANSWER:
            return await self.review(request, status=400, error=f"The answer is longer than {MAX_ANSWER} characters; "
                                                                 "nothing was approved.")
        return await self._review_action(request, lambda answers, item_id: answers.approve(item_id, question, answer),
                                         "approved")

    async def reject_item(self, request: Request) -> Response:
        return await self._review_action(request, lambda answers, item_id: answers.reject(item_id), "rejected")

    async def _review_action(self, request: Request, act: Callable[[TeamAnswers, int], Awaitable[object]],
                             done: str) -> Response:
        item_id = min(int(request.path_params["id"]), _MAX_ID)
        answers = self._runtime.team_answers
        if await answers.queue.get(item_id) is None:
            return self._missing(request, "review item")
        try:
            await act(answers, item_id)
        except ReviewError as error:  # decided already, or emptied in the form: say so, change nothing
            return await self.review(request, status=409, error=error.message)
        return self._redirect(request, "/review", done=done, id=str(item_id))

    async def knowledge(self, request: Request) -> Response:
        sections = await self._runtime.knowledge.pages.metadatas()
        pages: dict[str, dict[str, Any]] = {}
        for meta in sections.values():
            source = str(meta.get("source", ""))
            page = pages.setdefault(source, {"title": str(meta.get("title", "")), "internal": bool(meta.get("internal")),
                                             "sections": {}})
            page["sections"][int(meta.get("chunk", 0))] = str(meta.get("section", ""))
        use, votes = await self.queries.page_use(), await self.queries.section_votes()
        rows = [{"source": s, **p, "use": use.get(s),
                 "sections": [{"title": p["sections"][k], "votes": votes.get((s, k), (0, 0))} for k in sorted(p["sections"])]}
                for s, p in sorted(pages.items())]
        others = [u for s, u in sorted(use.items()) if s not in pages]  # orders, the catalog, removed pages
        notice = ""
        if request.query_params.get("ingested"):
            notice = "Ingest finished: " + ", ".join(f"{k} {v}" for k, v in request.query_params.items() if k != "ingested")
        return self.render(request, "knowledge.html", pages=rows, others=others, notice=notice)

    async def ingest(self, request: Request) -> Response:
        report = await self._runtime.ingest()
        summary = {k: str(len(getattr(report, k))) for k in ("added", "updated", "unchanged", "removed", "problems")}
        return self._redirect(request, "/knowledge", ingested="1", **summary)


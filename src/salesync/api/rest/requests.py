"""Support requests and the knowledge base.

A merchant opens a request (``request_support``: the owner and bookkeeper, or Tier 1 for
a merchant who called); triage answers an out-of-scope request at once with the policy
text and the article, and gives an in-scope one to Tier 1 as a ticket. Requests are read
with ``view_tickets``. The knowledge base is public: ``GET /api/v1/help?q=`` searches it
and ``GET /api/v1/help/{slug}`` gives one article.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from salesync.accounts.roles import Action
from salesync.api.answers import answer
from salesync.api.auth import Refused
from salesync.api.paging import (
    BAD_BODY,
    BAD_PARAMETER,
    MAX_ID,
    PAGING,
    json_body,
    list_page,
    query_parameter,
    text,
)
from salesync.api.rest.common import TENANT, Parts, refusals, route
from salesync.support.knowledge import Article
from salesync.support.requests import RequestError, SupportRequest
from salesync.support.service import SupportService

_UNKNOWN = {404: "There is no such tenant (`unknown_tenant`), or no such request."}
HELP = "/api/v1/help"


class RequestOut(BaseModel):
    id: int
    channel: str = Field(description="`dashboard`, `api` or `email`.")
    sender: str
    subject: str
    body: str
    received_at: datetime
    category: str | None = Field(description="The scope-of-work category triage chose.")
    category_title: str | None
    in_scope: bool
    state: str = Field(description="`answered` (out of scope), `open` (Tier 1 has it), `closed`.")
    answer: str | None = Field(description="The policy text sent back, when out of scope.")
    article: str | None
    article_url: str | None
    ticket_id: int | None


class RequestPage(BaseModel):
    requests: list[RequestOut]
    next_cursor: str | None


class NewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=300, pattern=r"\S")
    body: str = Field(default="", max_length=20000)


class ArticleOut(BaseModel):
    slug: str
    title: str
    summary: str
    path: str = Field(description="The article's page on the dashboard.")
    html: str
    kinds: list[str]
    codes: list[str]


class HitOut(BaseModel):
    slug: str
    title: str
    snippet: str
    path: str
    score: float


class SearchOut(BaseModel):
    query: str
    hits: list[HitOut]


class Requests:
    """``GET|POST .../requests``, ``GET .../requests/{id}``, ``GET /api/v1/help`` and
    ``GET /api/v1/help/{slug}``."""

    def __init__(self, parts: Parts, support: SupportService) -> None:
        self.parts = parts
        self.support = support

    def register(self, app: FastAPI) -> None:
        route(
            app,
            "GET",
            TENANT + "/requests",
            self.requests,
            summary="The tenant's support requests, newest first",
            tag="support",
            model=RequestPage,
            refused=refusals(BAD_PARAMETER),
            parameters=PAGING,
        )
        route(
            app,
            "POST",
            TENANT + "/requests",
            self.open,
            summary="Ask for help: triaged against the scope of work at once",
            tag="support",
            model=RequestOut,
            refused=refusals(BAD_BODY),
            body=NewRequest,
            status_code=201,
        )
        route(
            app,
            "GET",
            TENANT + "/requests/{request_id}",
            self.request,
            summary="One support request and its answer",
            tag="support",
            model=RequestOut,
            refused=refusals(_UNKNOWN),
        )
        route(
            app,
            "GET",
            HELP,
            self.search,
            summary="Search the knowledge base (every article without q)",
            tag="help",
            model=SearchOut,
            refused=BAD_PARAMETER,
            parameters=[
                query_parameter(
                    "q", "Words every article found contains.", {"type": "string", "maxLength": 200}
                )
            ],
        )
        route(
            app,
            "GET",
            HELP + "/{slug}",
            self.article,
            summary="One knowledge-base article",
            tag="help",
            model=ArticleOut,
            refused={404: "There is no such article (`unknown_article`)."},
        )

    def requests(self, tenant_id: str, request: Request) -> RequestPage:
        self.parts.admit(tenant_id, request, Action.VIEW_TICKETS)
        page, cursor = list_page(self.support.requests(tenant_id, limit=None), request)
        return RequestPage(requests=[_request(r) for r in page], next_cursor=cursor)

    async def open(self, tenant_id: str, request: Request) -> RequestOut:
        caller = await self.parts.admit_async(tenant_id, request, Action.REQUEST_SUPPORT)
        body = await json_body(request, NewRequest)

        def open_() -> RequestOut:
            try:
                opened = self.support.open_request(
                    tenant_id,
                    channel="api",
                    sender=caller.principal.email,
                    subject=body.subject,
                    body=body.body,
                )
            except RequestError as error:
                raise Refused(answer(422, "invalid_body", f"{error}")) from None
            return _request(opened)

        return await run_in_threadpool(open_)

    def request(self, tenant_id: str, request_id: str, request: Request) -> RequestOut:
        self.parts.admit(tenant_id, request, Action.VIEW_TICKETS)
        found = None
        if request_id.isdigit() and 0 < int(request_id) <= MAX_ID:
            found = self.support.request(tenant_id, int(request_id))
        if found is None:
            raise Refused(
                answer(404, "unknown_request", f"{tenant_id} has no request {request_id!r}.")
            )
        return _request(found)

    def search(self, request: Request) -> SearchOut:
        query = request.query_params.get("q", "")
        if query:
            text("q", query)
        if len(query) > 200:
            raise Refused(answer(400, "bad_parameter", "q is at most 200 characters."))
        if not query.strip():
            articles = self.support.knowledge.all()
            hits = [
                HitOut(slug=a.slug, title=a.title, snippet=a.summary, path=a.path, score=0)
                for a in articles
            ]
        else:
            hits = [
                HitOut(
                    slug=h.article.slug,
                    title=h.article.title,
                    snippet=h.snippet,
                    path=h.article.path,
                    score=h.score,
                )
                for h in self.support.search(query, limit=20)
            ]
        return SearchOut(query=query, hits=hits)

    def article(self, slug: str) -> ArticleOut:
        found = self.support.knowledge.get(slug)
        if found is None:
            raise Refused(answer(404, "unknown_article", f"There is no article {slug!r}."))
        return _article(found)


def _article(article: Article) -> ArticleOut:
    return ArticleOut(
        slug=article.slug,
        title=article.title,
        summary=article.summary,
        path=article.path,
        html=article.html,
        kinds=list(article.kinds),
        codes=list(article.codes),
    )


def _request(found: SupportRequest) -> RequestOut:
    return RequestOut(
        id=found.id,
        channel=found.channel,
        sender=found.sender,
        subject=found.subject,
        body=found.body,
        received_at=found.received_at,
        category=found.category,
        category_title=found.category_title,
        in_scope=found.in_scope,
        state=found.state,
        answer=found.answer,
        article=found.article,
        article_url=found.article_url,
        ticket_id=found.ticket_id,
    )

"""The knowledge base: markdown articles linked from error kinds and codes and from the scope
of work, searchable from the dashboard and the API.

An article is ``kb/<slug>.md``: TOML front matter between ``+++`` lines (``title``, and the
error ``kinds`` and ``codes`` it explains), then a markdown body. A code belongs to one
article only, so an error always finds the same answer.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from salesync.domain.errors import ErrorKind

FALLBACK = "errors-bug"
"""The article of an error no other article claims: an unexpected one."""
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_KEYS = frozenset({"title", "kinds", "codes"})
_WORD = re.compile(r"[a-z0-9]+")
_TITLE_WEIGHT = 10.0
"""A query word in the title outweighs any number of mentions in the body (capped at 5)."""
_BODY_CAP = 5
_PHRASE_WEIGHT = 3.0
_SNIPPET_BEFORE, _SNIPPET_AFTER = 60, 140
"""Characters of a snippet before and after the matched word."""

# Raw HTML in an article is shown as text, never passed through: the pages that show
# articles must not run whatever markup a file happens to hold.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def article_path(slug: str) -> str:
    """Where the dashboard shows the article ``slug``."""
    return f"/help/{slug}"


def _stem(word: str) -> str:
    """A word without its plural 's' (``accounts`` -> ``account``; ``status`` stays)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


def _inline_text(token: Token) -> str:
    """The words of an inline token: markup tokens carry no content, line breaks a space."""
    breaks = ("softbreak", "hardbreak")
    return "".join(" " if c.type in breaks else c.content for c in token.children or ())


@dataclass(frozen=True, slots=True)
class Article:
    """One knowledge-base article; ``body`` is markdown."""

    slug: str
    title: str
    body: str
    kinds: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first paragraph, as plain text."""
        tokens = _MARKDOWN.parse(self.body)
        for index, token in enumerate(tokens[:-1]):
            if token.type == "paragraph_open":
                return " ".join(_inline_text(tokens[index + 1]).split())
        return ""

    @property
    def html(self) -> str:
        """The body as HTML, raw HTML in it escaped."""
        return str(_MARKDOWN.render(self.body))

    @property
    def text(self) -> str:
        """The body as plain text, one line per block."""
        lines = (
            _inline_text(t) if t.type == "inline" else t.content.strip()
            for t in _MARKDOWN.parse(self.body)
            if t.type in ("inline", "fence", "code_block", "html_block")
        )
        return "\n".join(" ".join(line.split()) for line in lines if line.strip())

    @property
    def path(self) -> str:
        return article_path(self.slug)


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the article, how well it matched, and an excerpt around the match."""

    article: Article
    score: float
    snippet: str


class KnowledgeBaseError(ValueError):
    """Articles that cannot be read; the message names each file and what is wrong."""


def _problems(data: dict[str, Any]) -> list[str]:
    problems = [f"{key!r} is not a front matter key" for key in sorted(set(data) - _KEYS)]
    title = data.get("title")
    if title is None:
        problems.append("title is missing")
    elif not isinstance(title, str) or not title.strip():
        problems.append("title must be non-empty text")
    for key in ("kinds", "codes"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{key} must be a list of non-empty strings")
        elif key == "kinds":
            known = [k.value for k in ErrorKind]
            problems.extend(
                f"kinds: {kind!r} is not an error kind ({', '.join(known)})"
                for kind in value
                if kind not in known
            )
    return problems


def parse_article(text: str, *, slug: str) -> Article:
    """The article in ``text``; KnowledgeBaseError lists every problem with it."""
    problems = [] if _SLUG.match(slug) else [f"{slug!r} is not a slug (a-z, 0-9, - and _)"]
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "+++":
        raise KnowledgeBaseError("\n".join([*problems, "does not start with a +++ line"]))
    end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "+++"), None)
    if end is None:
        raise KnowledgeBaseError("\n".join([*problems, "front matter has no closing +++ line"]))
    try:
        data = tomllib.loads("".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeBaseError("\n".join([*problems, f"bad front matter: {exc}"])) from None
    problems.extend(_problems(data))
    body = "".join(lines[end + 1 :]).strip()
    if not body:
        problems.append("the body is empty")
    if problems:
        raise KnowledgeBaseError("\n".join(problems))
    kinds, codes = tuple(data.get("kinds", [])), tuple(data.get("codes", []))
    return Article(slug, data["title"].strip(), body + "\n", kinds, codes)


def _read(files: Iterable[tuple[str, str]]) -> list[Article]:
    """Articles from ``(file name, text)`` pairs; one error names every bad file."""
    articles: list[Article] = []
    problems: list[str] = []
    for name, text in sorted(files):
        try:
            articles.append(parse_article(text, slug=name.removesuffix(".md")))
        except KnowledgeBaseError as exc:
            problems.extend(f"{name}: {line}" for line in str(exc).splitlines())
    if problems:
        raise KnowledgeBaseError("\n".join(problems))
    return articles


class KnowledgeBase:
    """A set of articles: looked up by slug, by error, or searched by words."""

    def __init__(self, articles: Iterable[Article]) -> None:
        self._articles: dict[str, Article] = {}
        self._codes: dict[str, Article] = {}
        problems = []
        for article in articles:
            if article.slug in self._articles:
                problems.append(f"{article.slug}: listed twice")
            self._articles[article.slug] = article
            for code in article.codes:
                owner = self._codes.setdefault(code, article)
                if owner is not article:
                    problems.append(f"{article.slug}: code {code!r} already in {owner.slug}")
        if problems:
            raise KnowledgeBaseError("\n".join(problems))
        self._index = {slug: _Entry.of(a) for slug, a in self._articles.items()}

    @classmethod
    def from_folder(cls, folder: Path) -> KnowledgeBase:
        """The articles in ``folder``'s ``*.md`` files."""
        if not folder.is_dir():
            raise KnowledgeBaseError(f"{folder}: not a folder of articles")
        return cls(_read((p.name, p.read_text("utf-8")) for p in folder.glob("*.md")))

    @classmethod
    def built_in(cls) -> KnowledgeBase:
        """The articles that ship with salesync."""
        return _built_in()

    def get(self, slug: str) -> Article | None:
        return self._articles.get(slug)

    def all(self) -> list[Article]:
        """Every article, by title."""
        return sorted(self._articles.values(), key=lambda a: (a.title.lower(), a.slug))

    def for_error(self, kind: str, code: str | None) -> Article:
        """The article that explains an error: the one listing its code, else the kind's
        own (``errors-<kind>``, else the one listing the kind with the fewest codes), else
        the unexpected-error article. Of codes joined by ``+`` (a record with several
        problems), the first with an article answers."""
        for part in (code or "").split("+"):
            if part.strip() in self._codes:
                return self._codes[part.strip()]
        listing = [a for a in self._articles.values() if kind in a.kinds]
        if listing:
            own = f"errors-{kind}"
            return min(listing, key=lambda a: (a.slug != own, len(a.codes), a.slug))
        fallback = self._articles.get(FALLBACK)
        if fallback is None:
            raise KeyError(f"no article explains {kind!r} errors, and there is no {FALLBACK!r}")
        return fallback

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """Articles holding every word of ``query``, best first.

        Each word counts by how rare it is among the articles (a word every article has
        says little), ten times over in the title, and words that follow each other as
        in the query count once more."""
        words = list(dict.fromkeys(_terms(query)))
        if not words or limit <= 0:
            return []
        df = {w: sum(w in e.words for e in self._index.values()) for w in words}
        rarity = {w: math.log(1 + len(self._index) / (1 + df[w])) for w in words}
        hits = []
        for slug, entry in self._index.items():
            if not entry.words.issuperset(words):
                continue
            score = sum(
                rarity[w] * (_TITLE_WEIGHT * (w in entry.title) + min(entry.counts[w], _BODY_CAP))
                for w in words
            )
            score += sum(
                _PHRASE_WEIGHT * (rarity[a] + rarity[b]) / 2
                for a, b in itertools.pairwise(words)
                if (a, b) in entry.pairs
            )
            article = self._articles[slug]
            hits.append(Hit(article, round(score, 3), _snippet(entry.blocks, words, article)))
        hits.sort(key=lambda h: (-h.score, h.article.title.lower()))
        return hits[:limit]


@dataclass(frozen=True, slots=True)
class _Entry:
    """What search reads of one article."""

    title: frozenset[str]
    counts: Counter[str]
    words: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    blocks: tuple[str, ...]

    @classmethod
    def of(cls, article: Article) -> _Entry:
        title, body = _terms(article.title), _terms(f"{article.text} {' '.join(article.codes)}")
        pairs = frozenset(itertools.pairwise(title)) | frozenset(itertools.pairwise(body))
        words = frozenset(title) | frozenset(body)
        return cls(frozenset(title), Counter(body), words, pairs, tuple(article.text.splitlines()))


def _snippet(blocks: Sequence[str], words: Sequence[str], article: Article) -> str:
    """A short excerpt around the first of ``words`` in the body, within its block; the
    summary's start when only the title matched."""
    patterns = [re.compile(rf"\b{re.escape(w)}", re.IGNORECASE) for w in words]
    found = ((b, [m.start() for p in patterns if (m := p.search(b))]) for b in blocks)
    text, at = next(((b, min(starts)) for b, starts in found if starts), (article.summary, 0))
    start = max(0, at - _SNIPPET_BEFORE)
    if start:
        start = text.find(" ", start, at) + 1 or at
    stop = min(len(text), at + _SNIPPET_AFTER)
    if stop < len(text):
        stop = max(text.rfind(" ", at, stop), at + 1)
    return ("…" if start else "") + text[start:stop].strip() + ("…" if stop < len(text) else "")


@cache
def _built_in() -> KnowledgeBase:
    folder = resources.files("salesync.support").joinpath("kb")
    return KnowledgeBase(
        _read((f.name, f.read_text("utf-8")) for f in folder.iterdir() if f.name.endswith(".md"))
    )

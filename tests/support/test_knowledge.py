"""The knowledge base: articles in markdown, found by slug, by error and by search."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from salesync.domain.errors import ErrorKind
from salesync.support.catalog import BUILT_IN, load_catalog
from salesync.support.knowledge import (
    Article,
    KnowledgeBase,
    KnowledgeBaseError,
    article_path,
    parse_article,
)

KB = KnowledgeBase.built_in()
REQUIRED = (
    "plans-and-billing",
    "developer-hours",
    "scope-of-work",
    "escalation",
    "reconnecting",
    "qbo-duplicate-name",
    "qbo-inactive-reference",
    "subscription-ended",
    "rate-limits",
)


def article(slug: str, title: str, body: str, **lists: tuple[str, ...]) -> Article:
    return Article(slug, title, body, lists.get("kinds", ()), lists.get("codes", ()))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_article_the_built_in_scope_of_work_names_exists() -> None:
    """Each scope category of each built-in catalog links to a packaged article."""
    slugs = {c.article for name in BUILT_IN for c in load_catalog(name).scope if c.article}
    assert slugs
    assert {s for s in slugs if KB.get(s) is None} == set()


def test_the_required_articles_exist_and_say_enough_in_few_words() -> None:
    """Every packaged article has a title and a plain body of 80 to 250 words."""
    assert {s for s in REQUIRED if KB.get(s) is None} == set()
    lengths = {a.slug: len(a.text.split()) for a in KB.all()}
    assert {s: n for s, n in lengths.items() if not 80 <= n <= 250} == {}
    assert all(a.title and a.summary for a in KB.all())


def test_every_help_link_between_articles_resolves() -> None:
    """A link to /help/<slug> in any article points at an article that exists."""
    linked = {m for a in KB.all() for m in re.findall(r"\(/help/([^)#]+)\)", a.body)}
    assert linked
    assert {s for s in linked if KB.get(s) is None} == set()


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_has_its_own_article(kind: ErrorKind) -> None:
    """An error of any kind without a known code finds the article for its kind."""
    found = KB.for_error(kind.value, None)
    assert found.slug == f"errors-{kind.value}"
    assert kind.value in found.kinds
    assert found.path == f"/help/errors-{kind.value}"


def test_a_code_article_wins_over_the_kind_article() -> None:
    """invalid_grant, 6240 and a subscription ended point at their own articles."""
    assert KB.for_error("auth", "invalid_grant").slug == "reconnecting"
    assert KB.for_error("mapping", "duplicate_name").slug == "qbo-duplicate-name"
    assert KB.for_error("mapping", "inactive_reference").slug == "qbo-inactive-reference"
    assert KB.for_error("auth", "subscription_ended").slug == "subscription-ended"
    assert KB.for_error("transient", "throttled").slug == "rate-limits"
    assert KB.for_error("auth", "no_such_code").slug == "errors-auth"


def test_joined_codes_find_the_first_with_an_article_and_unknown_kinds_the_bug_one() -> None:
    """'a+b' is answered by the first code with an article; an unknown kind by errors-bug."""
    assert KB.for_error("validation", "nothing_known+period_closed").slug == "errors-validation"
    assert KB.for_error("mapping", "nothing_known+duplicate_name").slug == "qbo-duplicate-name"
    assert KB.for_error("cosmic", None).slug == "errors-bug"


def test_search_ranks_a_title_match_above_a_body_only_match() -> None:
    """A word in the title outweighs the same word, even repeated, in the body alone."""
    kb = KnowledgeBase(
        [
            article("body", "Daily routines", "Reconcile the payout. " * 4),
            article("title", "Payouts and deposits", "How money reaches the bank."),
            article("other", "Something else", "Nothing to see here."),
        ]
    )
    hits = kb.search("payout")
    assert [h.article.slug for h in hits] == ["title", "body"]
    assert hits[0].score > hits[1].score
    assert "payout" in hits[1].snippet.lower()


def test_search_requires_every_word_and_ignores_case_and_plurals() -> None:
    """Only articles holding all the query's words match, 'Accounts' finding 'account'."""
    kb = KnowledgeBase(
        [
            article("both", "Tax", "Pick the tax account for each rate."),
            article("one", "Accounts", "Every account has a number."),
        ]
    )
    assert [h.article.slug for h in kb.search("TAX Accounts")] == ["both"]
    assert [h.article.slug for h in kb.search("accounts")] == ["one", "both"]


def test_search_of_the_built_in_articles_finds_the_obvious_answers() -> None:
    """Real questions find the article that answers them first."""
    assert KB.search("reconnect quickbooks")[0].article.slug == "reconnecting"
    assert KB.search("developer hours")[0].article.slug == "developer-hours"
    assert KB.search("6240")[0].article.slug == "qbo-duplicate-name"
    hit = KB.search("roll over", limit=1)
    assert len(hit) == 1
    assert len(hit[0].snippet) < 260


def test_search_of_nonsense_or_nothing_returns_nothing() -> None:
    """Words no article holds, a blank query and punctuation find no article."""
    assert KB.search("zzqx flurbogast") == []
    assert KB.search("") == []
    assert KB.search("   ") == []
    assert KB.search("?!") == []


def test_html_escapes_raw_html_in_the_source() -> None:
    """A <script> in a body reaches the page as text, never as markup."""
    page = article("x", "X", "Hello <script>alert(1)</script> world.\n\n<div>raw</div>\n").html
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<div>" not in page


def test_summary_is_the_first_paragraph_as_plain_text() -> None:
    """Headings and markup are dropped; only the first paragraph's words remain."""
    body = "# Heading\n\nFirst **bold** and `code`\nwrapped [link](/help/x).\n\nSecond.\n"
    assert article("x", "X", body).summary == "First bold and code wrapped link."
    assert article_path("x") == "/help/x"


def test_an_article_reads_from_front_matter_and_body(tmp_path: Path) -> None:
    """Title, kinds and codes come from the +++ block; the rest is the body."""
    write(tmp_path, "a-1.md", '+++\ntitle = "A"\nkinds = ["auth"]\ncodes = ["x"]\n+++\nBody.\n')
    kb = KnowledgeBase.from_folder(tmp_path)
    found = kb.get("a-1")
    assert found == Article("a-1", "A", "Body.\n", ("auth",), ("x",))
    assert kb.all() == [found]
    assert kb.get("missing") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("No front matter.\n", "does not start with a +++ line"),
        ('+++\ntitle = "A"\nBody.\n', "no closing +++ line"),
        ("+++\ntitle = \n+++\nBody.\n", "bad front matter"),
        ("+++\nkinds = []\n+++\nBody.\n", "title is missing"),
        ('+++\ntitle = "A"\nauthor = "B"\n+++\nBody.\n', "'author' is not a front matter key"),
        ('+++\ntitle = "A"\nkinds = ["oops"]\n+++\nBody.\n', "'oops' is not an error kind"),
        ('+++\ntitle = "A"\ncodes = "x"\n+++\nBody.\n', "codes must be a list"),
        ('+++\ntitle = "A"\n+++\n\n', "the body is empty"),
    ],
)
def test_a_malformed_article_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    """from_folder names the bad file and what is wrong with it."""
    write(tmp_path, "good.md", '+++\ntitle = "Good"\n+++\nFine.\n')
    write(tmp_path, "bad.md", text)
    with pytest.raises(KnowledgeBaseError, match=re.escape("bad.md: ")) as raised:
        KnowledgeBase.from_folder(tmp_path)
    assert problem in str(raised.value)
    assert "good.md" not in str(raised.value)


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    """Two bad files with two problems each give four lines, each naming its file."""
    write(tmp_path, "one.md", '+++\nextra = 1\nkinds = ["nope"]\n+++\nBody.\n')
    write(tmp_path, "two.md", "+++\nextra = 1\n+++\n")
    with pytest.raises(KnowledgeBaseError) as raised:
        KnowledgeBase.from_folder(tmp_path)
    lines = str(raised.value).splitlines()
    assert len(lines) == 6
    assert [line.split(":")[0] for line in lines] == ["one.md"] * 3 + ["two.md"] * 3


def test_a_code_claimed_by_two_articles_or_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """One code, one answer: a second claim is an error, as is a folder that is not there."""
    with pytest.raises(KnowledgeBaseError, match="code 'x' already in a"):
        KnowledgeBase([article("a", "A", "a", codes=("x",)), article("b", "B", "b", codes=("x",))])
    with pytest.raises(KnowledgeBaseError, match="not a folder"):
        KnowledgeBase.from_folder(tmp_path / "absent")
    with pytest.raises(KnowledgeBaseError, match="is not a slug"):
        parse_article('+++\ntitle = "A"\n+++\nBody.\n', slug="Bad Name")


def test_without_a_fallback_an_unexplained_error_names_what_is_missing() -> None:
    """A knowledge base without errors-bug says so instead of answering wrongly."""
    with pytest.raises(KeyError, match="errors-bug"):
        KnowledgeBase([]).for_error("bug", None)

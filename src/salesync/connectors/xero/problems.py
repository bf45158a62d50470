"""Why a posting is held before anything of it is written: the errors ``books`` raises
of its own, each with what the merchant can do about it."""

from __future__ import annotations

from collections.abc import Sequence

from salesync.connectors.xero import errors
from salesync.connectors.xero.forms import BankForm, Form, JournalForm
from salesync.domain.errors import MappingError, SyncError, ValidationError


def held(problems: Sequence[SyncError], form: Form) -> SyncError:
    """One error for a posting, from every problem found with it."""
    first = problems[0]
    if len(problems) == 1 and first.documents == form.documents:
        return first
    users = " ".join(dict.fromkeys(p.user_message for p in problems))
    return type(first)(
        f"{form.subject}: " + "; ".join(p.message for p in problems),
        user_message=users if first.documents else f"{form.subject}: {users}",
        code=first.code,
        help_url=first.help_url,
        provider=errors.PROVIDER,
        operation=first.operation,
        documents=form.documents,
        details={"problems": [p.code for p in problems]},
    )


def changed_form(form: Form) -> SyncError:
    return ValidationError(
        f"{form.subject}: Xero holds an unfinished document of another form under its number",
        user_message=f"{form.subject}: Xero already holds part of this posting in another form "
        "(the sales form setting changed while it was being written). Finish or void it in "
        "Xero, then release the posting.",
        code="form_changed",
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )


def foreign_bank(form: BankForm, code: str, held: str) -> SyncError:
    return ValidationError(
        f"{form.subject}: a bank transaction in {form.currency} into {held} account {code}",
        user_message=f"{form.subject} is in {form.currency}, but Xero keeps money moved "
        f"in account {code} in {held}. Map the account to a bank account in "
        f"{form.currency} in salesync's Xero settings (Accounts).",
        code="bank_currency",
        help_url=errors.CURRENCIES_HELP,
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )


def several_banks(form: JournalForm, codes: list[str]) -> SyncError:
    return MappingError(
        f"{form.subject}: moves money into and out of bank accounts {', '.join(codes)}",
        user_message=f"{form.subject} moves money out of one bank account in Xero and into "
        f"another ({', '.join(codes)}). Xero refuses manual journals on bank accounts, a "
        "receive or spend money transaction has one bank account, and an invoice's payments "
        "all go one way, so no one Xero transaction carries it. Record it in Xero yourself "
        "(a payout as a bank transfer and its fees), or map one of these accounts to an "
        "account that is not a bank account in salesync's Xero settings (Accounts).",
        code="several_bank_accounts",
        help_url=errors.ACCOUNTS_HELP,
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )


def foreign_journal(form: JournalForm, base: str) -> SyncError:
    return ValidationError(
        f"{form.subject}: a manual journal in {form.currency} for a {base} organisation",
        user_message=f"{form.subject} is in {form.currency}, but Xero keeps manual journals "
        f"in the organisation's own currency ({base}) only. Post this location per order "
        "as invoices, or convert it before posting.",
        code="journal_currency",
        help_url=errors.CURRENCIES_HELP,
        provider=errors.PROVIDER,
        operation="post",
        documents=form.documents,
    )

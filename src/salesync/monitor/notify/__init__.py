"""Telling the merchant by email what happened to their sync, what we did about it, and
whether anything is needed from them, without flooding their inbox.

``Notices`` decides who hears what and when (``notices``), ``letters`` renders it from
the templates, ``deliver_due`` sends what is due through a ``Mailer`` (``delivery``).
"""

from salesync.monitor.notify.contacts import Contact, ContactError, Contacts, unsubscribe
from salesync.monitor.notify.delivery import DeliveryReport, MailRetry, deliver_due
from salesync.monitor.notify.letters import Letter
from salesync.monitor.notify.mailer import (
    Envelope,
    Mailer,
    MailError,
    MailRejectedError,
    MailUnavailableError,
    MailUncertainError,
)
from salesync.monitor.notify.notices import Notice, NoticeReason, Notices, NoticeState
from salesync.monitor.notify.settings import MailSettings

__all__ = [
    "Contact",
    "ContactError",
    "Contacts",
    "DeliveryReport",
    "Envelope",
    "Letter",
    "MailError",
    "MailRejectedError",
    "MailRetry",
    "MailSettings",
    "MailUnavailableError",
    "MailUncertainError",
    "Mailer",
    "Notice",
    "NoticeReason",
    "NoticeState",
    "Notices",
    "deliver_due",
    "unsubscribe",
]

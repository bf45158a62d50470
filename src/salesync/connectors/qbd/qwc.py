"""The .qwc file a merchant adds to the QuickBooks Web Connector for one connection.

It names salesync's SOAP endpoint (AppURL: HTTPS, except on the merchant's own machine,
where the Web Connector accepts http://localhost), a support page on the same host (the
Web Connector refuses one elsewhere), the user name the Web Connector signs in with, the
application's OwnerID and the company file's FileID (GUIDs QuickBooks stores in the file
to know the application again), and how often it runs. The password is never in it: the
merchant types it into the Web Connector once.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class QwcFile:
    app_name: str
    app_url: str
    support_url: str
    username: str
    owner_id: str
    file_id: str
    run_every_minutes: int = 15
    description: str = "Posts sales from salesync into QuickBooks Desktop."

    def problems(self) -> list[Problem]:
        """Everything the Web Connector would refuse, each naming the field to fix."""
        found: list[Problem] = []
        app, support = urlsplit(self.app_url), urlsplit(self.support_url)
        local = app.hostname in LOCAL_HOSTS
        if app.scheme != "https" and not (app.scheme == "http" and local):
            found.append(
                Problem(
                    "not_https",
                    "the Web Connector only reaches an https:// AppURL (http:// only on "
                    "localhost); serve salesync over HTTPS",
                    "app_url",
                )
            )
        if support.hostname != app.hostname:
            found.append(
                Problem(
                    "other_host", "the support page must be on the AppURL's host", "support_url"
                )
            )
        if not self.username.strip():
            found.append(Problem("required", "a user name is needed", "username"))
        if not 1 <= self.run_every_minutes <= 1440:
            found.append(Problem("out_of_range", "between 1 and 1440 minutes", "run_every_minutes"))
        return found

    def render(self) -> str:
        """The .qwc file's text; a ``ValidationError`` listing every problem instead."""
        problems = self.problems()
        if problems:
            listed = "; ".join(str(p) for p in problems)
            raise ValidationError(
                f"the .qwc file cannot be made: {listed}",
                user_message=f"The Web Connector file cannot be made yet: {listed}.",
                code="bad_qwc",
                provider="qbd",
                problems=tuple(problems),
            )
        root = etree.Element("QBWCXML")
        for tag, text in (
            ("AppName", self.app_name),
            ("AppID", ""),
            ("AppURL", self.app_url),
            ("AppDescription", self.description),
            ("AppSupport", self.support_url),
            ("UserName", self.username),
            ("OwnerID", self.owner_id),
            ("FileID", self.file_id),
            ("QBType", "QBFS"),
        ):
            etree.SubElement(root, tag).text = text
        scheduler = etree.SubElement(root, "Scheduler")
        etree.SubElement(scheduler, "RunEveryNMinutes").text = str(self.run_every_minutes)
        etree.SubElement(root, "IsReadOnly").text = "false"
        etree.SubElement(root, "PersonalDataPref").text = "pdpNotNeeded"
        etree.SubElement(root, "UnattendedModePref").text = "umpRequired"
        etree.SubElement(root, "AuthFlags").text = "0xF"
        body = etree.tostring(root, pretty_print=True, encoding="us-ascii", xml_declaration=False)
        return '<?xml version="1.0"?>\n' + body.decode("ascii")

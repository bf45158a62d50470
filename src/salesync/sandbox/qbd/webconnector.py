"""A client that behaves like the QuickBooks Web Connector, over real SOAP (zeep).

One ``update`` is one scheduled run of one application (.qwc file): serverVersion and
clientVersion, authenticate, then while the server hands out requests it takes each to
the simulated company file and returns QuickBooks' answer with receiveResponseXML, until
the server says 100 (done) or a negative number (then getLastError), and closeConnection.
Faults are armed on a ``FaultPlan``: ``session`` (SERVER_ERROR: QuickBooks will not start,
0x80040408; RATE_LIMITED: the company file is open in another mode, 0x80040410; both
reported with connectionError) and ``request``, or ``request:N`` for a session's Nth
request (LOST_RESPONSE: QuickBooks applies the request, then the connection to the server
drops before its answer is delivered; MALFORMED: the answer arrives garbled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
import zeep
from zeep.transports import Transport

from salesync.sandbox.faults import FaultKind, FaultPlan
from salesync.sandbox.qbd.company import QbdCompanyFile
from salesync.sandbox.qbd.schema import ParseError

VERSION = "2.3.0.215"
HRESULTS = {
    FaultKind.SERVER_ERROR: ("0x80040408", "Could not start QuickBooks."),
    FaultKind.RATE_LIMITED: (
        "0x80040410",
        "The QuickBooks company data file is currently open in a mode other than the one "
        "specified by your application.",
    ),
}


@dataclass(slots=True)
class Run:
    """What one scheduled run did, as the Web Connector's log would show it."""

    status: str
    """none / nvu / busy (authenticate said so), done, error (getLastError was read),
    connection_error, dropped (the connection to the server was lost mid-session)."""
    requests: int = 0
    percents: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


class WebConnector:
    """The Web Connector for one .qwc application on the merchant's machine."""

    def __init__(
        self,
        wsdl_url: str,
        username: str,
        password: str,
        company: QbdCompanyFile,
        *,
        faults: FaultPlan | None = None,
        qbxml: tuple[int, int] = (13, 0),
        version: str = VERSION,
    ) -> None:
        self.http = requests.Session()
        transport = Transport(session=self.http, timeout=10)  # type: ignore[no-untyped-call]
        self.client = zeep.Client(wsdl_url, transport=transport)  # type: ignore[no-untyped-call]
        self.username = username
        self.password = password
        self.company = company
        self.faults = faults or FaultPlan()
        self.qbxml = qbxml
        self.version = version
        self.runs: list[Run] = []

    def close(self) -> None:
        self.http.close()

    def poll(self, max_runs: int = 20) -> list[Run]:
        """Scheduled runs one after another while each ends well and work remains; a run
        that fails leaves the rest for the next schedule, as the Web Connector does."""
        runs: list[Run] = []
        for _ in range(max_runs):
            run = self.update()
            runs.append(run)
            if run.status != "done":
                break
        return runs

    def update(self) -> Run:
        """One scheduled run."""
        service: Any = self.client.service
        service.serverVersion()
        verdict = service.clientVersion(strVersion=self.version) or ""
        if verdict.startswith("E:"):
            return self._log(Run("error", messages=[verdict[2:]]))
        answer = service.authenticate(strUserName=self.username, strPassword=self.password)
        ticket, status = [*(getattr(answer, "string", answer) or []), "", ""][:2]
        if status in ("none", "nvu", "busy"):
            return self._log(Run(status))
        run = Run("done")
        fault = self.faults.take("session")
        if fault is not None and fault.kind in HRESULTS:
            hresult, message = HRESULTS[fault.kind]
            run.status = "connection_error"
            run.messages.append(service.connectionError(ticket=ticket, hresult=hresult,
                                                        message=message))  # fmt: skip
            service.closeConnection(ticket=ticket)
            return self._log(run)
        self.company.open_session()
        return self._log(self._exchange(service, ticket, status or self.company.path, run))

    def _exchange(self, service: Any, ticket: str, path: str, run: Run) -> Run:
        host = self.company.host_response()
        while True:
            request = service.sendRequestXML(
                ticket=ticket,
                strHCPResponse=host,
                strCompanyFileName=path,
                qbXMLCountry="US",
                qbXMLMajorVers=self.qbxml[0],
                qbXMLMinorVers=self.qbxml[1],
            )
            host = ""
            if not request:
                run.status = "error"
                run.messages.append(service.getLastError(ticket=ticket))
                break
            run.requests += 1
            response, hresult, message = self._quickbooks(request)
            fault = self.faults.take(f"request:{run.requests}") or self.faults.take("request")
            if fault is not None and fault.kind is FaultKind.LOST_RESPONSE:
                run.status = "dropped"
                return run
            if fault is not None and fault.kind is FaultKind.MALFORMED:
                response = response[: len(response) // 2]
            percent = service.receiveResponseXML(
                ticket=ticket, response=response, hresult=hresult, message=message
            )
            run.percents.append(percent)
            if percent < 0:
                run.status = "error"
                run.messages.append(service.getLastError(ticket=ticket))
                break
            if percent >= 100:
                break
        run.messages.append(service.closeConnection(ticket=ticket))
        return run

    def _quickbooks(self, request: str) -> tuple[str, str, str]:
        """QuickBooks' answer to ``request``: (response, hresult, message)."""
        try:
            return self.company.process(request), "", ""
        except ParseError as exc:
            return (
                "",
                exc.hresult,
                f"QuickBooks found an error when parsing the provided XML text stream: {exc}",
            )

    def _log(self, run: Run) -> Run:
        self.runs.append(run)
        return run

"""The Web Connector's SOAP endpoint: an ASGI app that serves the WSDL (``GET ?wsdl``) and
answers each document/literal SOAP 1.1 call by parsing its envelope, calling the
``WebConnectorService`` and wrapping the result. A malformed call gets a SOAP Fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from salesync.connectors.qbd.service import WebConnectorService
from salesync.connectors.qbd.wsdl import NAMESPACE, OPERATIONS, wsdl

ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
PATH = "/qbwc"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_XML = "text/xml; charset=utf-8"


class SoapFaultError(ValueError):
    """The call is not one salesync can answer."""


def create_soap_app(service: WebConnectorService) -> FastAPI:
    """The endpoint alone, at ``/qbwc`` (tests and the demo serve it on its own port)."""
    app = FastAPI(title="salesync QuickBooks Web Connector service", docs_url=None)
    register(app, service)
    return app


def register(app: FastAPI, service: WebConnectorService) -> None:
    """Add the endpoint at ``/qbwc`` (the AppURL of every .qwc file) to ``app``. It is
    not part of the REST API's OpenAPI document: the WSDL describes it, and the Web
    Connector signs in through ``authenticate`` instead of the API's credentials."""

    async def describe(request: Request) -> Response:
        address = str(request.url.replace(query=""))
        return Response(wsdl(address), media_type=_XML)

    async def call(request: Request) -> Response:
        try:
            name, args = parse_call(await request.body())
            value = await run_in_threadpool(dispatch, service, name, args)
        except SoapFaultError as exc:
            return Response(fault(str(exc)), status_code=500, media_type=_XML)
        return Response(envelope(name, value), media_type=_XML)

    app.add_api_route(PATH, describe, methods=["GET"], include_in_schema=False)
    app.add_api_route(PATH, call, methods=["POST"], include_in_schema=False)


def parse_call(body: bytes) -> tuple[str, dict[str, str]]:
    """The operation named by the envelope's body and its parameters as text."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFaultError(f"the request is not XML: {exc}") from None
    body_element = root.find(f"{{{ENVELOPE}}}Body")
    if root.tag != f"{{{ENVELOPE}}}Envelope" or body_element is None or len(body_element) == 0:
        raise SoapFaultError("the request is not a SOAP 1.1 envelope with a body")
    operation = body_element[0]
    name = etree.QName(operation).localname
    if etree.QName(operation).namespace != NAMESPACE or name not in OPERATIONS:
        raise SoapFaultError(f"no operation {operation.tag}")
    args = {etree.QName(child).localname: child.text or "" for child in operation}
    return name, args


def dispatch(service: WebConnectorService, name: str, args: dict[str, str]) -> Any:
    """Call the service method ``name`` with the call's ``args``."""
    get = args.get
    if name == "serverVersion":
        return service.server_version()
    if name == "clientVersion":
        return service.client_version(get("strVersion", ""))
    if name == "authenticate":
        return service.authenticate(get("strUserName", ""), get("strPassword", ""))
    if name == "sendRequestXML":
        return service.send_request_xml(
            get("ticket", ""),
            get("strCompanyFileName", ""),
            _int(get("qbXMLMajorVers")),
            _int(get("qbXMLMinorVers")),
        )
    if name == "receiveResponseXML":
        return service.receive_response_xml(
            get("ticket", ""), get("response", ""), get("hresult", ""), get("message", "")
        )
    if name == "connectionError":
        return service.connection_error(get("ticket", ""), get("hresult", ""), get("message", ""))
    if name == "getLastError":
        return service.get_last_error(get("ticket", ""))
    return service.close_connection(get("ticket", ""))


def envelope(name: str, value: Any) -> bytes:
    """The SOAP response carrying ``value`` as ``{name}Result``."""
    root = etree.Element(f"{{{ENVELOPE}}}Envelope", nsmap={"soap": ENVELOPE})
    body = etree.SubElement(root, f"{{{ENVELOPE}}}Body")
    response = etree.SubElement(body, f"{{{NAMESPACE}}}{name}Response", nsmap={"tns": NAMESPACE})
    result = etree.SubElement(response, f"{{{NAMESPACE}}}{name}Result")
    if isinstance(value, list):
        for item in value:
            etree.SubElement(result, f"{{{NAMESPACE}}}string").text = str(item)
    else:
        result.text = str(value)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def fault(message: str) -> bytes:
    root = etree.Element(f"{{{ENVELOPE}}}Envelope", nsmap={"soap": ENVELOPE})
    body = etree.SubElement(root, f"{{{ENVELOPE}}}Body")
    node = etree.SubElement(body, f"{{{ENVELOPE}}}Fault")
    etree.SubElement(node, "faultcode").text = "soap:Client"
    etree.SubElement(node, "faultstring").text = message
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip().lstrip("-").isdigit() else None

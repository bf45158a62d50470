"""The WSDL of salesync's Web Connector service: document/literal SOAP 1.1, namespace
``http://developer.intuit.com/``, the operations and parts the QuickBooks Web Connector
calls (its programmer's guide lists them; the Web Connector ships the same contract as
``QBWebConnectorSvc.wsdl``)."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

NAMESPACE = "http://developer.intuit.com/"

OPERATIONS: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "serverVersion": ((), "s:string"),
    "clientVersion": ((("strVersion", "s:string"),), "s:string"),
    "authenticate": (
        (("strUserName", "s:string"), ("strPassword", "s:string")),
        "tns:ArrayOfString",
    ),
    "sendRequestXML": (
        (
            ("ticket", "s:string"),
            ("strHCPResponse", "s:string"),
            ("strCompanyFileName", "s:string"),
            ("qbXMLCountry", "s:string"),
            ("qbXMLMajorVers", "s:int"),
            ("qbXMLMinorVers", "s:int"),
        ),
        "s:string",
    ),
    "receiveResponseXML": (
        (
            ("ticket", "s:string"),
            ("response", "s:string"),
            ("hresult", "s:string"),
            ("message", "s:string"),
        ),
        "s:int",
    ),
    "connectionError": (
        (("ticket", "s:string"), ("hresult", "s:string"), ("message", "s:string")),
        "s:string",
    ),
    "getLastError": ((("ticket", "s:string"),), "s:string"),
    "closeConnection": ((("ticket", "s:string"),), "s:string"),
}


def wsdl(address: str) -> str:
    """The WSDL, with the service at ``address``."""
    elements, messages, ports, bindings = [], [], [], []
    for name, (params, returns) in OPERATIONS.items():
        fields = "".join(
            f'<s:element minOccurs="{1 if kind == "s:int" else 0}" maxOccurs="1" '
            f'name="{param}" type="{kind}"/>'
            for param, kind in params
        )
        result_min = 1 if returns == "s:int" else 0
        elements.append(
            f'<s:element name="{name}"><s:complexType><s:sequence>{fields}'
            f"</s:sequence></s:complexType></s:element>"
            f'<s:element name="{name}Response"><s:complexType><s:sequence>'
            f'<s:element minOccurs="{result_min}" maxOccurs="1" name="{name}Result" '
            f'type="{returns}"/></s:sequence></s:complexType></s:element>'
        )
        messages.append(
            f'<wsdl:message name="{name}SoapIn"><wsdl:part name="parameters" '
            f'element="tns:{name}"/></wsdl:message>'
            f'<wsdl:message name="{name}SoapOut"><wsdl:part name="parameters" '
            f'element="tns:{name}Response"/></wsdl:message>'
        )
        ports.append(
            f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}SoapIn"/>'
            f'<wsdl:output message="tns:{name}SoapOut"/></wsdl:operation>'
        )
        bindings.append(
            f'<wsdl:operation name="{name}"><soap:operation soapAction="{NAMESPACE}{name}" '
            'style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input>'
            '<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:s="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:tns="{NAMESPACE}" targetNamespace="{NAMESPACE}" '
        'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">'
        f'<wsdl:types><s:schema elementFormDefault="qualified" targetNamespace="{NAMESPACE}">'
        + "".join(elements)
        + '<s:complexType name="ArrayOfString"><s:sequence><s:element minOccurs="0" '
        'maxOccurs="unbounded" name="string" nillable="true" type="s:string"/>'
        "</s:sequence></s:complexType></s:schema></wsdl:types>"
        + "".join(messages)
        + '<wsdl:portType name="QBWebConnectorSvcSoap">'
        + "".join(ports)
        + '</wsdl:portType><wsdl:binding name="QBWebConnectorSvcSoap" '
        'type="tns:QBWebConnectorSvcSoap"><soap:binding '
        'transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(bindings)
        + '</wsdl:binding><wsdl:service name="QBWebConnectorSvc">'
        '<wsdl:port name="QBWebConnectorSvcSoap" binding="tns:QBWebConnectorSvcSoap">'
        f"<soap:address location={quoteattr(address)}/></wsdl:port></wsdl:service>"
        "</wsdl:definitions>"
    )

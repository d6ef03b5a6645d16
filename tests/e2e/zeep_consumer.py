#!/usr/bin/env python3
"""An independent SOAP consumer (zeep) calling GetCareDocumentation:2 through vaxel.

zeep builds the request from the national WSDL and parses the answer against its XSD
types, so a response that does not follow the contract fails here, not in our own
parser. Prints one JSON object on stdout:

  {"documents": [{"documentId": ..., "sourceSystemHSAid": ..., "careGiver": ...}],
   "result": "OK",
   "processing_status": [{"logicalAddress": ..., "statusCode": ..., "code": ..., "text": ...}]}

Usage: zeep_consumer.py --wsdl W --url U --cert C --key K --ca CA \
           --logical-address LA --patient PNR
"""

import argparse
import json
import sys

import requests
from zeep import Client, Settings
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport

HEADERS_NS = "urn:riv:interoperability:headers:1"


def main() -> int:
    p = argparse.ArgumentParser()
    for name in ("wsdl", "url", "cert", "key", "ca", "logical-address", "patient"):
        p.add_argument("--" + name, required=True)
    a = p.parse_args()

    session = requests.Session()
    session.cert = (a.cert, a.key)
    session.verify = a.ca
    # Only the demo CA counts: no CA bundle or proxy from the environment.
    session.trust_env = False
    history = HistoryPlugin()
    client = Client(
        a.wsdl,
        transport=Transport(session=session, timeout=60, operation_timeout=60),
        settings=Settings(strict=True, raw_response=False),
        plugins=[history],
    )
    service = client.create_service(
        "{urn:riv:clinicalprocess:healthcond:description:GetCareDocumentation:2:rivtabp21}"
        "GetCareDocumentationResponderBinding",
        a.url,
    )
    # The WSDL declares the RIV-TA 2.1 LogicalAddress header as message part.
    response = service.GetCareDocumentation(
        patientId={"id": a.patient, "type": "1.2.752.129.2.1.3.1"},
        _soapheaders={"LogicalAddress": a.logical_address},
    )

    documents = []
    for doc in response.careDocumentation or []:
        h = doc.careDocumentationHeader
        professional = h.accountableHealthcareProfessional
        documents.append(
            {
                "documentId": h.documentId,
                "sourceSystemHSAid": h.sourceSystemHSAid,
                "careGiver": professional.healthcareProfessionalCareGiverHSAId
                if professional is not None
                else None,
            }
        )

    # The ProcessingStatus header is outside the WSDL: read it from the raw envelope.
    envelope = history.last_received["envelope"]
    statuses = []
    for rec in envelope.iter("{%s}ProcessingStatusList" % HEADERS_NS):
        def text(name):
            el = rec.find(".//{%s}%s" % (HEADERS_NS, name))
            return el.text if el is not None else None

        statuses.append(
            {
                "logicalAddress": text("logicalAddress"),
                "statusCode": text("statusCode"),
                "code": text("code"),
                "text": text("text"),
            }
        )
    print(
        json.dumps(
            {
                "documents": documents,
                "result": response.result.resultCode if response.result is not None else None,
                "processing_status": statuses,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

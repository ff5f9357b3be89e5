"""Each eligibility format carries the form of the name its receiver can hold (docs/eligibility-formats.md):
JSON, XML and FHIR the name of record (IVS and MJ characters as written) with its JIS X 0213 form,
ORCA the JIS X 0208 form with the original beside it. End to end over HTTP on both databases."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from pmh.cards import service as cards
from pmh.cards.models import InsuranceRecord
from pmh.eligibility.formats import PMH_NAME_JISX0213, XML_NAMESPACE
from tests.eligibility import world as w
from tests.eligibility.test_formats import XSD_PATH

ORIGINAL = "辻\U000e0100 𩸽子"  # an IVS and a JIS X 0213 character with no JIS X 0208 counterpart
JISX0213 = "辻 𩸽子"
JISX0208 = "辻 〓子"


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    built = w.build(db_session, client)
    digest = cards.person_digester()(w.MY_NUMBER)
    db_session.execute(update(InsuranceRecord).where(InsuranceRecord.person_digest == digest).values(name=ORIGINAL))
    return built


def _body(world: w.World, reception: int, fmt: str) -> bytes:
    response = world.client.get(
        f"/api/v1/receptions/{reception}/eligibility", params={"format": fmt}, headers=world.clinic()
    )
    assert response.status_code == 200, response.text
    return response.content


def test_each_format_carries_the_form_its_receiver_can_hold(world: w.World) -> None:
    reception = world.receive("all")
    person = world.eligibility(reception)["person"]
    assert (person["name"], person["name_jisx0213"]) == (ORIGINAL, JISX0213)

    root = ET.fromstring(_body(world, reception, "xml"))
    ns = {"e": XML_NAMESPACE}
    assert root.findtext("e:person/e:name", namespaces=ns) == ORIGINAL
    assert root.findtext("e:person/e:name_jisx0213", namespaces=ns) == JISX0213
    xmlschema.XMLSchema(str(XSD_PATH)).validate(_body(world, reception, "xml").decode("utf-8"))

    fhir = world.eligibility(reception, format="fhir")
    patient = fhir["entry"][0]["resource"]
    kanji = patient["name"][0]
    assert kanji["text"] == ORIGINAL and kanji["family"] == "辻\U000e0100"
    assert {"url": PMH_NAME_JISX0213, "valueString": JISX0213} in kanji["extension"]

    orca = world.eligibility(reception, format="orca")
    assert "WholeName" not in str(orca["patientmodv3req2"])  # patientmodv32 names the patient by Patient_ID only
    assert orca["pmh"]["name"] == {"original": ORIGINAL, "jisx0213": JISX0213, "unmapped": "JIS X 0208: U+29E3D"}
    assert JISX0208 != ORIGINAL


def test_a_jis_x_0208_name_is_the_same_in_every_format(world: w.World, db_session: Session) -> None:
    digest = cards.person_digester()(w.MY_NUMBER)
    db_session.execute(update(InsuranceRecord).where(InsuranceRecord.person_digest == digest).values(name="辻 花子"))
    reception = world.receive("all")
    assert world.eligibility(reception)["person"]["name_jisx0213"] == "辻 花子"
    kanji = world.eligibility(reception, format="fhir")["entry"][0]["resource"]["name"][0]
    assert [e["url"] for e in kanji["extension"]] == [
        "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
    ]
    orca = world.eligibility(reception, format="orca")
    assert "name" not in orca["pmh"]  # nothing to add when the JIS X 0208 form is the name itself

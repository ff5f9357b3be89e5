"""The eligibility result's output formats (docs/eligibility-formats.md): FHIR, ORCA, XML and render()."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmh.eligibility.formats import (
    OID_INSURER_NUMBER,
    OID_PAYER_NUMBER,
    XML_NAMESPACE,
    orca_public_insurance_class,
    render,
    to_fhir,
    to_orca,
    to_xml,
)
from pmh.eligibility.schemas import EligibilityResult, InsuranceRead, PersonRead, SubsidyRead

XSD_PATH = Path(__file__).resolve().parents[2] / "docs" / "eligibility.xsd"
NS = {"e": XML_NAMESPACE}
SERVICE_DATE = dt.date(2026, 5, 15)
ORCA_KEYS = [
    "PublicInsurance_Mode",
    "PublicInsurance_Id",
    "PublicInsurance_Class",
    "PublicInsurance_Name",
    "PublicInsurer_Number",
    "PublicInsuredPerson_Number",
    "Certificate_IssuedDate",
    "Certificate_ExpiredDate",
    "Certificate_CheckDate",
]


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD_PATH))


def subsidy(priority: int, payer_number: str = "54016027", **changes: Any) -> SubsidyRead:
    values: dict[str, Any] = {
        "program_code": "nanbyo",
        "program_name": "特定医療費（指定難病）",
        "payer_number": payer_number,
        "recipient_number": f"{1000000 + priority:07d}",
        "municipality_code": "010006",
        "municipality_name": "北海道",
        "valid_from": dt.date(2025, 10, 1),
        "valid_to": dt.date(2026, 9, 30),
        "status": "valid",
        "monthly_cap": 10000,
        "inpatient_cap": None,
        "copay_rate": 20,
        "income_category": "一般所得Ⅰ",
        "cap_managed": True,
        "cap_used_this_month": 2500,
        "cap_remaining_this_month": 7500,
        "diseases": ["パーキンソン病"],
        "designated_institution": True,
        "always_reimbursement": False,
        "additional_conditions": {},
        "priority": priority,
        "suggested_copay": None,
    }
    values.update(changes)
    return SubsidyRead(**values)


def result(subsidies: list[SubsidyRead], *, insurance: bool = True, **changes: Any) -> EligibilityResult:
    values: dict[str, Any] = {
        "reception_id": 42,
        "institution_code": "0110123456",
        "received_at": dt.datetime(2026, 5, 15, 0, 30, 5, tzinfo=dt.UTC),
        "service_date": SERVICE_DATE,
        "person": PersonRead(name="札幌　花子", name_kana="サッポロ ハナコ", birth_date=dt.date(1961, 2, 3), sex=2),
        "insurance": InsuranceRead(
            insurer_number="01040013",
            symbol="12345",
            number="６７８",
            branch="01",
            copay_rate=30,
            valid_from=dt.date(2020, 4, 1),
            valid_to=None,
        )
        if insurance
        else None,
        "subsidies": subsidies,
    }
    values.update(changes)
    return EligibilityResult(**values)


def several() -> EligibilityResult:
    """Three certificates, given out of priority order: an open-ended 地単, an expired one, a national one."""
    return result(
        [
            subsidy(
                3,
                "88138243",
                program_code="kodomo",
                program_name="こども医療費助成（地単）",
                valid_to=None,
                monthly_cap=None,
                inpatient_cap=None,
                copay_rate=None,
                cap_managed=False,
                cap_used_this_month=None,
                cap_remaining_this_month=None,
                designated_institution=None,
                diseases=[],
                additional_conditions={"01": "2", "02": "あり"},
            ),
            subsidy(2, "51326023", program_code="tokutei-shikkan", valid_to=dt.date(2026, 3, 31), status="expired"),
            subsidy(1, "54016027", inpatient_cap=20000, always_reimbursement=True),
        ]
    )


def five() -> EligibilityResult:
    payers = ["54016027", "81136244", "81137242", "88131248", "89131247"]
    return result([subsidy(priority, payer) for priority, payer in zip([5, 4, 3, 2, 1], payers, strict=True)])


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def payor_of(bundle: dict[str, Any], coverage: dict[str, Any]) -> dict[str, Any]:
    """Resolve a Coverage's payor reference inside the Bundle."""
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    organization: dict[str, Any] = by_url[coverage["payor"][0]["reference"]]
    return organization


# --- FHIR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [several(), five(), result([], insurance=False), result([])])
def test_fhir_bundle_reparses_with_fhir_resources_unchanged(sample: EligibilityResult) -> None:
    bundle = to_fhir(sample)
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    assert parsed.model_dump(mode="json") == bundle
    assert Bundle.model_validate_json(json.dumps(bundle)).model_dump(mode="json") == bundle


def test_fhir_bundle_holds_patient_then_insurance_then_certificates_by_priority_then_response() -> None:
    bundle = to_fhir(several())
    kinds = [resource["resourceType"] for resource in resources(bundle)]
    assert kinds == ["Patient", *["Coverage"] * 4, *["Organization"] * 4, "CoverageEligibilityResponse"]
    subsidy_coverages = resources(bundle)[2:5]
    assert [coverage["order"] for coverage in subsidy_coverages] == [1, 2, 3]
    assert [payor_of(bundle, coverage)["identifier"][0]["value"] for coverage in subsidy_coverages] == [
        "54016027",
        "51326023",
        "88138243",
    ]


def test_fhir_without_insurance_has_one_coverage_per_certificate_only() -> None:
    bundle = to_fhir(result([subsidy(1), subsidy(2, "81136244")], insurance=False))
    coverages = [resource for resource in resources(bundle) if resource["resourceType"] == "Coverage"]
    assert len(coverages) == 2
    assert all(payor_of(bundle, coverage)["identifier"][0]["system"] == OID_PAYER_NUMBER for coverage in coverages)
    response = resources(bundle)[-1]
    assert len(response["insurance"]) == 2


def test_fhir_references_are_urn_uuids_that_resolve_inside_the_bundle() -> None:
    bundle = to_fhir(several())
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    patient_url = full_urls[0]
    coverages = resources(bundle)[1:5]
    assert {coverage["beneficiary"]["reference"] for coverage in coverages} == {patient_url}
    assert {coverage["payor"][0]["reference"] for coverage in coverages} <= set(full_urls)
    response = resources(bundle)[-1]
    assert response["patient"]["reference"] == patient_url
    assert [item["coverage"]["reference"] for item in response["insurance"]] == full_urls[1:5]


def test_fhir_patient_has_kanji_ide_and_kana_syl_names_gender_and_birth_date() -> None:
    patient = resources(to_fhir(several()))[0]
    kanji, kana = patient["name"]
    assert kanji["extension"][0]["valueCode"] == "IDE"
    assert (kanji["text"], kanji["family"], kanji["given"]) == ("札幌 花子", "札幌", ["花子"])
    assert kana["extension"][0]["valueCode"] == "SYL"
    assert (kana["text"], kana["family"], kana["given"]) == ("サッポロ ハナコ", "サッポロ", ["ハナコ"])
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1961-02-03"


def test_fhir_unspaced_name_keeps_text_without_family() -> None:
    sample = result(
        [], person=PersonRead(name="山田太郎", name_kana="ヤマダタロウ", birth_date=dt.date(1990, 1, 1), sex=1)
    )
    patient = resources(to_fhir(sample))[0]
    assert patient["gender"] == "male"
    assert [name.get("family") for name in patient["name"]] == [None, None]
    assert [name["text"] for name in patient["name"]] == ["山田太郎", "ヤマダタロウ"]


def test_fhir_insurance_coverage_carries_insurer_number_and_symbol_number_branch() -> None:
    bundle = to_fhir(several())
    coverage = resources(bundle)[1]
    assert payor_of(bundle, coverage)["identifier"] == [{"system": OID_INSURER_NUMBER, "value": "01040013"}]
    assert coverage["subscriberId"] == "12345:６７８"
    assert coverage["dependent"] == "01"
    assert coverage["identifier"][0]["value"] == "01040013:12345:６７８:01"
    assert [extension["valueString"] for extension in coverage["extension"]] == ["12345", "６７８", "01"]
    assert coverage["period"] == {"start": "2020-04-01"}
    assert coverage["status"] == "active"
    assert coverage["costToBeneficiary"][0]["valueQuantity"]["value"] == 30


def test_fhir_insurance_with_empty_symbol_and_no_branch_still_validates() -> None:
    insurance = InsuranceRead(
        insurer_number="138057",
        symbol="",
        number="1234567",
        branch=None,
        copay_rate=None,
        valid_from=None,
        valid_to=None,
    )
    coverage = resources(to_fhir(result([]).model_copy(update={"insurance": insurance})))[1]
    assert coverage["subscriberId"] == ":1234567"
    assert coverage["identifier"][0]["value"] == "00138057::1234567:"  # JP Core keeps the last colon
    assert "dependent" not in coverage
    assert coverage["type"]["coding"][0]["code"] == "2"  # 6 digits: 国保
    assert "period" not in coverage
    assert "costToBeneficiary" not in coverage


def with_relationship(sample: EligibilityResult, relationship: int | None) -> EligibilityResult:
    assert sample.insurance is not None
    insurance = sample.insurance.model_copy(update={"relationship": relationship})
    return sample.model_copy(update={"insurance": insurance})


@pytest.mark.parametrize(("relationship", "display"), [(1, "被保険者"), (2, "被扶養者")])
def test_fhir_insurance_relationship_is_jp_core_s_insured_person_category_when_known(
    relationship: int, display: str
) -> None:
    coverage = resources(to_fhir(with_relationship(several(), relationship)))[1]
    assert coverage["relationship"] == {
        "coding": [{"system": "urn:oid:1.2.392.100495.20.2.62", "code": str(relationship), "display": display}]
    }
    assert "relationship" not in resources(to_fhir(several()))[1]  # not known: not sent


def test_json_and_xml_carry_the_relationship_additively(schema: xmlschema.XMLSchema) -> None:
    known = with_relationship(several(), 2)
    assert json.loads(render(known, "json")[0])["insurance"]["relationship"] == 2
    assert json.loads(render(several(), "json")[0])["insurance"]["relationship"] is None
    xml = to_xml(known).decode()
    schema.validate(xml)
    assert ET.fromstring(xml).find("e:insurance/e:relationship", NS).text == "2"  # type: ignore[union-attr]
    assert ET.fromstring(to_xml(several())).find("e:insurance/e:relationship", NS) is None
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(xml.replace("<relationship>2</relationship>", "<relationship>3</relationship>"))


def test_fhir_certificate_coverage_maps_status_period_payer_recipient_and_costs() -> None:
    by_order = {coverage["order"]: coverage for coverage in resources(to_fhir(several()))[2:5]}
    first, expired, open_ended = by_order[1], by_order[2], by_order[3]
    assert first["status"] == "active"
    assert first["subscriberId"] == "1000001"
    assert first["period"] == {"start": "2025-10-01", "end": "2026-09-30"}
    assert first["type"] == {"coding": [{"system": "urn:oid:1.2.392.100495.20.2.61", "code": "8", "display": "公費"}]}
    extensions = {extension["url"].rsplit(":", 1)[1]: extension for extension in first["extension"]}
    assert extensions["program"]["valueCoding"]["code"] == "nanbyo"
    assert extensions["monthly-cap"]["valueMoney"] == {"value": 10000, "currency": "JPY"}
    assert extensions["inpatient-cap"]["valueMoney"] == {"value": 20000, "currency": "JPY"}
    assert extensions["cap-used-this-month"]["valueMoney"]["value"] == 2500
    assert [cost["valueQuantity"]["value"] for cost in first["costToBeneficiary"]] == [20]
    assert {"url": "urn:pmh:fhir:StructureDefinition:always-reimbursement", "valueBoolean": True} in first["extension"]
    assert expired["status"] == "active" and expired["period"]["end"] == "2026-03-31"
    assert open_ended["period"] == {"start": "2025-10-01"}
    assert "costToBeneficiary" not in open_ended and "monthly-cap" not in str(open_ended["extension"])


def test_fhir_response_is_complete_validation_with_inforce_per_coverage() -> None:
    response = resources(to_fhir(several()))[-1]
    assert response["status"] == "active"
    assert response["purpose"] == ["validation"]
    assert response["outcome"] == "complete"
    assert response["servicedDate"] == "2026-05-15"
    assert response["created"] == "2026-05-15T00:30:05Z"
    assert response["insurer"]["display"]
    assert [item["inforce"] for item in response["insurance"]] == [True, True, False, True]


def test_fhir_not_yet_valid_certificate_is_active_but_not_in_force() -> None:
    sample = result([subsidy(1, status="not_yet_valid", valid_from=dt.date(2026, 6, 1))])
    bundle = to_fhir(sample)
    assert resources(bundle)[2]["status"] == "active"
    assert resources(bundle)[-1]["insurance"][1]["inforce"] is False


def test_fhir_ids_are_stable_per_reception_and_differ_between_receptions() -> None:
    assert to_fhir(several()) == to_fhir(several())
    other = several().model_copy(update={"reception_id": 43})
    assert to_fhir(other)["entry"][0]["fullUrl"] != to_fhir(several())["entry"][0]["fullUrl"]


# --- ORCA ---------------------------------------------------------------------------------------


def test_orca_items_have_exactly_orcas_keys_in_priority_order() -> None:
    orca = to_orca(several())
    items = orca["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert [list(item) for item in items] == [ORCA_KEYS] * 2
    # The certificate expired on the service date is not loaded into ORCA, but listed with its reason.
    assert [item["PublicInsurer_Number"] for item in items] == ["54016027", "88138243"]
    assert [item["PublicInsuredPerson_Number"] for item in items] == ["1000001", "1000003"]
    assert [(o["payer_number"], o["reason"]) for o in orca["pmh"]["omitted"]] == [
        ("51326023", "診療日には有効期間外です")
    ]


def test_orca_dates_are_iso_with_open_end_as_9999_12_31_and_check_date_the_service_date() -> None:
    items = to_orca(several())["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert [item["Certificate_IssuedDate"] for item in items] == ["2025-10-01"] * 2
    assert [item["Certificate_ExpiredDate"] for item in items] == ["2026-09-30", "9999-12-31"]
    assert {item["Certificate_CheckDate"] for item in items} == {"2026-05-15"}


def test_orca_takes_four_certificates_and_lists_the_rest_as_omitted() -> None:
    orca = to_orca(five())
    kept = orca["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert len(kept) == 4
    assert [item["PublicInsurer_Number"] for item in kept] == ["89131247", "88131248", "81137242", "81136244"]
    assert [(item["payer_number"], item["priority"]) for item in orca["pmh"]["omitted"]] == [("54016027", 5)]
    assert orca["pmh"]["omitted"][0]["recipient_number"] == "1000005"


@pytest.mark.parametrize(
    ("payer_number", "expected"),
    [
        ("10131142", "010"),  # ORCA's own patientmodv2 sample: 感３７の２
        ("51326023", "051"),  # orca-api fixture orca12_patientmodv32_01.json: 特定負有
        ("54016027", "054"),  # 難病 (ORCA sample 54220694 → 054)
        ("21136015", "021"),
        ("79136011", "079"),
        ("81136244", ""),  # 地方公費: ORCA fills the class from the number
        ("88138243", ""),
        ("12136012", "012"),
        ("0913", ""),
    ],
)
def test_orca_class_is_zero_plus_houbetsu_for_national_programs_and_blank_for_local(
    payer_number: str, expected: str
) -> None:
    assert orca_public_insurance_class(payer_number) == expected


def test_orca_is_a_patientmodv32_request_with_nothing_orca_does_not_define() -> None:
    orca = to_orca(several(), "00012")
    assert list(orca) == ["patientmodv3req2", "pmh"]
    request = orca["patientmodv3req2"]
    assert list(request) == ["Patient_Information", "PublicInsurance_Information"]
    assert request["Patient_Information"] == {"Patient_ID": "00012"}
    assert list(request["PublicInsurance_Information"]) == ["PublicInsurance_Info"]
    items = request["PublicInsurance_Information"]["PublicInsurance_Info"]
    assert {(item["PublicInsurance_Mode"], item["PublicInsurance_Id"]) for item in items} == {("New", "0")}
    assert "pmh" not in json.dumps(request)


def test_orca_without_a_linked_patient_has_an_empty_patient_id_and_caps_go_beside_the_request() -> None:
    orca = to_orca(result([subsidy(1)], insurance=False))
    assert orca["patientmodv3req2"]["Patient_Information"] == {"Patient_ID": ""}
    assert len(orca["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]) == 1
    [cap] = orca["pmh"]["caps"]
    assert (cap["payer_number"], cap["monthly_cap"], cap["cap_remaining_this_month"]) == ("54016027", 10000, 7500)


def test_orca_program_name_is_cut_to_orcas_twenty_characters() -> None:
    name = "新型インフルエンザ等感染症外出自粛対象者の医療"
    orca = to_orca(result([subsidy(1, "28136013", program_name=name)]))
    item = orca["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"][0]
    assert item["PublicInsurance_Name"] == name[:20]
    assert item["PublicInsurance_Class"] == "028"


# --- XML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [several(), five(), result([], insurance=False), result([])])
def test_xml_validates_against_the_published_schema(schema: xmlschema.XMLSchema, sample: EligibilityResult) -> None:
    schema.validate(to_xml(sample).decode())


def _expected_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _assert_mirrors(element: ET.Element, data: dict[str, Any]) -> None:
    """Every non-null JSON field is the element of the same name, in the same order; nulls are absent."""
    present = {key: value for key, value in data.items() if value is not None}
    assert [child.tag for child in element] == [f"{{{XML_NAMESPACE}}}{key}" for key in present]
    for child, (key, value) in zip(element, present.items(), strict=True):
        if key == "additional_conditions":
            assert {item.get("key"): item.text for item in child} == {k: _expected_text(v) for k, v in value.items()}
        elif isinstance(value, dict):
            _assert_mirrors(child, value)
        elif isinstance(value, list):
            items = list(child)
            assert len(items) == len(value)
            for item, entry in zip(items, value, strict=True):
                if isinstance(entry, dict):
                    _assert_mirrors(item, entry)
                else:
                    assert item.text == entry
        else:
            assert child.text == _expected_text(value)


def test_xml_mirrors_the_json_field_names_values_and_order() -> None:
    sample = several()
    root = ET.fromstring(to_xml(sample))
    assert root.tag == f"{{{XML_NAMESPACE}}}eligibility_result"
    _assert_mirrors(root, sample.model_dump(mode="json"))


def test_xml_leaves_out_nulls_and_writes_lists_as_repeated_elements() -> None:
    root = ET.fromstring(to_xml(several()))
    assert root.find("e:insurance/e:valid_to", NS) is None
    assert root.find("e:insurance/e:valid_from", NS) is not None
    subsidies = root.findall("e:subsidies/e:subsidy", NS)
    assert len(subsidies) == 3
    assert subsidies[0].find("e:valid_to", NS) is None
    assert subsidies[0].find("e:designated_institution", NS) is None
    assert [d.text for d in subsidies[1].findall("e:diseases/e:disease", NS)] == ["パーキンソン病"]
    conditions = subsidies[0].findall("e:additional_conditions/e:condition", NS)
    assert [(c.get("key"), c.text) for c in conditions] == [("01", "2"), ("02", "あり")]
    assert ET.fromstring(to_xml(result([], insurance=False))).find("e:insurance", NS) is None


def test_xml_is_utf8_with_a_declaration() -> None:
    body = to_xml(several())
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "札幌　花子".encode() in body


def _mutate_status(root: ET.Element) -> None:
    status = root.find("e:subsidies/e:subsidy/e:status", NS)
    assert status is not None
    status.text = "suspended"


def _drop_person(root: ET.Element) -> None:
    person = root.find("e:person", NS)
    assert person is not None
    root.remove(person)


def _slash_date(root: ET.Element) -> None:
    service_date = root.find("e:service_date", NS)
    assert service_date is not None
    service_date.text = "2026/05/15"


def _unknown_element(root: ET.Element) -> None:
    ET.SubElement(root, f"{{{XML_NAMESPACE}}}my_number").text = "123456789018"


def _swap_order(root: ET.Element) -> None:
    first, second = root[0], root[1]
    root.remove(first)
    root.insert(1, first)
    assert root[0] is second


def _condition_without_key(root: ET.Element) -> None:
    condition = root.find("e:subsidies/e:subsidy/e:additional_conditions/e:condition", NS)
    assert condition is not None
    del condition.attrib["key"]


def _text_in_a_cap(root: ET.Element) -> None:
    cap = root.find("e:subsidies/e:subsidy[2]/e:monthly_cap", NS)
    assert cap is not None
    cap.text = "1万円"


@pytest.mark.parametrize(
    "mutate",
    [_mutate_status, _drop_person, _slash_date, _unknown_element, _swap_order, _condition_without_key, _text_in_a_cap],
)
def test_xml_schema_refuses_a_broken_document(schema: xmlschema.XMLSchema, mutate: Any) -> None:
    root = ET.fromstring(to_xml(several()))
    schema.validate(ET.tostring(root, encoding="unicode"))  # the unmutated copy is valid
    mutate(root)
    assert not schema.is_valid(ET.tostring(root, encoding="unicode"))


# --- render -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("json", "application/json"),
        ("xml", "application/xml"),
        ("fhir", "application/fhir+json"),
        ("orca", "application/json"),
    ],
)
def test_render_gives_body_and_media_type(fmt: str, media_type: str) -> None:
    sample = several()
    body, rendered_type = render(sample, fmt)
    assert rendered_type == media_type
    if fmt == "json":
        assert EligibilityResult.model_validate_json(body) == sample
    elif fmt == "xml":
        assert body == to_xml(sample)
    elif fmt == "fhir":
        assert json.loads(body) == to_fhir(sample)
    else:
        assert json.loads(body) == to_orca(sample)


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="csv"):
        render(several(), "csv")


# --- properties ---------------------------------------------------------------------------------

xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "")
digits8 = st.from_regex(r"[0-9]{8}", fullmatch=True)
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
amounts = st.none() | st.integers(min_value=0, max_value=10_000_000)
subsidies = st.builds(
    SubsidyRead,
    program_code=st.sampled_from(["nanbyo", "kodomo", "seishin", "shoman"]),
    program_name=xml_text,
    payer_number=digits8,
    recipient_number=xml_text,
    municipality_code=st.from_regex(r"[0-9]{6}", fullmatch=True),
    municipality_name=xml_text,
    valid_from=dates,
    valid_to=st.none() | dates,
    status=st.sampled_from(["valid", "expired", "not_yet_valid"]),
    monthly_cap=amounts,
    inpatient_cap=amounts,
    copay_rate=st.none() | st.integers(min_value=0, max_value=30),
    income_category=st.none() | xml_text,
    cap_managed=st.booleans(),
    cap_used_this_month=amounts,
    cap_remaining_this_month=amounts,
    diseases=st.lists(xml_text, max_size=3),
    designated_institution=st.none() | st.booleans(),
    always_reimbursement=st.booleans(),
    additional_conditions=st.dictionaries(
        st.from_regex(r"[0-9]{2}", fullmatch=True), xml_text | st.integers() | st.booleans(), max_size=3
    ),
    priority=st.integers(min_value=1, max_value=9),
    suggested_copay=amounts,
    certification_name=st.none() | xml_text,
)
results = st.builds(
    EligibilityResult,
    reception_id=st.integers(min_value=1, max_value=2**40),
    institution_code=st.from_regex(r"[0-9]{10}", fullmatch=True),
    received_at=st.datetimes(min_value=dt.datetime(2000, 1, 1), timezones=st.just(dt.UTC)),
    service_date=dates,
    person=st.builds(PersonRead, name=xml_text, name_kana=xml_text, birth_date=dates, sex=st.sampled_from([1, 2])),
    insurance=st.none()
    | st.builds(
        InsuranceRead,
        insurer_number=digits8 | st.from_regex(r"[0-9]{6}", fullmatch=True),
        symbol=xml_text,
        number=xml_text,
        branch=st.none() | st.from_regex(r"[0-9]{2}", fullmatch=True),
        copay_rate=st.none() | st.sampled_from([10, 20, 30]),
        valid_from=st.none() | dates,
        valid_to=st.none() | dates,
        relationship=st.none() | st.sampled_from([1, 2]),
    ),
    subsidies=st.lists(subsidies, max_size=6),
)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(results)
def test_any_result_gives_a_valid_fhir_bundle_with_one_coverage_each(sample: EligibilityResult) -> None:
    bundle = to_fhir(sample)
    assert Bundle.model_validate(bundle).model_dump(mode="json") == bundle
    kinds = [resource["resourceType"] for resource in resources(bundle)]
    expected_coverages = len(sample.subsidies) + (sample.insurance is not None)
    payors = {s.payer_number for s in sample.subsidies} | ({"insurer"} if sample.insurance else set())
    assert kinds == [
        "Patient",
        *["Coverage"] * expected_coverages,
        *["Organization"] * len(payors),
        "CoverageEligibilityResponse",
    ]


@PROPERTY_SETTINGS
@given(results)
def test_any_result_gives_xml_the_schema_accepts(schema: xmlschema.XMLSchema, sample: EligibilityResult) -> None:
    schema.validate(to_xml(sample).decode())


@PROPERTY_SETTINGS
@given(results)
def test_orca_never_loses_a_certificate(sample: EligibilityResult) -> None:
    orca = to_orca(sample)
    kept = [
        item["PublicInsurer_Number"]
        for item in orca["patientmodv3req2"]["PublicInsurance_Information"]["PublicInsurance_Info"]
    ]
    omitted = [item["payer_number"] for item in orca["pmh"]["omitted"]]
    current = [s for s in sorted(sample.subsidies, key=lambda s: s.priority) if s.status != "expired"]
    assert kept == [s.payer_number for s in current[:4]]
    assert sorted(kept + omitted) == sorted(s.payer_number for s in sample.subsidies)

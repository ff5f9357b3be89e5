"""format=fhir against what Japanese FHIR consumers check: JP Core JP_Coverage, the 電子処方箋 /
診療情報提供書 publicPayment Coverage rules, and the official R4 JSON schema (validated with
``jsonschema``, not ``fhir.resources``).

Each rule is a function returning its violations; each test shows the rule holds for pmh's Bundles
and fails for a Bundle broken in exactly that way.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings

from pmh.eligibility.formats import (
    JP_COVERAGE_PROFILE,
    JP_INSURANCE_MEMBER_ID,
    OID_INSURANCE_CATEGORY,
    OID_INSURER_NUMBER,
    OID_PAYER_NUMBER,
    OID_RELATIONSHIP,
    PMH_EXTENSIONS,
    extension_definition,
    to_fhir,
)
from pmh.eligibility.schemas import EligibilityResult
from tests.eligibility.test_formats import (
    PROPERTY_SETTINGS,
    five,
    result,
    results,
    several,
    subsidy,
    with_relationship,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "tests" / "data" / "fhir-r4.schema.json.gz"
DOCS_FHIR = ROOT / "docs" / "fhir"
JP_CORE_EXTENSIONS = {
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol",
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber",
    "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber",
}

OTHER_SPACE = re.compile(r"[^\S \r\n\t]")
Bundle = dict[str, Any]
Rule = Callable[[Bundle], list[str]]


R4_SCHEMA: dict[str, Any] = json.loads(gzip.decompress(SCHEMA_PATH.read_bytes()))
# The file is the 4.0.0 build of the schema; R4's technical correction 4.0.1 (which JP Core and pmh's
# StructureDefinitions name) adds its own number to the FHIRVersion codes and nothing else used here.
R4_SCHEMA["definitions"]["StructureDefinition"]["properties"]["fhirVersion"]["enum"].append("4.0.1")
R4_VALIDATOR = jsonschema.Draft6Validator(R4_SCHEMA)


def r4_resource_errors(bundle: Bundle) -> list[str]:
    """Validate each entry's resource against its own definition of the same schema (what the
    top-level oneOf does, without trying all 146 resource types: fast enough for property tests)."""
    errors = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        ref = {"$ref": f"#/definitions/{resource['resourceType']}", "definitions": R4_SCHEMA["definitions"]}
        errors += [error.message for error in jsonschema.Draft6Validator(ref).iter_errors(resource)]
    shell = {"$ref": "#/definitions/Bundle", "definitions": R4_SCHEMA["definitions"]}
    empty = dict(bundle, entry=[{key: value for key, value in e.items() if key != "resource"} for e in bundle["entry"]])
    errors += [error.message for error in jsonschema.Draft6Validator(shell).iter_errors(empty)]
    return errors


@pytest.fixture(scope="module")
def r4() -> jsonschema.protocols.Validator:
    assert R4_SCHEMA["id"] == "http://hl7.org/fhir/json-schema/4.0"
    return R4_VALIDATOR


def samples() -> list[EligibilityResult]:
    expired = subsidy(2, "51326023", status="expired")
    dependant = with_relationship(result([subsidy(1)]), 2)
    return [several(), five(), result([], insurance=False), result([subsidy(1), expired]), dependant]


def by_url(bundle: Bundle) -> dict[str, dict[str, Any]]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def coverages(bundle: Bundle, public: bool) -> list[dict[str, Any]]:
    found = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Coverage":
            is_public = resource["type"]["coding"][0]["code"] == "8"
            if is_public == public:
                found.append(resource)
    return found


# --- the rules -------------------------------------------------------------------------------------


def public_type_is_one_coding_8_without_text(bundle: Bundle) -> list[str]:
    expected = {"coding": [{"system": OID_INSURANCE_CATEGORY, "code": "8", "display": "公費"}]}
    return [f"type {c['type']}" for c in coverages(bundle, True) if c["type"] != expected]


def public_status_is_active_and_validity_is_period(bundle: Bundle) -> list[str]:
    return [
        f"status {c['status']} period {c.get('period')}"
        for c in coverages(bundle, True)
        if c["status"] != "active" or "start" not in c.get("period", {})
    ]


def public_subscriber_id_is_the_recipient_number(bundle: Bundle) -> list[str]:
    return [
        f"subscriberId {c.get('subscriberId')}"
        for c in coverages(bundle, True)
        if not 1 <= len(str(c.get("subscriberId", ""))) <= 30
    ]


def public_payor_is_an_organization_with_the_payer_number(bundle: Bundle) -> list[str]:
    resources = by_url(bundle)
    problems = []
    for coverage in coverages(bundle, True):
        [payor] = coverage["payor"]
        organization = resources.get(payor.get("reference", ""), {})
        identifiers = organization.get("identifier", [])
        if organization.get("resourceType") != "Organization" or [i["system"] for i in identifiers] != [
            OID_PAYER_NUMBER
        ]:
            problems.append(f"payor {payor}")
        elif len(identifiers[0]["value"]) != 8 or not identifiers[0]["value"].isdigit():
            problems.append(f"payer number {identifiers[0]['value']}")
    return problems


def cost_to_beneficiary_is_only_copaypct(bundle: Bundle) -> list[str]:
    problems = []
    for coverage in [*coverages(bundle, True), *coverages(bundle, False)]:
        for cost in coverage.get("costToBeneficiary", []):
            coding = cost["type"].get("coding", [])
            if (
                len(coding) != 1
                or coding[0].get("code") != "copaypct"
                or coding[0].get("system") != "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
                or coding[0].get("display") != "負担率"
                or "text" in cost["type"]
                or "valueQuantity" not in cost
            ):
                problems.append(f"cost {cost}")
    return problems


def extensions_are_jp_core_or_published_pmh_ones(bundle: Bundle) -> list[str]:
    published = {}
    for path in DOCS_FHIR.glob("StructureDefinition-*.json"):
        definition = json.loads(path.read_text(encoding="utf-8"))
        published[definition["url"]] = definition["differential"]["element"][-1]["type"][0]["code"]
    problems = []
    for coverage in [*coverages(bundle, True), *coverages(bundle, False)]:
        for extension in coverage.get("extension", []):
            url = extension["url"]
            values = [key for key in extension if key.startswith("value")]
            if url in JP_CORE_EXTENSIONS:
                ok = values == ["valueString"]
            else:
                value_type = published.get(url)
                ok = value_type is not None and values == [f"value{value_type[0].upper()}{value_type[1:]}"]
            if not ok:
                problems.append(f"extension {extension}")
    return problems


def every_coverage_declares_only_jp_coverage(bundle: Bundle) -> list[str]:
    return [
        f"meta {c.get('meta')}"
        for c in [*coverages(bundle, True), *coverages(bundle, False)]
        if c.get("meta") != {"profile": [JP_COVERAGE_PROFILE]}
    ]


def jp_core_mandatory_status_beneficiary_payor(bundle: Bundle) -> list[str]:
    resources = by_url(bundle)
    problems = []
    for coverage in [*coverages(bundle, True), *coverages(bundle, False)]:
        patient = resources.get(coverage.get("beneficiary", {}).get("reference", ""), {})
        if not coverage.get("status") or patient.get("resourceType") != "Patient" or not coverage.get("payor"):
            problems.append("status/beneficiary/payor")
    return problems


def insurance_payor_is_the_insurer_organization(bundle: Bundle) -> list[str]:
    resources = by_url(bundle)
    problems = []
    for coverage in coverages(bundle, False):
        organization = resources.get(coverage["payor"][0].get("reference", ""), {})
        if [i["system"] for i in organization.get("identifier", [])] != [OID_INSURER_NUMBER]:
            problems.append(f"insurer {organization}")
    return problems


def insurance_symbol_and_number_in_subscriber_id_branch_in_dependent(bundle: Bundle) -> list[str]:
    problems = []
    for coverage in coverages(bundle, False):
        values = {e["url"].rsplit("_", 1)[1]: e["valueString"] for e in coverage.get("extension", [])}
        expected = f"{values.get('InsuredPersonSymbol', '')}:{values.get('InsuredPersonNumber', '')}"
        if coverage.get("subscriberId") != expected or coverage.get("dependent") != values.get(
            "InsuredPersonSubNumber"
        ):
            problems.append(f"subscriberId {coverage.get('subscriberId')} dependent {coverage.get('dependent')}")
    return problems


def insurance_has_the_member_id_identifier(bundle: Bundle) -> list[str]:
    resources = by_url(bundle)
    problems = []
    for coverage in coverages(bundle, False):
        insurer = resources[coverage["payor"][0]["reference"]]["identifier"][0]["value"]
        values = {e["url"].rsplit("_", 1)[1]: e["valueString"] for e in coverage.get("extension", [])}
        parts = (
            insurer.rjust(8, "0"),
            values.get("InsuredPersonSymbol", ""),
            values.get("InsuredPersonNumber", ""),
            values.get("InsuredPersonSubNumber", ""),
        )
        if coverage.get("identifier") != [{"system": JP_INSURANCE_MEMBER_ID, "value": ":".join(parts)}]:
            problems.append(f"identifier {coverage.get('identifier')}")
    return problems


def insurance_type_is_one_category_coding(bundle: Bundle) -> list[str]:
    return [
        f"type {c['type']}"
        for c in coverages(bundle, False)
        if len(c["type"]["coding"]) != 1
        or c["type"]["coding"][0]["system"] != OID_INSURANCE_CATEGORY
        or c["type"]["coding"][0]["code"] not in {"1", "2", "7"}
        or "text" in c["type"]
    ]


def insurance_relationship_is_the_insured_person_category(bundle: Bundle) -> list[str]:
    """JP Core JP_Coverage: relationship from 被保険者区分コード (urn:oid:1.2.392.100495.20.2.62), 1 被保険者,
    2 被扶養者 — one coding, no text; absent when not known (the element is 0..1 and optional)."""
    displays = {"1": "被保険者", "2": "被扶養者"}
    problems = []
    for coverage in coverages(bundle, False):
        if "relationship" not in coverage:
            continue
        relationship = coverage["relationship"]
        coding = relationship.get("coding", [])
        if (
            set(relationship) != {"coding"}
            or len(coding) != 1
            or coding[0].get("system") != OID_RELATIONSHIP
            or displays.get(coding[0].get("code", "")) != coding[0].get("display")
        ):
            problems.append(f"relationship {relationship}")
    for coverage in coverages(bundle, True):  # 公費 Coverages carry no 被保険者区分
        if "relationship" in coverage:
            problems.append(f"public relationship {coverage['relationship']}")
    return problems


# --- each rule holds, and each can fail --------------------------------------------------------------


def _public(bundle: Bundle) -> dict[str, Any]:
    return coverages(bundle, True)[0]


def _insurance(bundle: Bundle) -> dict[str, Any]:
    return coverages(bundle, False)[0]


def _payer(bundle: Bundle) -> dict[str, Any]:
    return by_url(bundle)[_public(bundle)["payor"][0]["reference"]]


BREAKS: list[tuple[Rule, Callable[[Bundle], None]]] = [
    (
        public_type_is_one_coding_8_without_text,
        lambda b: _public(b)["type"].update(text="特定医療費"),
    ),
    (public_status_is_active_and_validity_is_period, lambda b: _public(b).update(status="cancelled")),
    (public_subscriber_id_is_the_recipient_number, lambda b: _public(b).update(subscriberId="54016027:1000001:x" * 2)),
    (
        public_payor_is_an_organization_with_the_payer_number,
        lambda b: _payer(b)["identifier"][0].update(system=OID_INSURER_NUMBER),
    ),
    (
        cost_to_beneficiary_is_only_copaypct,
        lambda b: _public(b)["costToBeneficiary"].append(
            {
                "type": {"coding": [{"system": "urn:pmh", "code": "monthly-cap"}]},
                "valueMoney": {"value": 1, "currency": "JPY"},
            }
        ),
    ),
    (
        extensions_are_jp_core_or_published_pmh_ones,
        lambda b: _public(b)["extension"].append({"url": "urn:pmh:fhir:StructureDefinition:nope", "valueString": "x"}),
    ),
    (every_coverage_declares_only_jp_coverage, lambda b: _public(b).pop("meta")),
    (jp_core_mandatory_status_beneficiary_payor, lambda b: _public(b).update(payor=[])),
    (insurance_payor_is_the_insurer_organization, lambda b: _insurance(b).update(payor=_public(b)["payor"])),
    (
        insurance_symbol_and_number_in_subscriber_id_branch_in_dependent,
        lambda b: _insurance(b).update(subscriberId="12345:６７８:01"),
    ),
    (insurance_has_the_member_id_identifier, lambda b: _insurance(b).pop("identifier")),
    (
        insurance_type_is_one_category_coding,
        lambda b: _insurance(b)["type"]["coding"].append({"system": "urn:pmh", "code": "x"}),
    ),
    (
        insurance_relationship_is_the_insured_person_category,
        lambda b: _insurance(b).update(
            relationship={
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]
            }
        ),
    ),
]
RULES = [rule for rule, _ in BREAKS]


@pytest.mark.parametrize(("rule", "breaks"), BREAKS, ids=[rule.__name__ for rule, _ in BREAKS])
def test_the_rule_holds_for_every_bundle_and_fails_for_one_broken_that_way(
    rule: Rule, breaks: Callable[[Bundle], None]
) -> None:
    for sample in samples():
        assert rule(to_fhir(sample)) == [], sample
    broken = copy.deepcopy(to_fhir(several()))
    breaks(broken)
    assert rule(broken) != []


def test_an_expired_certificate_stays_active_with_its_period_and_is_not_in_force() -> None:
    bundle = to_fhir(result([subsidy(1, status="expired")], insurance=False))
    [coverage] = coverages(bundle, True)
    assert coverage["status"] == "active" and coverage["period"]["end"] == "2026-09-30"
    assert bundle["entry"][-1]["resource"]["insurance"][0]["inforce"] is False


def test_one_organization_per_payer_even_when_two_certificates_share_it() -> None:
    bundle = to_fhir(result([subsidy(1, "54016027"), subsidy(2, "54016027", recipient_number="2000003")]))
    organizations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"]
    assert sorted(o["identifier"][0]["value"] for o in organizations) == ["01040013", "54016027"]


# --- the official R4 JSON schema ---------------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(samples())))
def test_the_bundle_is_valid_against_the_official_r4_json_schema(
    r4: jsonschema.protocols.Validator, index: int
) -> None:
    errors = [error.message for error in r4.iter_errors(to_fhir(samples()[index]))]
    assert errors == []


def test_the_r4_schema_refuses_a_broken_bundle(r4: jsonschema.protocols.Validator) -> None:
    assert r4.is_valid(to_fhir(several()))
    unknown_member = to_fhir(several())
    _public(unknown_member)["subscriber_id"] = "1000001"
    assert not r4.is_valid(unknown_member)
    wrong_type = to_fhir(several())
    _public(wrong_type)["order"] = "1"
    assert not r4.is_valid(wrong_type)
    assert (
        r4_resource_errors(unknown_member)
        and r4_resource_errors(wrong_type)
        and not r4_resource_errors(to_fhir(several()))
    )


@settings(PROPERTY_SETTINGS, max_examples=25)
@given(results)
def test_any_result_meets_every_rule_and_the_r4_schema(sample: EligibilityResult) -> None:
    bundle = to_fhir(sample)
    assert [problem for rule in RULES for problem in rule(bundle)] == []
    assert r4_resource_errors(bundle) == []
    for coverage in coverages(bundle, True):
        # FHIR strings carry other whitespace (U+00A0 …) as a space; real recipient numbers have none
        match = [s for s in sample.subsidies if coverage["subscriberId"] == OTHER_SPACE.sub(" ", s.recipient_number)]
        assert match, coverage["subscriberId"]


def test_the_published_structure_definitions_are_the_ones_pmh_uses_and_valid_r4(
    r4: jsonschema.protocols.Validator,
) -> None:
    published = {path.name for path in DOCS_FHIR.glob("StructureDefinition-*.json")}
    assert published == {f"StructureDefinition-pmh-{name}.json" for name in PMH_EXTENSIONS}
    for extension in PMH_EXTENSIONS.values():
        path = DOCS_FHIR / f"StructureDefinition-pmh-{extension.name}.json"
        definition = json.loads(path.read_text(encoding="utf-8"))
        assert definition == extension_definition(extension)
        assert [error.message for error in r4.iter_errors(definition)] == []

"""The eligibility result's output formats: json, xml, fhir and orca (docs/eligibility.md, docs/eligibility-formats.md).

Pure functions of an :class:`EligibilityResult`: no database, no clock, no randomness, so the same
reception always renders to the same bytes (the FHIR ids are name-based UUIDs of the reception).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from pmh.codes.charsets import derive_name_forms, receiver_name
from pmh.eligibility.schemas import EligibilityResult, InsuranceRead, SubsidyRead

XML_NAMESPACE = "urn:pmh:eligibility:1"
"""Target namespace of ``docs/eligibility.xsd``; a breaking change to the XML gets a new number."""

ORCA_MAX_PUBLIC_INSURANCES = 4
"""ORCA's patient API takes at most four 公費 per insurance (公費情報（繰り返し 4）)."""

ORCA_OPEN_END = "9999-12-31"
"""How ORCA writes an open-ended 終了年月日 (it stores 99999999)."""

ORCA_NAME_LENGTH = 20
"""ORCA's 公費の制度名称 holds 20 characters."""

MEDIA_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "fhir": "application/fhir+json",
    "orca": "application/json",
}

# Identifier and code systems. The urn:oid ones are the MHLW/JAHIS OIDs that JP Core and the
# 電子処方箋 FHIR profiles use; the urn:pmh ones are pmh's own, listed in docs/eligibility-formats.md.
OID_INSURER_NUMBER = "urn:oid:1.2.392.100495.20.3.61"  # 保険者番号
OID_PAYER_NUMBER = "urn:oid:1.2.392.100495.20.3.71"  # 公費負担者番号
OID_INSURANCE_CATEGORY = "urn:oid:1.2.392.100495.20.2.61"  # 保険種別コード (1 医保, 2 国保, 7 後期高齢者, 8 公費)
PMH_PROGRAM_SYSTEM = "urn:pmh:fhir:program"  # pmh's program code (programs.csv)
PMH_RECEPTION_SYSTEM = "urn:pmh:reception"
PMH_INSTITUTION_SYSTEM = "urn:pmh:institution"  # 医療機関コード (10 digits)
PMH_EXTENSION_BASE = "urn:pmh:fhir:StructureDefinition:"
PMH_NAME_JISX0213 = PMH_EXTENSION_BASE + "name-jisx0213"  # the kanji name's JIS X 0213 form
HL7_COPAY_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
HL7_NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
JP_CORE_EXTENSION_BASE = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"

_FHIR_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:pmh:eligibility:fhir")
_NAME_SEPARATOR = re.compile(r"[ \u3000]+")
_OTHER_SPACE = re.compile(r"[^\S \r\n\t]")
_XML_LIST_ITEMS = {"subsidies": "subsidy", "diseases": "disease"}


def render(result: EligibilityResult, fmt: str, patient_number: str | None = None) -> tuple[bytes, str]:
    """Return the result in one of the formats ``json``, ``xml``, ``fhir``, ``orca`` and its media type.

    ``patient_number`` is the institution's 患者番号 linked to the reception (ORCA's ``Patient_ID``).
    """
    if fmt == "json":
        body = result.model_dump_json().encode()
    elif fmt == "xml":
        body = to_xml(result)
    elif fmt == "fhir":
        body = _json_bytes(to_fhir(result))
    elif fmt == "orca":
        body = _json_bytes(to_orca(result, patient_number))
    else:
        raise ValueError(f"unknown eligibility format: {fmt!r} (json, xml, fhir, orca)")
    return body, MEDIA_TYPES[fmt]


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


# --- FHIR R4 (built and validated with fhir.resources' R4B models) ---------------------------------

JP_COVERAGE_PROFILE = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Coverage"
"""JP Core's Coverage profile, which every Coverage of the Bundle meets (and declares in meta.profile)."""

JP_INSURANCE_MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"
"""JP Core's 被保険者個人識別子 identifier system (保険者番号:記号:番号:枝番)."""

OID_RELATIONSHIP = "urn:oid:1.2.392.100495.20.2.62"
"""JP Core's 被保険者区分コード (NamingSystem JP_InsuredPersonCategory; also named
http://jpfhir.jp/fhir/core/mhlw/CodeSystem/InsuredPersonCategory): 1 被保険者, 2 被扶養者."""

RELATIONSHIP_DISPLAYS = {1: "被保険者", 2: "被扶養者"}


@dataclass(frozen=True)
class PmhExtension:
    """One of pmh's own Coverage extensions: canonical URL, value type, and what it says."""

    name: str
    value_type: str  # FHIR type of value[x]: Coding, Money, boolean, string
    title: str
    description: str

    @property
    def url(self) -> str:
        return PMH_EXTENSION_BASE + self.name


PMH_EXTENSIONS: dict[str, PmhExtension] = {
    e.name: e
    for e in (
        PmhExtension("program", "Coding", "医療費助成の制度", "The subsidy program (pmh program code and name)."),
        PmhExtension(
            "certification-name", "string", "受給者証の名称", "The certificate's name as printed (受給者証名)."
        ),
        PmhExtension("monthly-cap", "Money", "自己負担上限額（月額）", "Monthly self-pay cap in JPY."),
        PmhExtension(
            "inpatient-cap", "Money", "入院の自己負担上限額（月額）", "Monthly self-pay cap for inpatient care."
        ),
        PmhExtension(
            "cap-managed", "boolean", "上限額管理の対象", "Whether the monthly cap is managed across institutions."
        ),
        PmhExtension(
            "cap-used-this-month", "Money", "診療月の自己負担累積額", "Self-pay already recorded in the service month."
        ),
        PmhExtension(
            "cap-remaining-this-month", "Money", "診療月の上限額までの残り", "What remains under the cap this month."
        ),
        PmhExtension("always-reimbursement", "boolean", "常に償還払い", "The patient always pays and is reimbursed."),
        PmhExtension(
            "designated-institution",
            "boolean",
            "指定医療機関か",
            "Whether the reading institution is a designated institution of the program.",
        ),
    )
}
"""pmh's extensions on 公費 Coverages; docs/fhir/ holds a StructureDefinition for each (same canonical URL)."""


def extension_definition(extension: PmhExtension) -> dict[str, Any]:
    """Return the StructureDefinition of one pmh extension (published in docs/fhir/)."""
    return {
        "resourceType": "StructureDefinition",
        "id": f"pmh-{extension.name}",
        "url": extension.url,
        "version": "1",
        "name": "Pmh" + "".join(part.capitalize() for part in extension.name.split("-")),
        "title": extension.title,
        "status": "active",
        "description": extension.description,
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": "Coverage"}],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Extension", "path": "Extension", "short": extension.title, "max": "1"},
                {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": extension.url},
                {
                    "id": "Extension.value[x]",
                    "path": "Extension.value[x]",
                    "min": 1,
                    "type": [{"code": extension.value_type}],
                },
            ]
        },
    }


def to_fhir(result: EligibilityResult) -> dict[str, Any]:
    """Return a FHIR R4 ``collection`` Bundle: Patient, the insurance Coverage, one Coverage per certificate
    (priority order), the Organizations they are paid by (保険者, 公費負担者), and the response.

    Every Coverage meets JP Core's JP_Coverage and declares it. Built with ``fhir.resources.R4B`` (FHIR
    4.3): the resources and elements used here are unchanged between R4 and R4B, and the tests validate
    the JSON against the official R4 JSON schema too.
    """
    patient_url = _urn(result, "patient")
    entries: list[dict[str, Any]] = [{"fullUrl": patient_url, "resource": _fhir_patient(result)}]
    organizations: dict[str, dict[str, Any]] = {}
    inforce: list[tuple[str, bool]] = []
    if result.insurance is not None:
        url = _urn(result, "insurance")
        insurer_url = _urn(result, f"insurer/{result.insurance.insurer_number}")
        organizations[insurer_url] = _fhir_organization(OID_INSURER_NUMBER, result.insurance.insurer_number, None)
        coverage, in_force = _fhir_insurance_coverage(result.insurance, result.service_date, patient_url, insurer_url)
        entries.append({"fullUrl": url, "resource": coverage})
        inforce.append((url, in_force))
    for subsidy in _by_priority(result.subsidies):
        url = _urn(result, f"subsidy/{subsidy.payer_number}/{subsidy.recipient_number}")
        payer_url = _urn(result, f"payer/{subsidy.payer_number}")
        organizations[payer_url] = _fhir_organization(OID_PAYER_NUMBER, subsidy.payer_number, subsidy.municipality_name)
        entries.append({"fullUrl": url, "resource": _fhir_subsidy_coverage(subsidy, patient_url, payer_url)})
        inforce.append((url, subsidy.status == "valid"))
    entries += [{"fullUrl": url, "resource": organization} for url, organization in organizations.items()]
    entries.append({"fullUrl": _urn(result, "response"), "resource": _fhir_response(result, patient_url, inforce)})
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(_FHIR_ID_NAMESPACE, f"{result.institution_code}/{result.reception_id}/bundle")),
            "type": "collection",
            "timestamp": _aware(result.received_at).isoformat(),
            "entry": _prune(entries),
        }
    )
    return bundle.model_dump(mode="json")


def _prune(value: Any) -> Any:
    """Drop empty strings, lists and objects: FHIR forbids them (an empty 記号 or 枝番 is simply absent).

    Whitespace other than space, tab, CR and LF (U+3000, U+00A0 …) becomes a space: the R4 string
    pattern ``[ \\r\\n\\t\\S]+`` refuses it under Unicode regular expressions.
    """
    if isinstance(value, str):
        return _OTHER_SPACE.sub(" ", value)
    if isinstance(value, dict):
        pruned = {key: _prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in ("", [], {})}
    if isinstance(value, list):
        return [item for item in (_prune(element) for element in value) if item not in ("", [], {})]
    return value


def _urn(result: EligibilityResult, part: str) -> str:
    name = f"{result.institution_code}/{result.reception_id}/{part}"
    return f"urn:uuid:{uuid.uuid5(_FHIR_ID_NAMESPACE, name)}"


def _aware(moment: dt.datetime) -> dt.datetime:
    # FHIR requires a zone on a dateTime with a time; pmh stores aware UTC, a naive value is UTC too.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _by_priority(subsidies: list[SubsidyRead]) -> list[SubsidyRead]:
    return sorted(subsidies, key=lambda s: s.priority)


def _fhir_name(text: str, representation: str) -> dict[str, Any]:
    """A JP Core HumanName: IDE for the kanji name, SYL for the kana name; family and given when spaced."""
    parts = _NAME_SEPARATOR.split(text.strip())
    # The R4 JSON schema's string pattern ([ \r\n\t\S]+, read with Unicode \S) refuses U+3000, so the
    # ideographic space between family and given name is written as an ASCII space.
    name: dict[str, Any] = {
        "extension": [{"url": HL7_NAME_REPRESENTATION, "valueCode": representation}],
        "use": "official",
        "text": " ".join(part for part in parts if part) or text,
    }
    if len(parts) >= 2 and all(parts):
        name["family"] = parts[0]
        name["given"] = parts[1:]
    return name


def _fhir_kanji_name(name: str) -> dict[str, Any]:
    """The IDE HumanName: the name of record, with its JIS X 0213 form as an extension when it differs."""
    human = _fhir_name(receiver_name(name, "fhir"), "IDE")
    jisx0213 = derive_name_forms(name).jisx0213
    if jisx0213 != human["text"]:
        human["extension"].append({"url": PMH_NAME_JISX0213, "valueString": jisx0213})
    return human


def _orca_name(name: str) -> dict[str, Any]:
    """``pmh_name``: the name of record and its JIS X 0213 form, when its JIS X 0208 form differs.

    The patientmodv32 request names the patient by ``Patient_ID`` only; a bridge that registers a
    new patient in ORCA (JIS X 0208 on an EUC-JP database) takes the JIS X 0208 form from here.
    """
    forms = derive_name_forms(name)
    if forms.jisx0208 == name:
        return {}
    return {"pmh_name": {"original": name, "jisx0213": forms.jisx0213, "unmapped": forms.unmapped}}


def _fhir_patient(result: EligibilityResult) -> dict[str, Any]:
    person = result.person
    return {
        "resourceType": "Patient",
        "name": [_fhir_kanji_name(person.name), _fhir_name(person.name_kana, "SYL")],
        "gender": {1: "male", 2: "female"}.get(person.sex, "unknown"),
        "birthDate": person.birth_date.isoformat(),
    }


def _fhir_organization(system: str, number: str, name: str | None) -> dict[str, Any]:
    """The 保険者 (urn:oid:…20.3.61) or 公費負担者 (urn:oid:…20.3.71) a Coverage's payor points at."""
    organization: dict[str, Any] = {
        "resourceType": "Organization",
        "identifier": [{"system": system, "value": number}],
    }
    if name:
        organization["name"] = name
    return organization


def _period(start: dt.date | None, end: dt.date | None) -> dict[str, str]:
    period = {}
    if start is not None:
        period["start"] = start.isoformat()
    if end is not None:
        period["end"] = end.isoformat()
    return period


def _insurance_category(insurer_number: str) -> tuple[str, str]:
    """保険種別 from the 保険者番号: 6 digits or 67 (退職者) is 国保, 39 is 後期高齢者, the rest 医保."""
    if len(insurer_number) == 6 or insurer_number.startswith("67"):
        return "2", "国保"
    if len(insurer_number) == 8 and insurer_number.startswith("39"):
        return "7", "後期高齢者"
    return "1", "医保"


def _copay_rate(rate: int) -> dict[str, Any]:
    """The one costToBeneficiary JP Core and the 電子処方箋 profiles define: copaypct, 負担率."""
    return {
        "type": {"coding": [{"system": HL7_COPAY_TYPE_SYSTEM, "code": "copaypct", "display": "負担率"}]},
        "valueQuantity": {"value": rate, "unit": "%", "system": UCUM, "code": "%"},
    }


def insurance_member_id(insurance: InsuranceRead) -> str:
    """JP Core's 被保険者個人識別子: 保険者番号 (8 digits, zero-padded):記号:番号:枝番, empty parts kept."""
    parts = (insurance.insurer_number.rjust(8, "0"), insurance.symbol, insurance.number, insurance.branch or "")
    return ":".join(parts)


def _fhir_insurance_coverage(
    insurance: InsuranceRead, service_date: dt.date, patient_url: str, insurer_url: str
) -> tuple[dict[str, Any], bool]:
    in_force = (insurance.valid_from is None or insurance.valid_from <= service_date) and (
        insurance.valid_to is None or service_date <= insurance.valid_to
    )
    code, display = _insurance_category(insurance.insurer_number)
    extension = [
        {"url": JP_CORE_EXTENSION_BASE + "JP_Coverage_InsuredPersonSymbol", "valueString": insurance.symbol},
        {"url": JP_CORE_EXTENSION_BASE + "JP_Coverage_InsuredPersonNumber", "valueString": insurance.number},
    ]
    if insurance.branch:
        extension.append(
            {"url": JP_CORE_EXTENSION_BASE + "JP_Coverage_InsuredPersonSubNumber", "valueString": insurance.branch}
        )
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "meta": {"profile": [JP_COVERAGE_PROFILE]},
        "extension": extension,
        "identifier": [{"system": JP_INSURANCE_MEMBER_ID, "value": insurance_member_id(insurance)}],
        # The profiles take status as the resource's state, not the card's validity: that is period,
        # and whether it covers the service date is CoverageEligibilityResponse.insurance.inforce.
        "status": "active",
        "type": {"coding": [{"system": OID_INSURANCE_CATEGORY, "code": code, "display": display}]},
        "subscriberId": f"{insurance.symbol}:{insurance.number}",
        "beneficiary": {"reference": patient_url},
        "dependent": insurance.branch or "",
        "payor": [{"reference": insurer_url}],
    }
    period = _period(insurance.valid_from, insurance.valid_to)
    if period:
        coverage["period"] = period
    if insurance.relationship is not None:  # sent only when the record says which
        coding = {
            "system": OID_RELATIONSHIP,
            "code": str(insurance.relationship),
            "display": RELATIONSHIP_DISPLAYS[insurance.relationship],
        }
        coverage["relationship"] = {"coding": [coding]}
    if insurance.copay_rate is not None:
        coverage["costToBeneficiary"] = [_copay_rate(insurance.copay_rate)]
    return coverage, in_force


def _extension(name: str, value: Any) -> dict[str, Any]:
    extension = PMH_EXTENSIONS[name]
    key = f"value{extension.value_type[0].upper()}{extension.value_type[1:]}"
    if extension.value_type == "Money":
        value = {"value": value, "currency": "JPY"}
    return {"url": extension.url, key: value}


def _fhir_subsidy_coverage(subsidy: SubsidyRead, patient_url: str, payer_url: str) -> dict[str, Any]:
    program = {"system": PMH_PROGRAM_SYSTEM, "code": subsidy.program_code, "display": subsidy.program_name}
    extension: list[dict[str, Any]] = [_extension("program", program)]
    if subsidy.certification_name:
        extension.append(_extension("certification-name", subsidy.certification_name))
    if subsidy.monthly_cap is not None:
        extension.append(_extension("monthly-cap", subsidy.monthly_cap))
    if subsidy.inpatient_cap is not None:
        extension.append(_extension("inpatient-cap", subsidy.inpatient_cap))
    extension.append(_extension("cap-managed", subsidy.cap_managed))
    if subsidy.cap_used_this_month is not None:
        extension.append(_extension("cap-used-this-month", subsidy.cap_used_this_month))
    if subsidy.cap_remaining_this_month is not None:
        extension.append(_extension("cap-remaining-this-month", subsidy.cap_remaining_this_month))
    extension.append(_extension("always-reimbursement", subsidy.always_reimbursement))
    if subsidy.designated_institution is not None:
        extension.append(_extension("designated-institution", subsidy.designated_institution))
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "meta": {"profile": [JP_COVERAGE_PROFILE]},
        "extension": extension,
        # The 公費 profiles fix status to active; the certificate's validity is period, and whether it
        # covers the service date is CoverageEligibilityResponse.insurance.inforce.
        "status": "active",
        "type": {"coding": [{"system": OID_INSURANCE_CATEGORY, "code": "8", "display": "公費"}]},
        "subscriberId": subsidy.recipient_number,
        "beneficiary": {"reference": patient_url},
        "period": _period(subsidy.valid_from, subsidy.valid_to),
        "payor": [{"reference": payer_url}],
    }
    if subsidy.priority >= 1:  # FHIR's order is a positiveInt
        coverage["order"] = subsidy.priority
    if subsidy.copay_rate is not None:
        coverage["costToBeneficiary"] = [_copay_rate(subsidy.copay_rate)]
    return coverage


def _fhir_response(result: EligibilityResult, patient_url: str, inforce: list[tuple[str, bool]]) -> dict[str, Any]:
    return {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": ["validation"],
        "patient": {"reference": patient_url},
        "servicedDate": result.service_date.isoformat(),
        "created": _aware(result.received_at).isoformat(),
        "requestor": {
            "type": "Organization",
            "identifier": {"system": PMH_INSTITUTION_SYSTEM, "value": result.institution_code},
        },
        "request": {
            "identifier": {"system": PMH_RECEPTION_SYSTEM, "value": str(result.reception_id)},
            "display": "受付（資格確認）",
        },
        "outcome": "complete",
        "insurer": {"display": "pmh 医療費助成オンライン資格確認"},
        "insurance": [{"coverage": {"reference": url}, "inforce": in_force} for url, in_force in inforce],
    }


# --- ORCA (日レセ) patient API ---------------------------------------------------------------------


def orca_public_insurance_class(payer_number: str) -> str:
    """ORCA's 3-digit 公費の種類 for a 公費負担者番号, or "" to let ORCA derive it from the number.

    National programs (法別番号 10–79) are ``"0" + 法別番号`` in ORCA's master (010 感37の2, 051 特定疾患,
    054 難病 in ORCA's own samples). 地方公費 classes are set per prefecture in ORCA, so for 法別番号 80–99
    (and anything unexpected) the class is left blank: ORCA's patient API then fills it from the
    負担者番号 ("空白の時は、負担者番号から編集します").
    """
    houbetsu = payer_number[:2]
    if len(payer_number) == 8 and houbetsu.isdigit() and houbetsu.isascii() and 10 <= int(houbetsu) <= 79:
        return "0" + houbetsu
    return ""


def _orca_date(value: dt.date | None) -> str:
    return ORCA_OPEN_END if value is None else value.isoformat()


def to_orca(result: EligibilityResult, patient_number: str | None = None) -> dict[str, Any]:
    """Return the body of ORCA's patientmodv32 request (患者保険・公費情報の更新) for the reception's patient.

    ``patientmodv3req2`` holds only what ORCA defines: the patient (``Patient_ID`` = the institution's
    患者番号 linked to the reception, ``""`` when none is linked) and up to four 公費 in priority order,
    each ``PublicInsurance_Mode`` ``New`` with ``PublicInsurance_Id`` ``"0"`` — the bridge
    (``pmh orca push``) turns one into ``Modify`` with ORCA's own id, or drops it, after reading what
    ORCA holds. A certificate expired on the service date never takes one of the four places.
    What pmh adds — certificates left out and why, caps ORCA has no field for — is under ``pmh``,
    beside the request element, never inside it; the ``Request_Number`` / ``Karte_Uid`` / ``Orca_Uid``
    of ORCA's lock flow are the sender's to add.
    """
    ordered = _by_priority(result.subsidies)
    current = [s for s in ordered if s.status != "expired"]
    kept = current[:ORCA_MAX_PUBLIC_INSURANCES]
    omitted = [s for s in ordered if s not in kept]
    checked = result.service_date.isoformat()
    request = {
        "Patient_Information": {"Patient_ID": patient_number or ""},
        "PublicInsurance_Information": {
            "PublicInsurance_Info": [
                {
                    "PublicInsurance_Mode": "New",
                    "PublicInsurance_Id": "0",
                    "PublicInsurance_Class": orca_public_insurance_class(subsidy.payer_number),
                    "PublicInsurance_Name": subsidy.program_name[:ORCA_NAME_LENGTH],
                    "PublicInsurer_Number": subsidy.payer_number,
                    "PublicInsuredPerson_Number": subsidy.recipient_number,
                    "Certificate_IssuedDate": subsidy.valid_from.isoformat(),
                    "Certificate_ExpiredDate": _orca_date(subsidy.valid_to),
                    "Certificate_CheckDate": checked,
                }
                for subsidy in kept
            ]
        },
    }
    pmh = {
        "omitted": [
            {
                "payer_number": subsidy.payer_number,
                "recipient_number": subsidy.recipient_number,
                "program_name": subsidy.program_name,
                "priority": subsidy.priority,
                "reason": "診療日には有効期間外です"
                if subsidy.status == "expired"
                else "ORCA は公費を4件まで登録できます（5件目以降は手入力してください）",
            }
            for subsidy in omitted
        ],
        "caps": [
            {
                "payer_number": subsidy.payer_number,
                "recipient_number": subsidy.recipient_number,
                "monthly_cap": subsidy.monthly_cap,
                "inpatient_cap": subsidy.inpatient_cap,
                "copay_rate": subsidy.copay_rate,
                "cap_managed": subsidy.cap_managed,
                "cap_remaining_this_month": subsidy.cap_remaining_this_month,
            }
            for subsidy in kept
        ],
    }
    pmh.update({key.removeprefix("pmh_"): value for key, value in _orca_name(result.person.name).items()})
    return {"patientmodv3req2": request, "pmh": pmh}


# --- XML (docs/eligibility.xsd) ----------------------------------------------------------------------


def to_xml(result: EligibilityResult) -> bytes:
    """Return the result as UTF-8 XML in ``urn:pmh:eligibility:1``, element for JSON field, nulls absent.

    Values are the JSON ones (``result.model_dump(mode="json")``), so dates, times and booleans are
    written exactly as ``format=json`` writes them, which are also their XML Schema lexical forms.
    """
    # The namespace is declared as the default one on the root so that every element is in it and the
    # ``key`` attribute stays unqualified; ElementTree's default_namespace option refuses that mix.
    root = ET.Element("eligibility_result", xmlns=XML_NAMESPACE)
    _xml_fields(root, result.model_dump(mode="json"))
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return body


def _xml_fields(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        child = ET.SubElement(parent, key)
        if key == "additional_conditions":
            for code, condition in value.items():
                item = ET.SubElement(child, "condition", key=str(code))
                item.text = condition if isinstance(condition, str) else json.dumps(condition, ensure_ascii=False)
        elif isinstance(value, dict):
            _xml_fields(child, value)
        elif isinstance(value, list):
            item_name = _XML_LIST_ITEMS[key]
            for element in value:
                item = ET.SubElement(child, item_name)
                if isinstance(element, dict):
                    _xml_fields(item, element)
                else:
                    item.text = _xml_scalar(element)
        else:
            child.text = _xml_scalar(value)


def _xml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

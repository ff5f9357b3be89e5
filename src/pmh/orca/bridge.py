"""``pmh orca push``: the clinic-side bridge that puts a reception's 公費 into ORCA (日医標準レセプトソフト).

It reads the reception's eligibility from the hub as ``format=orca`` (the patientmodv32 request body)
and runs ORCA's patientmodv32 flow (患者保険・公費情報の更新, ``POST /orca12/patientmodv32?format=json``)
as ORCA documents it (api12v032) and the open-source ``orca-api`` client runs it:

1. ``Request_Number`` 01 with ``Karte_Uid``: read the patient's 保険・公費 and lock the patient; the
   answer carries ``Orca_Uid`` and the next ``Response_Number``. ``E90`` (or ``E9999``) means another
   terminal holds the patient: nothing is locked by us, nothing is sent.
2. 02 with the 公費 to add (``New``, id ``0``) or update (``Modify`` with ORCA's ``PublicInsurance_Id``);
   a 公費 ORCA already holds with the same 負担者番号 and 受給者番号 and the same dates is left alone.
3. 03 to register; ``S20`` asks a confirmation (``Patient_Select``), answered ``Ok`` only when the
   operator allowed that code (``--allow-select``), else the push stops.
4. 99 (unlock) on every path that leaves the patient locked by us.

Plain standard-library HTTP: the bridge runs on the clinic's machine next to ORCA.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from pmh.errors import InvalidInput, PmhError

ORCA_PATH = "/orca12/patientmodv32?format=json"
LOCKED = frozenset({"E90", "E9999"})
"""Api_Result codes of a patient another terminal holds (orca-api's LOCKED_API_RESULT)."""

Call = Callable[[dict[str, Any]], dict[str, Any]]
"""Send one ``patientmodv3req2`` and return ORCA's ``patientmodv3res2``."""


class OrcaRefused(PmhError):
    """ORCA answered with an error (or a confirmation the operator did not allow); nothing was registered."""

    status_code = 409
    code = "orca_refused"
    title = "ORCA が処理を受け付けませんでした"


def ok(api_result: str) -> bool:
    """ORCA's 処理終了: ``0…`` or ``W0…`` (a warning that still completed)."""
    stripped = api_result[1:] if api_result.startswith("W") else api_result
    return bool(stripped) and set(stripped) == {"0"}


@dataclass
class PushResult:
    """What the push did: the ORCA patient, 公費 added, modified and left unchanged, ORCA's last result."""

    patient_id: str
    added: list[dict[str, str]] = field(default_factory=list)
    modified: list[dict[str, str]] = field(default_factory=list)
    unchanged: list[dict[str, str]] = field(default_factory=list)
    api_result: str = ""
    api_result_message: str = ""
    requests: list[str] = field(default_factory=list)
    """The Request_Numbers sent, in order (01, 02, 03, 99 …)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "added": self.added,
            "modified": self.modified,
            "unchanged": self.unchanged,
            "api_result": self.api_result,
            "api_result_message": self.api_result_message,
            "requests": self.requests,
        }


def _key(info: dict[str, Any]) -> tuple[str, str]:
    return (str(info.get("PublicInsurer_Number", "")), str(info.get("PublicInsuredPerson_Number", "")))


def _same(held: dict[str, Any], wanted: dict[str, Any]) -> bool:
    fields = ("Certificate_IssuedDate", "Certificate_ExpiredDate")
    if any(str(held.get(name, "")) != str(wanted.get(name, "")) for name in fields):
        return False
    return (
        not wanted.get("PublicInsurance_Class") or held.get("PublicInsurance_Class") == wanted["PublicInsurance_Class"]
    )


def _summary(info: dict[str, Any]) -> dict[str, str]:
    summary = {
        "payer_number": str(info["PublicInsurer_Number"]),
        "recipient_number": str(info["PublicInsuredPerson_Number"]),
    }
    if info.get("PublicInsurance_Mode") == "Modify":
        summary["public_insurance_id"] = str(info["PublicInsurance_Id"])
    return summary


def plan(wanted: list[dict[str, Any]], held: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Return the 公費 to send (New or Modify) and those ORCA already holds unchanged."""
    by_key = {_key(info): info for info in held if info.get("PublicInsurer_Number")}
    send: list[dict[str, Any]] = []
    unchanged: list[dict[str, str]] = []
    for info in wanted:
        existing = by_key.get(_key(info))
        if existing is None:
            send.append(dict(info, PublicInsurance_Mode="New", PublicInsurance_Id="0"))
        elif _same(existing, info):
            unchanged.append(_summary(info))
        else:
            send.append(
                dict(info, PublicInsurance_Mode="Modify", PublicInsurance_Id=str(existing["PublicInsurance_Id"]))
            )
    return send, unchanged


def push(body: dict[str, Any], call: Call, *, karte_uid: str, allowed_selects: Collection[str] = ()) -> PushResult:
    """Run the patientmodv32 flow for the hub's ``format=orca`` body; raise :class:`OrcaRefused` on refusal."""
    request = body.get("patientmodv3req2") or {}
    patient_id = str(request.get("Patient_Information", {}).get("Patient_ID", ""))
    if not patient_id:
        message = "受付が患者番号に紐づいていません（受付画面で患者番号を登録してから送ってください）"
        raise InvalidInput(message)
    wanted = list(request.get("PublicInsurance_Information", {}).get("PublicInsurance_Info", []))
    result = PushResult(patient_id)

    def send(number: str, extra: dict[str, Any]) -> dict[str, Any]:
        result.requests.append(number)
        answer = call({"Request_Number": number, "Karte_Uid": karte_uid, **extra})
        result.api_result = str(answer.get("Api_Result", ""))
        result.api_result_message = str(answer.get("Api_Result_Message", ""))
        return answer

    first = send("01", {"Patient_Information": {"Patient_ID": patient_id}})
    if result.api_result in LOCKED or not ok(result.api_result) or "Orca_Uid" not in first:
        raise _refused(result)  # not locked by us: nothing to unlock
    lock = {"Orca_Uid": first["Orca_Uid"], "Patient_Information": first.get("Patient_Information", {})}
    locked = True
    try:
        held = first.get("PublicInsurance_Information", {}).get("PublicInsurance_Info", [])
        changes, result.unchanged = plan(wanted, [info for info in held if info])
        if not changes:
            return result
        second = send(
            first["Response_Number"], {**lock, "PublicInsurance_Information": {"PublicInsurance_Info": changes}}
        )
        if not ok(result.api_result):
            raise _refused(result, second)
        third_request = {**lock, "PublicInsurance_Information": second.get("PublicInsurance_Information", {})}
        third = send(second["Response_Number"], third_request)
        while result.api_result == "S20":
            select = third.get("Patient_Select_Information", {})
            if select.get("Patient_Select") not in allowed_selects:
                raise _refused(result, third)
            third = send(third["Response_Number"], {**third_request, "Select_Answer": "Ok"})
        if not ok(result.api_result):
            raise _refused(result, third)
        locked = False  # a completed 03 releases ORCA's lock
        result.added = [_summary(info) for info in changes if info["PublicInsurance_Mode"] == "New"]
        result.modified = [_summary(info) for info in changes if info["PublicInsurance_Mode"] == "Modify"]
        return result
    finally:
        if locked:
            final = (result.api_result, result.api_result_message)
            send("99", lock)
            result.api_result, result.api_result_message = final


def _refused(result: PushResult, answer: dict[str, Any] | None = None) -> OrcaRefused:
    details = []
    for item in (answer or {}).get("Patient_Message_Information", {}).get("Patient_Message_Info", []) or []:
        if isinstance(item, dict) and item.get("Patient_Result_Message"):
            details.append(str(item["Patient_Result_Message"]))
    select = (answer or {}).get("Patient_Select_Information", {})
    if result.api_result == "S20" and select:
        details.append(f"確認（{select.get('Patient_Select')}）: {select.get('Patient_Select_Message', '')}")
    message = f"ORCA: {result.api_result_message}（{result.api_result}）" + "".join(f" {d}" for d in details)
    if result.api_result in LOCKED:
        message += " 他の端末がこの患者を使用中です。時間をおいてやり直してください。"
    return OrcaRefused(message, extensions={"result": result.as_dict()})


# --- HTTP ------------------------------------------------------------------------------------------


def _post_json(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> dict[str, Any]:
    data = json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def orca_caller(base_url: str, user: str | None, password: str | None, timeout: float = 30.0) -> Call:
    """Return a :data:`Call` that posts to ORCA's patientmodv32 with HTTP basic auth when given."""
    headers = {}
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    url = base_url.rstrip("/") + ORCA_PATH

    def call(request: dict[str, Any]) -> dict[str, Any]:
        answer = _post_json(url, {"patientmodv3req2": request}, headers, timeout)
        response: dict[str, Any] = answer.get("patientmodv3res2", {})
        return response

    return call


def read_eligibility(hub_url: str, key: str, reception_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """GET the reception's eligibility from the hub as ``format=orca``."""
    query = urllib.parse.urlencode({"format": "orca"})
    url = f"{hub_url.rstrip('/')}/api/v1/receptions/{reception_id}/eligibility?{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise InvalidInput(
            f"ハブが受付 {reception_id} の資格確認結果を返しませんでした（HTTP {exc.code}）: {detail}"
        ) from exc
    return body


def new_karte_uid() -> str:
    """A Karte_Uid for one push (ORCA ties the lock to it)."""
    return str(uuid.uuid4())

"""An ORCA stand-in for the bridge's tests: patientmodv32 (患者保険・公費情報) as ORCA documents it.

It follows the flow of ORCA's api12v032 and the orca-api client's fixtures: 01 reads and locks the
patient (``Orca_Uid``, ``Response_Number`` 02), 02 checks the 公費 sent (``E50`` with
``Patient_Message_Information`` when one is refused), 03 registers (``S20`` with
``Patient_Select_Information`` when a confirmation is configured and not yet answered) and releases
the lock, 99 releases the lock. Another terminal's lock answers ``E90``; an unknown patient ``E10``.
Serves on loopback only.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class OrcaPatient:
    patient_id: str
    public: list[dict[str, Any]] = field(default_factory=list)
    locked_by: str | None = None  # the Orca_Uid holding the lock
    next_id: int = 1


@dataclass
class OrcaStandIn:
    patients: dict[str, OrcaPatient] = field(default_factory=dict)
    refused_payers: set[str] = field(default_factory=set)
    confirm: tuple[str, str] | None = None  # (Patient_Select, message) asked at 03
    user: str = "ormaster"
    password: str = "ormaster"
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def add_patient(self, patient_id: str, *public: dict[str, Any]) -> OrcaPatient:
        patient = OrcaPatient(patient_id)
        for info in public:
            self._new(patient, info)
        self.patients[patient_id] = patient
        return patient

    def lock_by_other_terminal(self, patient_id: str) -> str:
        uid = str(uuid.uuid4())
        self.patients[patient_id].locked_by = uid
        return uid

    @property
    def numbers(self) -> list[str]:
        return [str(r["Request_Number"]) for r in self.requests]

    def _new(self, patient: OrcaPatient, info: dict[str, Any]) -> None:
        stored = {k: v for k, v in info.items() if k != "PublicInsurance_Mode"}
        stored["PublicInsurance_Id"] = f"{patient.next_id:010d}"
        patient.next_id += 1
        patient.public.append(stored)

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(req)
        number = str(req.get("Request_Number", ""))
        pid = str(req.get("Patient_Information", {}).get("Patient_ID", ""))
        base: dict[str, Any] = {"Request_Number": number, "Karte_Uid": req.get("Karte_Uid", "")}
        patient = self.patients.get(pid)
        if patient is None:
            return base | {
                "Response_Number": "01",
                "Api_Result": "E10",
                "Api_Result_Message": "患者番号に該当する患者が存在しません",
            }
        info = {"Patient_Information": {"Patient_ID": pid, "WholeName": "テスト　花子"}}
        if number == "01":
            if patient.locked_by is not None:
                return (
                    base | {"Response_Number": "01", "Api_Result": "E90", "Api_Result_Message": "他端末使用中"} | info
                )
            patient.locked_by = str(uuid.uuid4())
            held = {"PublicInsurance_Info": [dict(p) for p in patient.public] + [{}] * 2}
            return (
                base
                | info
                | {
                    "Response_Number": "02",
                    "Orca_Uid": patient.locked_by,
                    "Api_Result": "000",
                    "Api_Result_Message": "検索処理終了",
                    "PublicInsurance_Information": held,
                }
            )
        if req.get("Orca_Uid") != patient.locked_by or patient.locked_by is None:
            return base | info | {"Response_Number": "01", "Api_Result": "E91", "Api_Result_Message": "排他制御エラー"}
        lock = {"Orca_Uid": patient.locked_by}
        sent = req.get("PublicInsurance_Information", {}).get("PublicInsurance_Info", [])
        if number == "02":
            messages = []
            ids = {p["PublicInsurance_Id"] for p in patient.public}
            for item in sent:
                if item.get("PublicInsurer_Number") in self.refused_payers:
                    messages.append(f"{item['PublicInsurer_Number']} 負担者番号が存在しません")
                if item.get("PublicInsurance_Mode") == "Modify" and item.get("PublicInsurance_Id") not in ids:
                    messages.append(f"{item.get('PublicInsurance_Id')} 公費IDが存在しません")
            if messages:
                return (
                    base
                    | info
                    | lock
                    | {
                        "Response_Number": "02",
                        "Api_Result": "E50",
                        "Api_Result_Message": "保険・公費にエラーがあります。",
                        "Patient_Message_Information": {
                            "Patient_Message_Info": [{"Patient_Result_Message": m} for m in messages]
                        },
                    }
                )
            return (
                base
                | info
                | lock
                | {
                    "Response_Number": "03",
                    "Api_Result": "000",
                    "Api_Result_Message": "処理終了",
                    "PublicInsurance_Information": {"PublicInsurance_Info": sent},
                }
            )
        if number == "03":
            if self.confirm is not None and req.get("Select_Answer") != "Ok":
                code, message = self.confirm
                return (
                    base
                    | info
                    | lock
                    | {
                        "Response_Number": "03",
                        "Api_Result": "S20",
                        "Api_Result_Message": "選択項目があります。選択結果を返却してください。",
                        "Patient_Select_Information": {"Patient_Select": code, "Patient_Select_Message": message},
                    }
                )
            for item in sent:
                if item.get("PublicInsurance_Mode") == "New":
                    self._new(patient, item)
                elif item.get("PublicInsurance_Mode") == "Modify":
                    for held in patient.public:
                        if held["PublicInsurance_Id"] == item["PublicInsurance_Id"]:
                            held.update({k: v for k, v in item.items() if k != "PublicInsurance_Mode"})
            patient.locked_by = None
            return base | info | {"Response_Number": "01", "Api_Result": "000", "Api_Result_Message": "登録処理終了"}
        if number == "99":
            patient.locked_by = None
            return base | info | {"Response_Number": "00", "Api_Result": "000", "Api_Result_Message": "解除処理終了"}
        return base | {"Response_Number": "01", "Api_Result": "E01", "Api_Result_Message": "リクエスト番号がありません"}


@contextmanager
def serve(standin: OrcaStandIn) -> Iterator[OrcaStandIn]:
    """Serve the stand-in on 127.0.0.1 (a free port) for the duration of the block."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            expected = "Basic " + base64.b64encode(f"{standin.user}:{standin.password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            if self.path != "/orca12/patientmodv32?format=json":
                self.send_response(404)
                self.end_headers()
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = standin.answer(body["patientmodv3req2"])
            data = json.dumps({"patientmodv3res2": answer}, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_json(path: str, body: dict[str, Any], key: str) -> Iterator[str]:
    """Serve one JSON document at ``path`` for a Bearer key (a stand-in hub for the CLI test)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {key}" or self.path != path:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""Imports every area's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.models import ApiKey, Organisation, StaffSession, StaffUser
from pmh.cards.models import InsuranceRecord, TestCard
from pmh.db import Base
from pmh.operator.models import ContactWindow, Contract, Delegation, FeePrice, SubsidyApplication
from pmh.registry.models import (
    Certificate,
    CertificateVersion,
    GaijiMapping,
    LinkReview,
    PayerNumber,
    Program,
    Upload,
    UploadProblem,
)

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Certificate",
    "CertificateVersion",
    "ContactWindow",
    "Contract",
    "Delegation",
    "FeePrice",
    "GaijiMapping",
    "InsuranceRecord",
    "LinkReview",
    "Organisation",
    "PayerNumber",
    "Program",
    "StaffSession",
    "StaffUser",
    "SubsidyApplication",
    "TestCard",
    "Upload",
    "UploadProblem",
]

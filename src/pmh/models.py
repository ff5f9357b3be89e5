"""Imports every area's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.models import ApiKey, Organisation, StaffSession, StaffUser
from pmh.cards.models import InsuranceRecord, TestCard
from pmh.db import Base
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
    "GaijiMapping",
    "InsuranceRecord",
    "LinkReview",
    "Organisation",
    "PayerNumber",
    "Program",
    "StaffSession",
    "StaffUser",
    "TestCard",
    "Upload",
    "UploadProblem",
]

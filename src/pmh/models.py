"""Imports every area's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.models import ApiKey, CardReader, Organisation, RateLimitWindow, StaffSession, StaffUser
from pmh.cards.models import InsuranceRecord, TestCard
from pmh.copay.models import CopayEntry, CopayMonth
from pmh.db import Base
from pmh.eligibility.models import CardSession, Reception, ReceptionCertificate
from pmh.idempotency.models import IdempotencyRecord
from pmh.onboarding.models import OnboardingDeadline, OnboardingStep
from pmh.operator.models import ContactWindow, Contract, Delegation, FeePrice, SubsidyApplication
from pmh.reception.models import Patient
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
from pmh.resident.models import ResidentSession

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "Base",
    "CardReader",
    "CardSession",
    "Certificate",
    "CertificateVersion",
    "ContactWindow",
    "Contract",
    "CopayEntry",
    "CopayMonth",
    "Delegation",
    "FeePrice",
    "GaijiMapping",
    "IdempotencyRecord",
    "InsuranceRecord",
    "LinkReview",
    "OnboardingDeadline",
    "OnboardingStep",
    "Organisation",
    "Patient",
    "PayerNumber",
    "Program",
    "RateLimitWindow",
    "Reception",
    "ReceptionCertificate",
    "ResidentSession",
    "StaffSession",
    "StaffUser",
    "SubsidyApplication",
    "TestCard",
    "Upload",
    "UploadProblem",
]

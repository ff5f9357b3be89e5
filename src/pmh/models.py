"""Imports every area's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from pmh.audit.models import AuditEntry, AuditHead
from pmh.auth.models import ApiKey, Organisation, StaffSession, StaffUser
from pmh.db import Base

__all__ = ["ApiKey", "AuditEntry", "AuditHead", "Base", "Organisation", "StaffSession", "StaffUser"]

"""A certificate version's name of record and its derived forms (see ``pmh.codes.charsets``).

The importer stores the forms once per version (:func:`stored_name_forms`); readers take them from
the version (:func:`name_forms`), deriving them only for versions stored before the columns existed.
"""

from __future__ import annotations

from typing import Any

from pmh.codes.charsets import NameForms, derive_name_forms
from pmh.registry.models import CertificateVersion

_MAX_FORM_LENGTH = 100  # the columns' length; a map that writes one character as several could exceed it


def stored_name_forms(name: str) -> dict[str, Any]:
    """Return the columns an imported version stores for its name: the two forms and what had none."""
    forms = derive_name_forms(name)
    return {
        "name_jisx0213": forms.jisx0213[:_MAX_FORM_LENGTH],
        "name_jisx0208": forms.jisx0208[:_MAX_FORM_LENGTH],
        "name_unmapped": forms.unmapped,
    }


def name_forms(version: CertificateVersion) -> NameForms:
    """Return the name of record of ``version`` with its stored forms (derived when not stored)."""
    if version.name_jisx0213 is None or version.name_jisx0208 is None:
        return derive_name_forms(version.name)
    derived = derive_name_forms(version.name) if version.name_unmapped else None
    return NameForms(
        version.name,
        version.name_jisx0213,
        version.name_jisx0208,
        derived.missing_jisx0213 if derived else (),
        derived.missing_jisx0208 if derived else (),
    )

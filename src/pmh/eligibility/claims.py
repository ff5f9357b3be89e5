"""Claim rules the eligibility result applies: the order of 公費 on a claim and designated institutions.

Pure functions over program codes and payer numbers; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmh.registry.asof import CertificateOn

# 公費負担医療の給付の順位 by 法別番号, as the レセプト記載要領 orders 公費 on a claim (第1公費, 第2公費 …):
# war-injury and atomic-bomb programs first, then the infection-control, mental-health, disability,
# child and intractable-disease programs; 中国残留邦人等 (25) and 生活保護 (12) last among national
# programs. Local programs (地単, mostly 80–89) follow every national one.
_NATIONAL_ORDER = (
    "13",
    "14",
    "18",
    "19",
    "30",
    "10",
    "11",
    "20",
    "21",
    "15",
    "16",
    "24",
    "22",
    "17",
    "79",
    "23",
    "28",
    "29",
    "38",
    "51",
    "52",
    "54",
    "53",
    "66",
    "25",
    "12",
)
_RANK = {houbetsu: rank for rank, houbetsu in enumerate(_NATIONAL_ORDER)}

# Programs whose law designates the institutions that may treat under them (指定医療機関).
DESIGNATION_PROGRAMS = frozenset(
    {
        "seishin",
        "kosei",
        "ikusei",
        "ryoyo-kaigo",
        "nanbyo",
        "shoman",
        "shitai-tsusho",
        "shogaiji-nyusho",
        "yoiku",
        "kekkaku",
        "shingata-influenza",
        "shin-kansensho",
    }
)


def claim_order_key(payer_number: str, recipient_number: str) -> tuple[int, int, str, str]:
    """Return the sort key that puts certificates in claim order (公費1, 公費2 …).

    National 法別番号 in the order of the table above; any other (地単, or a number the table does not
    know) after them, by 法別番号; ties by payer and recipient number so the order is stable.
    """
    houbetsu = payer_number[:2]
    rank = _RANK.get(houbetsu)
    if rank is not None:
        return (0, rank, payer_number, recipient_number)
    return (1, int(houbetsu) if houbetsu.isdigit() else 99, payer_number, recipient_number)


def designated_institution(program_code: str, designated: list[str], institution_code: str) -> bool | None:
    """Return whether the institution is designated for this certificate; None when nothing designates.

    Under a designation program the certificate lists the institutions (指定医療機関) the holder may
    use; an institution not in the list is not designated for this certificate. A certificate that
    lists none says nothing either way (None), rather than a "not designated" that would make the
    clinic refuse a subsidy the certificate does not restrict.
    """
    if program_code not in DESIGNATION_PROGRAMS or not designated:
        return None
    return institution_code in designated


def in_claim_order(states: Iterable[CertificateOn]) -> list[CertificateOn]:
    """Return certificates in claim order (公費1 first), as the eligibility result lists them."""
    return sorted(states, key=lambda s: claim_order_key(s.certificate.payer_number, s.certificate.recipient_number))

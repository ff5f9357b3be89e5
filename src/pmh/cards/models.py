"""Tables of the simulated national services: insurance records (保険資格) and test My Number cards.

Both are keyed by the My Number digest; a plain 個人番号 is never stored.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import TimestampedBase, UTCDateTime


class InsuranceRecord(TimestampedBase):
    """One person's health-insurance record as the national eligibility service holds it.

    Found by ``person_digest`` (keyed hash of the 個人番号); the linking guard compares a
    certificate's name and birth date with it.
    """

    __tablename__ = "insurance_records"

    person_digest: Mapped[str] = mapped_column(String(64), unique=True)
    insurer_number: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(40))
    branch: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(SmallInteger)
    copay_rate: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    relationship: Mapped[int | None] = mapped_column(SmallInteger)
    """被保険者区分 as JP Core codes it (1 被保険者 = 本人, 2 被扶養者 = 家族); None when the file does not say."""


class TestCard(TimestampedBase):
    """A test My Number card (マイナンバーカード) issued by the simulated card service.

    The card names its holder only by ``person_digest`` and keeps the 4-digit PIN (暗証番号) only as
    an argon2 hash. ``failed_pin_attempts`` counts wrong PINs in a row; the third locks the card
    (``locked_at``) until the municipal window resets it.
    """

    __test__ = False  # not a pytest test class, whatever its name says
    __tablename__ = "test_cards"

    card_serial: Mapped[str] = mapped_column(String(12), unique=True)
    person_digest: Mapped[str] = mapped_column(String(64), index=True)
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_on: Mapped[dt.date] = mapped_column(Date)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

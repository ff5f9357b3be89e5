"""Card readers an institution registers, each with an API key of its own (``pmh institutions readers``).

Face authentication (顔認証) is decided inside a face-recognition card reader; the hub cannot see
the face, so it takes the reader's word only from a device registered as such. Each registered
reader gets a key bound to it: the hub knows from the key which device speaks, audits face
authentication as coming from that device, and a key that is not a registered face device must
have the holder give the PIN.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth import keycache
from pmh.auth.models import ApiKey, CardReader, Organisation
from pmh.auth.schemas import IssuedKey
from pmh.auth.service import create_api_key, get_organisation
from pmh.codes.text import normalize_text
from pmh.db import utcnow
from pmh.errors import Conflict, InvalidInput, NotFound

MAX_NAME_LENGTH = 100


@dataclass(frozen=True, slots=True)
class ReaderInfo:
    """A registered card reader as listed: never its key, only the key's prefix."""

    institution: str
    name: str
    face: bool
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def add_reader(session: Session, institution_code: str, name: str, face: bool) -> tuple[ReaderInfo, IssuedKey]:
    """Register a card reader of an institution and issue its own ``card_reader`` key (shown once)."""
    organisation = get_organisation(session, institution_code)
    if organisation.kind != "institution":
        raise InvalidInput(f"カードリーダーは医療機関・薬局にのみ登録できます（{organisation.code}）。")
    name = normalize_text(name)
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"カードリーダーの名前は1〜{MAX_NAME_LENGTH}文字です。")
    taken = session.scalar(
        select(CardReader.id).where(
            CardReader.organisation_id == organisation.id, CardReader.name == name, CardReader.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise Conflict(f"カードリーダー「{name}」は既に登録されています。")
    label = f"カードリーダー: {name}" + ("（顔認証）" if face else "")
    issued = create_api_key(session, organisation, "card_reader", label)
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.prefix == issued.prefix))
    assert key_id is not None
    reader = CardReader(organisation_id=organisation.id, api_key_id=key_id, name=name, face_recognition=face)
    session.add(reader)
    session.flush()
    return _info(reader, organisation, issued.prefix), issued


def _info(reader: CardReader, organisation: Organisation, prefix: str) -> ReaderInfo:
    return ReaderInfo(
        organisation.code, reader.name, reader.face_recognition, prefix, reader.created_at, reader.revoked_at
    )


def list_readers(session: Session, institution_code: str) -> list[ReaderInfo]:
    """Return an institution's registered card readers, oldest first, revoked ones included."""
    organisation = get_organisation(session, institution_code)
    rows = session.execute(
        select(CardReader, ApiKey.prefix)
        .join(ApiKey, ApiKey.id == CardReader.api_key_id)
        .where(CardReader.organisation_id == organisation.id)
        .order_by(CardReader.id)
    )
    return [_info(reader, organisation, prefix) for reader, prefix in rows]


def revoke_reader(session: Session, prefix: str) -> None:
    """Revoke a registered reader and its key (by the key's prefix); revoking twice changes nothing."""
    row = session.execute(
        select(CardReader, ApiKey).join(ApiKey, ApiKey.id == CardReader.api_key_id).where(ApiKey.prefix == prefix)
    ).first()
    if row is None:
        raise NotFound(f"キー {prefix} のカードリーダーは登録されていません。")
    reader, key = row
    now = utcnow()
    reader.revoked_at = reader.revoked_at or now
    key.revoked_at = key.revoked_at or now
    keycache.announce_revocation(session)

"""Japanese names of audit actions and their objects, for the pages people read.

The API keeps the stable codes (``certificates.import``); pages show what staff call the act
(受給者証の取込). ``tests/audit/test_labels.py`` fails when an action recorded anywhere in the
source has no name here.
"""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "card_session.open": "カードの読み取り（本人確認）",
    "card_session.refused": "カードの読み取りの拒否",
    "consent.give": "情報提供の同意",
    "eligibility.read": "資格確認結果の参照",
    "eligibility.recheck": "一括照会",
    "reception.list": "受付一覧の参照",
    "reception.read": "受付の参照",
    "reception.link": "患者番号との紐づけ",
    "reception.unlink": "患者番号との紐づけの解除",
    "patient.list": "患者一覧の参照",
    "patient.read": "患者の参照",
    "patient.import": "患者一覧の取込",
    "copay.quote": "自己負担額の試算",
    "copay.record": "自己負担額の記録",
    "copay.cancel": "自己負担額の取消",
    "copay.sheet": "上限額管理票の参照",
    "certificate.read": "受給者証の参照",
    "certificates.import": "受給者証の取込",
    "upload.errors.read": "取込エラー一覧の参照",
    "link_review.list": "紐づけ確認待ちの参照",
    "link_review.link": "紐づけ確認（紐づける）",
    "link_review.reject": "紐づけ確認（紐づけない）",
    "consent.withdraw": "本人による同意の撤回",
    "resident_session.open": "本人のログイン（マイナンバーカード）",
    "resident_session.refused": "本人のログインの拒否",
    "resident_session.end": "本人のログアウト",
    "resident.certificates.read": "本人による受給者証の確認",
    "resident.access_log.read": "本人による利用履歴の確認",
    "resident.copay.read": "本人による上限額管理の確認",
    "resident.consents.read": "本人による同意一覧の確認",
    "onboarding.set": "準備状況の更新",
    "onboarding.deadline": "準備の期限の設定",
    "onboarding.export": "準備状況の書き出し",
    "fees.rebuild_counts": "登録対象者数の集計の再計算",
}

SUBJECT_LABELS: dict[str, str] = {
    "card": "カード",
    "card_session": "カードセッション",
    "reception": "受付",
    "patient": "患者",
    "certificate": "受給者証",
    "link_review": "紐づけ確認",
    "upload": "アップロード",
    "resident_session": "本人のログイン",
    "onboarding": "準備状況",
    "onboarding_step": "準備の手順",
    "onboarding_deadline": "準備の期限",
    "registered_counts": "登録対象者数の集計",
}


def action_label(code: str) -> str:
    """Return the Japanese name of an audit action (the code itself for one not named yet)."""
    return ACTION_LABELS.get(code, code)


def subject_label(code: str) -> str:
    """Return the Japanese name of the kind of object an audit entry is about."""
    return SUBJECT_LABELS.get(code, code)

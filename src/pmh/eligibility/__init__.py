"""Card sessions, consent, receptions and the eligibility result in every format (資格確認)."""

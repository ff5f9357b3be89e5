"""Programs, certificates, uploads and the linking guard (受給者証の登録)."""

"""The patient registry and the CR user list linking (マイナ診察券)."""

"""The client a rate limit counts: the peer, or behind a trusted proxy the address it forwarded for."""

from __future__ import annotations

import pytest

from pmh.auth.deps import address_of_client
from pmh.settings import get_settings


def test_without_trusted_proxies_the_forwarded_header_is_ignored() -> None:
    assert address_of_client("10.0.0.5", ["203.0.113.9"]) == "10.0.0.5"
    assert address_of_client(None, []) == "unknown"


def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMH_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.6")
    get_settings.cache_clear()
    assert address_of_client("10.0.0.5", ["198.51.100.7"]) == "198.51.100.7"
    # a client that writes its own header cannot choose the address it is counted under
    assert address_of_client("10.0.0.5", ["1.2.3.4, 198.51.100.7"]) == "198.51.100.7"
    assert address_of_client("10.0.0.5", ["198.51.100.7, 10.0.0.6"]) == "198.51.100.7"
    assert address_of_client("10.0.0.5", []) == "10.0.0.5"
    assert address_of_client("192.0.2.1", ["198.51.100.7"]) == "192.0.2.1"  # not a trusted peer

"""The allowlist on the real client address; X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import pytest

from stockade.security.allowlist import AddressPolicy

POLICY = AddressPolicy.from_settings(["10.0.0.0/8", "fd00::/8", "127.0.0.1/32"], ["127.0.0.1", "::1"])

CASES = [
    # peer, X-Forwarded-For, real client, allowed
    ("10.1.2.3", None, "10.1.2.3", True),
    ("192.168.1.5", None, "192.168.1.5", False),
    ("fd00::5", None, "fd00::5", True),
    ("2001:db8::1", None, "2001:db8::1", False),
    ("::ffff:10.9.8.7", None, "10.9.8.7", True),  # IPv4-mapped IPv6 is the IPv4 address
    ("192.168.1.5", "10.1.2.3", "192.168.1.5", False),  # spoofing from an untrusted peer: ignored
    ("2001:db8::1", "fd00::1", "2001:db8::1", False),
    ("127.0.0.1", "10.1.2.3", "10.1.2.3", True),  # from the trusted proxy: believed
    ("127.0.0.1", "192.168.9.9", "192.168.9.9", False),  # ... and then checked
    ("127.0.0.1", "10.1.2.3, 192.168.9.9", "192.168.9.9", False),  # right-most untrusted hop counts
    ("::1", "10.0.0.1, 127.0.0.1", "10.0.0.1", True),  # trusted hops are skipped
    ("127.0.0.1", "not-an-address", None, False),
    ("testclient", None, None, False),
    (None, None, None, False),
]


@pytest.mark.parametrize(("peer", "forwarded", "client", "allowed"), CASES)
def test_real_client_address(peer, forwarded, client, allowed) -> None:
    address = POLICY.client_address(peer, forwarded)
    assert (str(address) if address is not None else None) == client
    assert POLICY.allows(address) is allowed


def test_no_trusted_proxies_means_the_header_is_never_read() -> None:
    policy = AddressPolicy.from_settings(["10.0.0.0/8"], [])
    assert str(policy.client_address("127.0.0.1", "10.1.1.1")) == "127.0.0.1"


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not-a-network", "::g/64"])
def test_settings_refuse_bad_networks(entry: str) -> None:
    from pydantic import ValidationError

    from stockade.core.security_settings import SecuritySettings

    with pytest.raises(ValidationError, match="not an IPv4/IPv6"):
        SecuritySettings(allowlist=[entry])
    with pytest.raises(ValidationError):
        SecuritySettings(trusted_proxies=[entry])

"""`pki nginx-config --server-name H` refuses a name the server certificate does not cover (clients
would refuse the certificate), and writes it with a warning under --force."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockade.security.pki import name_covered
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("host", "names", "covered"),
    [
        ("llm.bank.internal", ["llm.bank.internal"], True),
        ("LLM.bank.internal.", ["llm.bank.internal"], True),
        ("llm.bank.internal", ["*.bank.internal"], True),
        ("a.llm.bank.internal", ["*.bank.internal"], False),
        ("llm.bank.internal", ["localhost", "127.0.0.1"], False),
        ("127.0.0.1", ["localhost", "127.0.0.1"], True),
        ("bank.internal", ["*.bank.internal"], False),
    ],
)
def test_name_covered(host: str, names: list[str], covered: bool) -> None:
    assert name_covered(host, names) is covered


def test_nginx_config_checks_the_server_name_against_the_certificate(workspace_dir: Path) -> None:
    def cli(*args: str):
        return run_cli("--workspace", str(workspace_dir), "pki", *args)

    assert cli("init").returncode == 0
    assert cli("issue", "--host", "localhost", "--ip", "127.0.0.1").returncode == 0
    refused = cli("nginx-config", "--server-name", "llm.bank.internal")
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert "do not include llm.bank.internal" in refused.stderr and "localhost, 127.0.0.1" in refused.stderr
    assert "stockade pki issue --host llm.bank.internal" in refused.stderr and "--force" in refused.stderr
    forced = cli("nginx-config", "--server-name", "llm.bank.internal", "--force")
    assert forced.returncode == 0 and "server_name llm.bank.internal;" in forced.stdout
    assert "warning:" in forced.stderr and "llm.bank.internal" in forced.stderr
    named = cli("nginx-config", "--server-name", "localhost")
    assert named.returncode == 0 and named.stderr == "" and "server_name localhost;" in named.stdout
    assert cli("nginx-config").returncode == 0  # server_name _ (any name): nothing to check

"""Three small runbooks with distinct topics: what the end-to-end tests and ``bench/load_test.py`` ask about."""

from __future__ import annotations

from pathlib import Path


def write_runbooks(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "db-failover.md").write_text(
        "# Database failover\n\n## When\nThe primary Postgres database is down or unreachable.\n\n"
        "## Steps\n1. Check replication lag with `patronictl list`.\n"
        "2. Promote the replica: `patronictl switchover --master pg-0 --candidate pg-1`.\n"
        "3. Announce the failover in #incidents.\n")
    (root / "payments-latency.md").write_text(
        "# Payments API latency\n\n## Symptoms\nCheckout is slow and the ingress returns 502.\n\n"
        "## Checks\nLook at the HikariCP connection pool: active connections near 50 means exhaustion.\n"
        "Roll back with `kubectl rollout undo deploy/payments-api`.\n")
    (root / "tls-expiry.md").write_text(
        "# TLS certificate expiry\n\nCheck the expiry date with `openssl s_client -connect host:443`.\n"
        "Renew with cert-manager: `cmctl renew payments-tls`.\n")
    return root

"""`doctor` points to `forensic` when a store has security-relevant settings, and only then."""

from __future__ import annotations

import json

from tests.forensic.forensic_helpers import bcdtool


def _security(target) -> list[dict]:
    doc = json.loads(bcdtool("doctor", target, "--json").stdout)
    return [f for f in doc["findings"] if f["id"] == "security-settings"]


def test_doctor_links_tampered_store_to_forensic(corpus):
    path = corpus / "bcd" / "win10-uefi-dualboot-testsigning.bcd"
    (finding,) = _security(path)
    assert finding["status"] == "warning"
    assert finding["fix"] == f"bcdtool forensic {path} --timeline --history --deleted"
    assert "bcd.test-signing" in finding["message"]
    notes = " ".join(e["note"] for e in finding["evidence"])
    assert "DDISABLE_INTEGRITY_CHECKS" in notes
    text = bcdtool("doctor", path).stdout
    assert "[WARNING] security-settings" in text and "fix: bcdtool forensic" in text


def test_doctor_says_nothing_of_security_on_a_clean_store(corpus):
    assert _security(corpus / "bcd" / "win11-uefi-installed-2025.bcd") == []

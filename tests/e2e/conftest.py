"""e2e tests boot real guests; they run only when asked for (`-m e2e`, as `make e2e` does;
the root conftest deselects them otherwise)."""

from __future__ import annotations

import os
import shutil

import pytest


def _require(what: str, reasons: list[str]) -> None:
    """Skip (fail under BCDTOOL_E2E_REQUIRED=1) when the guest cannot be built or booted here."""
    if shutil.which("qemu-system-x86_64") is None:
        reasons.append("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    if os.geteuid() != 0:
        reasons.append("mounting the guest's root partition needs root")
    if reasons:
        message = f"cannot boot the {what}: " + "; ".join(reasons)
        if os.environ.get("BCDTOOL_E2E_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _guest(firmware: str, extra: list[str]):
    """The cached Debian guest image, once it is known to be buildable and bootable here."""
    from fixtures import debian_guest

    _require("e2e guest", debian_guest.missing_requirements() + extra)
    return debian_guest.guest_image(firmware)


@pytest.fixture(scope="session")
def debian_guest():
    """The cached Debian 12 BIOS guest (built on first use, minutes); skipped where it cannot be.

    With BCDTOOL_E2E_REQUIRED=1 (`make e2e`) a missing requirement fails instead of skipping,
    so CI never shows a skipped proof as a pass.
    """
    return _guest("bios", [])


@pytest.fixture(scope="session")
def busybox_guest():
    """The cached Debian guest booted by extlinux with BusyBox init (fixtures/busybox_guest.py)."""
    from fixtures import busybox_guest

    _require("extlinux+BusyBox e2e guest", busybox_guest.missing_requirements())
    return busybox_guest.guest_image()


@pytest.fixture(scope="session")
def debian_uefi_guest():
    """The same guest on a GPT disk with an ESP, booted by OVMF."""
    from tests.e2e.qemu_guest import OVMF_CODE, OVMF_VARS

    return _guest("uefi", [f"{p} is missing (apt-get install ovmf)"
                           for p in (OVMF_CODE, OVMF_VARS) if not p.exists()])

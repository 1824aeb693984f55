"""kernelstub (Pop!_OS): user.kernel_options in /etc/kernelstub/configuration is what the next
kernel's systemd-boot entries get; it is edited in its own layout and stays valid JSON."""

from __future__ import annotations

import json

import pytest

from bcdtool.linux import kernelstub
from fixtures import linux_layouts as L
from tests.linux.linux_helpers import fix_root, problems, report_of


@pytest.mark.parametrize("indent", [2, 4, None])
def test_edit_keeps_the_layout_and_every_other_byte(indent):
    doc = {"default": {"kernel_options": ["quiet", "splash"], "esp_path": "/boot/efi"},
           "user": {"kernel_options": ["quiet", "splash"], "esp_path": "/boot/efi",
                    "config_rev": 3}}
    text = json.dumps(doc, indent=indent)
    opts = kernelstub.kernel_options(text)
    assert opts.values == ["quiet", "splash"]
    new = kernelstub.with_options(text, opts, ["splash", "console=ttyS0,115200n8"])
    doc["user"]["kernel_options"] = ["splash", "console=ttyS0,115200n8"]
    assert json.loads(new) == doc
    if indent is not None:
        assert new == json.dumps(doc, indent=indent)      # as kernelstub itself would write it
    # The default section (same values) is untouched.
    assert new[:opts.span[0]] == text[:opts.span[0]]


@pytest.mark.parametrize("text", ["{", "[]", '{"user": {"kernel_options": "quiet splash"}}',
                                  '{"user": {"kernel_options": ["a", 1]}}', '{"default": {}}'])
def test_not_a_configuration(text):
    assert kernelstub.kernel_options(text) is None


def test_unreadable_configuration_is_reported_and_entries_still_fixed(tmp_path):
    root = L.build("popos-22.04-kernelstub", tmp_path / "root")
    (root / "etc/kernelstub/configuration").write_text('{"user": ')
    report = report_of(root)
    files = next(f for f in report.findings if f.id == "guest.files")
    assert files.status == "warning" and "kernelstub" in files.evidence[0].note
    fix_root(root, tmp_path)
    assert problems(report_of(root)) == set()


def test_popos_next_kernel_keeps_the_console(tmp_path):
    root = L.build("popos-22.04-kernelstub", tmp_path / "root")
    fix_root(root, tmp_path)
    user = json.loads((root / "etc/kernelstub/configuration").read_text())["user"]
    assert user["kernel_options"][-2:] == ["console=tty0", "console=ttyS0,115200n8"]
    assert "quiet" not in user["kernel_options"]

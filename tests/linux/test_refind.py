"""rEFInd: refind_linux.conf (mkrlconf's `"title" "options"` lines) and the enabled manual
stanzas of refind.conf are the kernel command lines; rEFInd's menu is the firmware's."""

from __future__ import annotations

from bcdtool.linux import refind
from fixtures import linux_layouts2 as L2
from tests.linux.linux_helpers import fix_root, report_of, statuses


def test_refind_linux_conf_lines():
    text = ('# comment\n"Boot with standard options"  "root=/dev/sda2 ro quiet"\n'
            '"Boot to single-user mode"\t"root=/dev/sda2 ro single"\n'
            'bare words here\n"only a title"\n'
            '"Escaped" "acpi_osi=\\"Windows 2009\\" ro"\n')
    found = refind.linux_conf(text)
    assert [(o.line, o.title, text[o.span[0]:o.span[1]]) for o in found] == [
        (2, "Boot with standard options", "root=/dev/sda2 ro quiet"),
        (3, "Boot to single-user mode", "root=/dev/sda2 ro single")]


def test_manual_stanzas_linux_enabled_only():
    text = (L2.REFIND_HEAD + L2.REFIND_SAMPLE_LINUX + L2.REFIND_SAMPLE_ARCH
            + L2.REFIND_SAMPLE_UBUNTU
            + 'menuentry "Bare" {\n  loader /vmlinuz\n  options ro\n}\n'
            + 'menuentry "Typed" {\n  loader /EFI/x/linux.efi\n  ostype Linux\n'
              '  options "root=/dev/vda1"\n  disabled no\n}\n')
    found = [(o.title, text[o.span[0]:o.span[1]]) for o in refind.manual_options(text)]
    assert found == [("Arch Linux", "root=PARTUUID=5028fa50-0079-4c40-b240-abfaf28693ea rw "
                                    "add_efi_memmap"),
                     ("Typed", "root=/dev/vda1")]


def test_refind_guest_reports_its_loader_and_every_line_gets_the_console(tmp_path):
    root = L2.build("debian-12-refind", tmp_path / "root")
    report = report_of(root)
    assert report.extra["boot_loaders"] == ["rEFInd"]
    assert statuses(report)["bootloader.serial"] == "warning"
    console = next(f for f in report.findings if f.id == "kernel.serial-console")
    assert "/boot/refind_linux.conf" in str(console.evidence)
    fix_root(root, tmp_path)
    lines = (root / "boot/refind_linux.conf").read_text().splitlines()
    assert all(line.endswith(' console=tty0 console=ttyS0,115200n8"') for line in lines)
    assert " quiet" not in lines[0] and " ro single console=tty0 " in lines[1]

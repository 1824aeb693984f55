"""The /etc/default/grub shell subset: assignments, quotes, expansion, unknowns; real corpus
files."""

from __future__ import annotations

import pytest

from bcdtool.linux import shell
from tests.helpers.common import CORPUS


def values(*texts: str) -> dict:
    return shell.parse([(f"/f{i}", t) for i, t in enumerate(texts)]).values


@pytest.mark.parametrize("text, name, value", [
    ('A="x y"', "A", "x y"),
    ("A='x $B y'", "A", "x $B y"),
    ("A=plain", "A", "plain"),
    ('A=""', "A", ""),
    ("A=", "A", ""),
    ('A="a \\"q\\" \\$B"', "A", 'a "q" $B'),
    ('B=1\nA="$B ${B}x"', "A", "1 1x"),
    ('A="un"quoted\'mix\'', "A", "unquotedmix"),
    ("export A=exported", "A", "exported"),
    ('A="line one\nline two"', "A", "line one\nline two"),
    ("A=1; B=2", "B", "2"),
    ('if true; then A=inblock; fi', "A", "inblock"),
    ("A=`lsb_release -i -s`", "A", None),
    ('A="$(sed s/x/y/ /etc/system-release)"', "A", None),
    ("A=x\nA+=y", "A", None),
    ('A="${B:-default}"', "A", None),
    ("# A=comment", "A", KeyError),
    ("echo A=notassigned", "A", KeyError),
    ("A=1 cmd arg", "A", KeyError),
])
def test_assignment_values(text, name, value):
    got = values(text)
    if value is KeyError:
        assert name not in got
    else:
        assert got[name] == value


def test_unknown_propagates_and_later_files_win():
    env = shell.parse([("/etc/default/grub", 'X=`cmd`\nY="a"\n'),
                       ("/etc/default/grub.d/50.cfg", 'Z="$X b"\nY="$Y c"\n')])
    assert env.values["Z"] is None and "unknown" in env.last("Z").reason
    assert env.values["Y"] == "a c"
    assert [a.file for a in env.chain("Y")] == ["/etc/default/grub", "/etc/default/grub.d/50.cfg"]


def test_spans_point_at_the_value_text():
    text = '# c\nGRUB_CMDLINE_LINUX="ro quiet"  # trailing\nGRUB_TERMINAL=console\n'
    env = shell.parse([("/g", text)])
    a = env.last("GRUB_CMDLINE_LINUX")
    assert text[slice(*a.inner)] == "ro quiet" and a.line == 2
    t = env.last("GRUB_TERMINAL")
    assert text[slice(*t.inner)] == "console" and t.word.quote == ""


def test_plus_equals_is_unknown_not_appended():
    env = shell.parse([("/g", 'GRUB_CMDLINE_LINUX="a"\nGRUB_CMDLINE_LINUX+=" b"\n')])
    assert env.values["GRUB_CMDLINE_LINUX"] is None
    assert "+=" in env.last("GRUB_CMDLINE_LINUX").reason


# -- real files ---------------------------------------------------------------------------------

EXPECTED = {
    "debian-12-azure-amd64": {
        "GRUB_CMDLINE_LINUX": "console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 "
                              "consoleblank=0 nvme_core.io_timeout=240 nvme_core.admin_timeout=240",
        "GRUB_TERMINAL": "console serial", "GRUB_SERIAL_COMMAND": "serial --speed=115200",
        "GRUB_DISTRIBUTOR": None, "GRUB_TIMEOUT": "1"},
    "debian-12-azure-arm64": {
        "GRUB_CMDLINE_LINUX": " initcall_blacklist=arm_pmu_acpi_init transparent_hugepage=madvise "
                              "nvme_core.io_timeout=240 nvme_core.admin_timeout=240 console=tty0 "
                              "console=ttyAMA0 earlycon=pl011,0xeffec000"},
    "ubuntu-22.04-cloudimg-amd64": {"GRUB_CMDLINE_LINUX_DEFAULT": "console=tty1 console=ttyS0",
                                    "GRUB_TERMINAL": "console", "GRUB_TIMEOUT": "0"},
    "ubuntu-24.04-ec2": {"GRUB_CMDLINE_LINUX_DEFAULT":
                         "console=tty1 console=ttyS0 nvme_core.io_timeout=4294967295",
                         "GRUB_CMDLINE_LINUX": "", "GRUB_TERMINAL": "console"},
    "rhel-8.3-ec2": {"GRUB_CMDLINE_LINUX": "console=ttyS0,115200n8 console=tty0 net.ifnames=0 "
                     "rd.blacklist=nouveau nvme_core.io_timeout=4294967295 crashkernel=auto",
                     "GRUB_DISTRIBUTOR": None, "GRUB_ENABLE_BLSCFG": "true"},
    "ubuntu-18.04-azure-prepared": {
        "GRUB_SERIAL_COMMAND": "serial --speed=9600 --unit=0 --word=8 --parity=no --stop=1",
        "GRUB_TERMINAL": "serial"},
    "azurelinux-3.0": {"GRUB_CMDLINE_LINUX": "      rd.auto=1 net.ifnames=0 lockdown=integrity ",
                       "GRUB_CMDLINE_LINUX_DEFAULT": " "},
}


def _corpus_grub_files(family: str) -> list[tuple[str, str]]:
    base = CORPUS / "linux" / family / "etc" / "default"
    files = [base / "grub"] if (base / "grub").is_file() else []
    files += sorted((base / "grub.d").glob("*.cfg")) if (base / "grub.d").is_dir() else []
    return [(str(p), p.read_text()) for p in files]


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_corpus_values(corpus, family):
    env = shell.parse(_corpus_grub_files(family))
    for name, value in EXPECTED[family].items():
        assert env.values[name] == value, name


def test_every_corpus_grub_file_parses(corpus):
    families = sorted(p.name for p in (corpus / "linux").iterdir() if p.is_dir())
    parsed = 0
    for family in families:
        files = _corpus_grub_files(family)
        if not files:
            continue
        env = shell.parse(files)
        parsed += 1
        for a in env.assignments:
            text = dict(files)[a.file]
            assert text[a.word.start:a.word.end] == a.word.text
        assert not env.notes, (family, env.notes)
    assert parsed >= 15


from hypothesis import given, settings, strategies as st  # noqa: E402

_shellish = st.text(alphabet=st.sampled_from(list("AB_=\"'`$(){}\\ \t\n#;&|+x1")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_shellish)
def test_parser_never_fails_and_spans_hold(text):
    env = shell.parse([("/f", text)])
    for a in env.assignments:
        assert text[a.word.start:a.word.end] == a.word.text
        assert 0 <= a.inner[0] <= a.inner[1] <= len(text)


@pytest.mark.parametrize("text", ["A=\\", "A=x\\", 'A="x\\', "A=\\\nB=1", "A='\\"])
def test_trailing_backslash_keeps_spans_in_the_text(text):
    """A backslash that ends the text escapes nothing: the word ends at the text's end."""
    env = shell.parse([("/f", text)])
    for a in env.assignments:
        assert a.word.end <= len(text) and text[a.word.start:a.word.end] == a.word.text

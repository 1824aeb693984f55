"""Fixtures: real disk images built with qemu-img from one raw image with positional data and
holes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.blockdev.blockdev_images import FORMATS, copy_image, qemu_img, write_raw_source
from tests.helpers.common import need_tool


@pytest.fixture(scope="session")
def raw_image(tmp_path_factory) -> Path:
    """The 64 MiB sparse raw source image."""
    return write_raw_source(tmp_path_factory.mktemp("raw") / "disk.raw")


@pytest.fixture(scope="session")
def images(raw_image, tmp_path_factory) -> dict[str, Path]:
    """Every format in FORMATS converted from `raw_image` once per session."""
    need_tool("qemu-img")
    out = {}
    for name, args in FORMATS.items():
        path = tmp_path_factory.mktemp(name) / f"{name}.img"
        qemu_img("convert", "-f", "raw", *args, raw_image, path)
        out[name] = path
    return out


@pytest.fixture
def fresh(images, tmp_path):
    """A function giving a private copy of one image, for tests that write."""
    def make(name: str) -> Path:
        return copy_image(images[name], tmp_path / name)
    return make

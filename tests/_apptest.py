"""Shared AppTest helpers of the app tests (tests/test_app*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from siting import settings

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "siting" / "ui" / "main.py")
DEMO = settings.demo_dir()
needs_demo = pytest.mark.skipif(
    not (DEMO / "communities.gpkg").exists(), reason="the bundled demo (data/demo) is missing"
)


def start_app():  # type: ignore[no-untyped-def]
    """The app's first page run by AppTest, checked to raise nothing."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload_broken_communities(at):  # type: ignore[no-untyped-def]
    """On the Data page: a communities CSV with a bad and a missing population, with the demo's
    sites; runs the app."""
    bad = "编号,人口\nC1,abc\nC2,\n".encode()
    at.file_uploader(key="up_communities").set_value(("社区.csv", bad, "text/csv"))
    at.file_uploader(key="up_sites").set_value(
        ("sites.gpkg", (DEMO / "sites.gpkg").read_bytes(), "application/octet-stream")
    )
    at.run()
    return at

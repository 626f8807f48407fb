"""A corpus of bad and hostile files through ``siting evaluate``: clear messages, no crash.

Every case of :mod:`tests.hostile.make_corpus` breaks one input of a small valid district and is
run through :func:`siting.cli.main` in-process: a rejected input must exit 2 with an
``error: <file>: ...`` line naming the problem (never a traceback, never exit 1); a repaired one
exits 0 with a ``warning:`` line. Temporary files must all be gone afterwards.

A GeoJSON community with a one-million-vertex boundary is *processed* (not rejected): it is a
valid polygon, and it loads and evaluates within bounded time and memory (checked in a
subprocess with a timeout and its peak memory).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from siting.cli import main
from tests.hostile.make_corpus import Base, Case, make_corpus, million_vertex_polygon

#: Peak memory allowed for the million-vertex run (measured: about 0.85 GB).
MILLION_MAX_RSS_MB = 1500
#: Wall-clock limit of that run (measured: about 12-19 s on a loaded 2-core machine).
MILLION_TIMEOUT_S = 60


def argv(base: Base, out: Path, **override: str) -> list[str]:
    """``siting evaluate`` on the base district, one input replaced."""
    files = {
        "communities": str(base.communities),
        "sites": str(base.sites),
        "roads": "none",
        **override,
    }
    extra = ["--standard", files.pop("standard")] if "standard" in files else []
    return [
        "evaluate",
        "--communities",
        files["communities"],
        "--sites",
        files["sites"],
        "--roads",
        files["roads"],
        "--demand",
        "centroid",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point tempfile (and TMPDIR) at an empty folder, and the network cache elsewhere."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setenv("SITING_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def run_case(case: Case, base: Base, out: Path, capsys) -> tuple[int, str]:
    if case.role == "standard":
        code = main(argv(base, out, standard=str(case.path)))
    else:
        code = main(argv(base, out, **{case.role: str(case.path)}))
    return code, capsys.readouterr().err


def failure(case: Case, code: int, err: str) -> str | None:
    """Why a case's outcome is wrong, or None."""
    if "Traceback" in err:
        return f"{case.name}: traceback\n{err}"
    if code != case.code:
        return f"{case.name}: exit {code}, expected {case.code}\n{err}"
    if case.code == 2:
        named = [
            line
            for line in err.splitlines()
            if line.startswith(f"error: {case.shown}: ") and len(line) > len(case.shown) + 12
        ]
        if not named:
            return f"{case.name}: no 'error: {case.shown}: ...' line\n{err}"
        if not any(re.search(case.expect, line) for line in named):
            return f"{case.name}: no error line matches {case.expect!r}\n{err}"
    elif not re.search(case.expect, err):
        return f"{case.name}: stderr does not match {case.expect!r}\n{err}"
    return None


def test_base_district_is_valid(tmp_path, private_tmp, capsys):
    base, _ = make_corpus(tmp_path / "corpus")
    assert main(argv(base, tmp_path / "out")) == 0
    assert "error:" not in capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_total"] == 6000
    # the base roads cover the base communities (so the road cases break only the roads)
    assert main(argv(base, tmp_path / "out2", roads=str(base.roads))) == 0
    assert "error:" not in capsys.readouterr().err


def test_every_bad_file_gives_a_clear_message(tmp_path, private_tmp, capsys):
    base, cases = make_corpus(tmp_path / "corpus")
    assert len(cases) >= 30
    assert len({c.name for c in cases}) == len(cases)
    before = sorted(os.listdir(private_tmp))
    problems = []
    ran = 0
    for case in cases:
        if "noread" in case.extra and os.geteuid() == 0:
            continue  # root reads any file; test_unreadable_file covers it for other users
        code, err = run_case(case, base, tmp_path / "out", capsys)
        ran += 1
        why = failure(case, code, err)
        if why:
            problems.append(why)
    assert not problems, "\n\n".join(problems)
    assert ran >= 30
    # nothing left in the temporary folder: zips extracted, uploads copied, all removed
    assert sorted(os.listdir(private_tmp)) == before == []


def test_unreadable_file(tmp_path, private_tmp, capsys):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    base, cases = make_corpus(tmp_path / "corpus")
    (case,) = [c for c in cases if "noread" in c.extra]
    code, err = run_case(case, base, tmp_path / "out", capsys)
    assert failure(case, code, err) is None


def test_zip_slip_writes_nothing_outside(tmp_path, private_tmp, capsys):
    base, cases = make_corpus(tmp_path / "corpus")
    (case,) = [c for c in cases if c.name == "zip slip"]
    code, _ = run_case(case, base, tmp_path / "out", capsys)
    assert code == 2
    assert not list(tmp_path.rglob("evil.dbf"))
    assert not (case.path.parent.parent / "evil.dbf").exists()


@pytest.mark.slow
def test_million_vertex_polygon_is_processed_in_bounded_time_and_memory(tmp_path):
    base, _ = make_corpus(tmp_path / "corpus")
    big = million_vertex_polygon(tmp_path / "million.geojson")
    out = tmp_path / "out"
    script = (
        "import resource, sys\n"
        "from siting.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "SITING_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv(base, out, communities=str(big))],
        capture_output=True,
        text=True,
        timeout=MILLION_TIMEOUT_S,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rss_mb = int(re.search(r"maxrss_kb (\d+)", proc.stderr).group(1)) / 1024
    assert rss_mb < MILLION_MAX_RSS_MB, f"peak memory {rss_mb:.0f} MB"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["population_total"] == 5000

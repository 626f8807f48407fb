"""Standards profiles: shipped values, sources for every value, broken profiles, overrides."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from siting import schema
from siting._errors import InputError
from siting.standards import LEVEL_FIELDS, Standard, available_standards, load_standard

DEFAULT = Path(__file__).resolve().parent.parent / "siting" / "standards" / "default.toml"


def _write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _edit(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    assert old in text, old
    return _write(tmp_path, text.replace(old, new, 1))


def test_shipped_profiles_listed():
    assert {"default", "gb50180"} <= set(available_standards())


def test_default_values_from_domain():
    std = load_standard("default")
    st = std.level("station")
    assert st.min_floor_area_m2 == 1000.0  # Lianyungang
    assert st.min_ground_floor_share == 0.5
    assert st.service_radius_m == 500.0  # 10-minute circle
    assert st.min_m2_per_100_households == 30.0
    assert st.funding_base_yuan == 300_000.0
    assert st.funding_per_party_member_yuan == 200.0
    assert std.level("street_center").min_floor_area_m2 == 1500.0
    assert std.level("point").funding_base_yuan == 2000.0
    assert std.level("point").service_radius_m == 300.0  # 5-minute circle
    assert std.level("street_center").service_radius_m == 1000.0  # 15-minute circle
    assert math.isinf(std.level("district_center").max_population)
    assert std.targets == (0.6, 0.8, 1.0)
    assert std.name == "default"


def test_gb50180_values():
    std = load_standard("gb50180")
    assert std.level("station").min_floor_area_m2 == 600.0
    assert std.level("station").service_radius_m == 300.0
    assert std.level("street_center").min_floor_area_m2 == 700.0
    assert std.name == "gb50180"


@pytest.mark.parametrize("name", ["default", "gb50180"])
def test_every_value_has_a_source(name):
    std = load_standard(name)
    keys = {f"levels.{lv}.{f}" for lv in schema.LEVELS for f in LEVEL_FIELDS}
    keys |= {"programme.targets", "coverage.covered_min_share", "coverage.partly_min_share"}
    assert keys <= set(std.sources)
    assert all(len(std.sources[k]) > 10 for k in keys)
    table = std.table()
    assert len(table) == len(keys)
    assert (table["source"].str.len() > 10).all()


def test_load_by_path_and_passthrough(tmp_path):
    p = _write(tmp_path, DEFAULT.read_text(encoding="utf-8"), "mine.toml")
    std = load_standard(p)
    assert std.level("station").min_floor_area_m2 == 1000.0
    assert load_standard(std) is std
    assert load_standard(str(p)).path == str(p)


def test_unknown_name(tmp_path):
    with pytest.raises(InputError, match=r"no standards profile named 'nope'.*default"):
        load_standard("nope")


def test_unreadable_toml(tmp_path):
    p = _write(tmp_path, "[levels.station\nmin_floor_area_m2 = 3")
    with pytest.raises(InputError, match=r"profile\.toml.*not valid TOML"):
        load_standard(p)


def test_missing_key(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    start = text.index("[levels.station]")
    line = next(x for x in text[start:].splitlines() if x.startswith("service_radius_m"))
    p = _write(tmp_path, text[:start] + text[start:].replace(line + "\n", "", 1))
    with pytest.raises(
        InputError, match=r"profile\.toml: levels\.station\.service_radius_m: missing"
    ):
        load_standard(p)


def test_wrong_type(tmp_path):
    p = _edit(
        tmp_path, "min_floor_area_m2 = { value = 1000.0", 'min_floor_area_m2 = { value = "big"'
    )
    with pytest.raises(
        InputError, match=r"levels\.station\.min_floor_area_m2: 'big' is not a number"
    ):
        load_standard(p)


def test_negative_area(tmp_path):
    p = _edit(tmp_path, "min_floor_area_m2 = { value = 1000.0", "min_floor_area_m2 = { value = -5")
    with pytest.raises(InputError, match=r"min_floor_area_m2: -5 is negative - write a value of 0"):
        load_standard(p)


def test_share_out_of_range(tmp_path):
    p = _edit(
        tmp_path, "min_ground_floor_share = { value = 0.5", "min_ground_floor_share = { value = 50"
    )
    with pytest.raises(InputError, match=r"min_ground_floor_share: 50 is outside 0-1"):
        load_standard(p)


def test_targets_decreasing(tmp_path):
    p = _edit(tmp_path, "value = [0.6, 0.8, 1.0]", "value = [0.6, 0.5, 1.0]")
    with pytest.raises(InputError, match=r"programme\.targets: \[0\.6, 0\.5, 1\.0\] decreases"):
        load_standard(p)


def test_targets_outside_range(tmp_path):
    p = _edit(tmp_path, "value = [0.6, 0.8, 1.0]", "value = [60, 80, 100]")
    with pytest.raises(
        InputError, match=r"programme\.targets: \[60, 80, 100\] has a value outside 0-1"
    ):
        load_standard(p)


def test_unknown_level(tmp_path):
    p = _edit(tmp_path, "[levels.point]", "[levels.kiosk]")
    with pytest.raises(InputError) as err:
        load_standard(p)
    msg = str(err.value)
    assert re.search(r"levels\.kiosk: unknown level 'kiosk' - use the levels district_center", msg)
    assert "levels.point: missing" in msg  # every problem of the file is listed


def test_missing_source(tmp_path):
    p = _edit(
        tmp_path,
        'max_population = { value = 25000.0, source = "GB 50180-2018 10-minute living circle: '
        '15,000-25,000 residents (upper bound, same circle as the radius)" }',
        "max_population = { value = 25000.0 }",
    )
    with pytest.raises(InputError, match=r"levels\.station\.max_population: has no source note"):
        load_standard(p)


def test_bare_value_without_table(tmp_path):
    p = _edit(tmp_path, "[coverage]\n", "[coverage]\nextra = 3\n")
    with pytest.raises(InputError, match=r"coverage\.extra: unknown setting"):
        load_standard(p)


def test_all_problems_collected(tmp_path):
    text = DEFAULT.read_text(encoding="utf-8")
    text = text.replace("value = 1000.0", "value = -1", 1).replace("value = 0.9", "value = 9", 1)
    with pytest.raises(InputError) as err:
        load_standard(_write(tmp_path, text))
    assert len(err.value.problems) == 2
    assert all(p.file.endswith("profile.toml") for p in err.value.problems)


def test_overrides():
    std = load_standard("default")
    new = std.with_overrides(
        station_min_floor_area_m2=800, street_center_service_radius_m=800.0, targets=[0.5, 0.9, 1.0]
    )
    assert isinstance(new, Standard)
    assert new.level("station").min_floor_area_m2 == 800.0
    assert new.level("street_center").service_radius_m == 800.0
    assert new.targets == (0.5, 0.9, 1.0)
    assert new.sources["levels.station.min_floor_area_m2"].startswith("user override (was 1000.0")
    # the original is untouched (frozen)
    assert std.level("station").min_floor_area_m2 == 1000.0
    with pytest.raises(AttributeError):
        std.name = "x"  # type: ignore[misc]


def test_overrides_rejected():
    std = load_standard("default")
    with pytest.raises(InputError, match="unknown setting 'station_size'"):
        std.with_overrides(station_size=3)
    with pytest.raises(InputError, match=r"levels\.point\.service_radius_m: 0 is not positive"):
        std.with_overrides(point_service_radius_m=0)
    with pytest.raises(InputError, match="partly_min_share"):
        std.with_overrides(partly_min_share=0.95)


def test_to_dict_is_json_ready():
    import json

    d = load_standard("default").to_dict()
    json.dumps(d, allow_nan=False)
    assert d["levels"]["district_center"]["max_population"] is None


def test_standard_pickles_for_the_app_cache() -> None:
    import pickle

    std = load_standard("gb50180").with_overrides(station_min_floor_area_m2=800)
    back = pickle.loads(pickle.dumps(std))
    assert back == std
    assert back.levels["station"].min_floor_area_m2 == 800
    assert back.programme_levels() == ("district_center", "street_center", "station")


def test_profile_with_a_base_gives_only_its_changes(tmp_path: Path) -> None:
    """`base = "default"` plus the changed values (each with its source): everything else is
    the base's."""
    f = tmp_path / "jinshan.toml"
    f.write_text(
        'base = "default"\n'
        "[levels.station]\n"
        'min_floor_area_m2 = { value = 1200.0, source = "区委组织部 2026 年文件" }\n'
        "[programme]\n"
        'targets = { value = [0.7, 0.9, 1.0], source = "区三年行动" }\n',
        encoding="utf-8",
    )
    std = load_standard(f)
    base = load_standard("default")
    assert std.level("station").min_floor_area_m2 == 1200.0
    assert std.targets == (0.7, 0.9, 1.0)
    # untouched values and levels are the base's
    assert std.level("station").service_radius_m == base.level("station").service_radius_m
    assert std.level("street_center").min_floor_area_m2 == 1500.0
    assert std.name == "jinshan"
    assert "jinshan.toml" in std.title


def test_profile_with_an_unknown_base_or_a_value_without_source(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text('base = "shanghai"\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_standard(f)
    (pb,) = e.value.problems
    assert pb.field == "base" and "'shanghai'" in pb.what and "default" in pb.fix
    f.write_text('base = "default"\n[levels.station]\nmin_floor_area_m2 = 1200.0\n', "utf-8")
    with pytest.raises(InputError) as e:
        load_standard(f)
    assert any("levels.station.min_floor_area_m2" in p.field for p in e.value.problems)


def test_incomplete_profile_suggests_a_base(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text(
        '[levels.station]\nmin_floor_area_m2 = { value = 1200.0, source = "x" }\n', "utf-8"
    )
    with pytest.raises(InputError) as e:
        load_standard(f)
    assert all('base = "default"' in pb.fix for pb in e.value.problems)

"""Profile fields added for the runbook's pins: operators[].version and tenants[].waypoint_for."""

from pathlib import Path

import pytest
import yaml

from ossm_conformance.profile import ProfileError, load_profile

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "spoke-dc-v6.yaml"


def _write(tmp_path, mutate) -> Path:
    data = yaml.safe_load(PROFILE.read_text())
    mutate(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_profile_pins_the_runbooks_versions():
    profile = load_profile(PROFILE)
    assert {o.package: o.version for o in profile.operators} == {"servicemeshoperator3": "3.3.7", "kiali-ossm": "2.22.2"}
    assert profile.tenant("apps-team-x").waypoint_for == "service"


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["operators"][1].update(version="v2.22.2"), "field 'operators[1].version': expected X.Y.Z"),
    (lambda d: d["tenants"][2].update(waypoint_for="everything"), "field 'tenants[2].waypoint_for': expected one of"),
], ids=["version-with-v", "waypoint-for"])
def test_bad_pins_are_one_line_errors(tmp_path, mutate, fragment):
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, mutate))
    assert fragment in str(err.value) and "\n" not in str(err.value)

"""`service` and `version` are checked by one shared validator at every entry point."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.errors import ValidationError
from leitstand.validators import check_service, check_version, is_version

DEV = Actor(name="dana", role="developer")
FIELDS = {"what": "x", "why": "y", "rollback": "z", "tests": "t"}


@pytest.mark.parametrize(
    "version",
    ["2.4.0", "1.0", "9", "2.4.0rc1", "1!2.0", "2.4.0.post1", "2.4.0-rc.1+build.5", "1.0.0-alpha"],
)
def test_pep440_and_semver_versions_are_accepted(version: str) -> None:
    assert is_version(version)
    assert check_version(version) == version


@pytest.mark.parametrize(
    "version",
    ["", "latest", "../etc", "2.4.0 ", " 2.4.0", "2.4.0;rm -rf /", "=1+1", "1." + "0" * 99, "1/2"],
)
def test_anything_else_is_a_validation_error_naming_the_field(version: str) -> None:
    assert not is_version(version)
    with pytest.raises(ValidationError, match=r"^version: a PEP 440 or SemVer version"):
        check_version(version)


def test_an_unknown_service_names_the_known_ones() -> None:
    assert check_service("portal", ["portal", "api"]) == "portal"
    with pytest.raises(ValidationError) as err:
        check_service("billing", ["portal", "api"], where="deployment.releases")
    assert str(err.value) == (
        "service: unknown service 'billing': the policy's deployment.releases are portal, api"
    )


def test_a_change_for_an_unknown_service_or_bad_version_is_refused(container: Container) -> None:
    with pytest.raises(ValidationError) as err:
        container.changes.open(
            service="billing", version="next", category="normal", fields=FIELDS, actor=DEV
        )
    assert [i.path for i in err.value.issues] == ["service", "version"]
    assert "smart-bav-portal, enterprise-api" in str(err.value)
    assert container.changes.list() == []

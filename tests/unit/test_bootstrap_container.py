"""The container finds services by type and names the domains' services as typed shortcuts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from leitstand import domains
from leitstand.bootstrap import Container, Shortcut
from leitstand.policy.model import Policy
from leitstand.settings import Settings
from leitstand.testing import ManualClock


class _Core:
    pass


class _Base:
    pass


class _First(_Base):
    pass


class _Second(_Base):
    pass


def _container(tmp_path: Path, *services: object) -> Container:
    core = cast(Any, _Core())
    return Container(
        settings=Settings(home=tmp_path / "home"),
        clock=ManualClock(),
        policy=Policy(),
        policy_file=None,
        db=core,
        ledger=core,
        auth=core,
        audit=core,
        scheduler=core,
        services=list(services),
    )


def _shortcuts() -> dict[str, Shortcut[Any]]:
    return {n: v for n, v in vars(Container).items() if isinstance(v, Shortcut)}


def test_get_finds_a_service_by_its_type_or_a_base_class_the_first_wired_winning(
    tmp_path: Path,
) -> None:
    first, second = _First(), _Second()
    container = _container(tmp_path, first, second)
    assert container.get(_First) is first
    assert container.get(_Second) is second
    assert container.get(_Base) is first  # registry order: the earlier domain's service
    assert container.get(Policy) is container.policy
    assert container.get(_Core) is cast(object, container.db)


def test_get_names_a_kind_that_is_not_wired(tmp_path: Path) -> None:
    container = _container(tmp_path, _First())
    with pytest.raises(LookupError, match="no service of type _Second is wired"):
        container.get(_Second)


def test_reindex_follows_a_replaced_field(tmp_path: Path) -> None:
    container = _container(tmp_path)
    new = Policy()
    object.__setattr__(container, "policy", new)  # what the policy reload does
    container.reindex()
    assert container.get(Policy) is new


def test_every_shortcut_is_the_wired_service_of_the_type_it_declares(
    sqlite_container: Container,
) -> None:
    shortcuts = _shortcuts()
    assert len(shortcuts) == 11
    for name, shortcut in shortcuts.items():
        kind = domains.load(shortcut.target)
        assert f"Shortcut[{kind.__name__}]" in Container.__annotations__[name], name
        service = getattr(sqlite_container, name)
        assert type(service) is kind and service is sqlite_container.get(kind), name


def test_a_shortcut_is_read_only(tmp_path: Path) -> None:
    container = _container(tmp_path)
    with pytest.raises(AttributeError, match="read-only"):
        container.changes = cast(Any, object())  # type: ignore[misc]


def test_the_container_class_imports_no_domain() -> None:
    code = (
        "import sys; from leitstand.bootstrap import Container; Container.incidents; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "[['leitstand', d] for d in ('alerting', 'incidents', 'changes', 'flags', 'gates', "
        "'backups', 'releases')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"

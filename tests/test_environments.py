"""The environments of ``gitops-release.toml`` (issue 17): order, Application names, soak, checks;
every mistake is refused on load (exit 2) naming the table and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release import config
from gitops_release.errors import ExitCode, UsageError

GOOD = """\
timeout = 120

[[environments]]
name = "dev"

[[environments]]
name = "staging"
soak = "30m"
checks = ["preview"]

[[environments]]
name = "prod"
soak = 90
application = "{app}"
applications = { web = "web-production" }
checks = ["preview", "prod", "https://status.example.com/health"]
"""


def _load(tmp_path: Path, text: str) -> config.Settings:
    (tmp_path / "gitops-release.toml").write_text(text)
    return config.resolve(environ={}, cwd=tmp_path)


def test_environments_in_order_with_names_soak_and_checks(tmp_path: Path) -> None:
    settings = _load(tmp_path, GOOD)
    envs = settings.environments
    assert envs.names == ["dev", "staging", "prod"]
    assert settings["timeout"] == 120.0  # the settings still load beside the table
    dev, staging, prod = envs.order
    assert dev.app_name("myapp") == "myapp-dev" and dev.soak == 0 and dev.checks == ()
    assert staging.app_name("myapp") == "myapp-staging" and staging.soak == 1800
    assert staging.checks == ("preview",)
    assert prod.app_name("myapp") == "myapp" and prod.app_name("web") == "web-production"
    assert prod.soak == 90
    assert envs.before(prod) is staging and envs.before(dev) is None
    assert envs.get("staging") is staging


def test_no_config_means_no_environments(tmp_path: Path) -> None:
    envs = config.resolve(environ={}, cwd=tmp_path).environments
    with pytest.raises(UsageError, match="no environments configured"):
        envs.get("prod")


def test_unknown_environment_names_the_known_ones(tmp_path: Path) -> None:
    envs = _load(tmp_path, GOOD).environments
    with pytest.raises(UsageError) as err:
        envs.get("qa", flag="--to")
    assert "--to 'qa' is not an environment" in err.value.message
    assert err.value.hint == "known, in order: dev, staging, prod"


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('[[environments]]\nname = "Prod!"\n', "name must be a lower-case DNS label"),
        ('[[environments]]\nname = "a"\n[[environments]]\nname = "a"\n', "'a' is listed twice"),
        ('[[environments]]\nname = "a"\nsoak = "soon"\n', "soak 'soon' is not a duration"),
        ('[[environments]]\nname = "a"\napplication = "{env}"\n', "must use {app}"),
        ('[[environments]]\nname = "a"\napplication = "{app}-{region}"\n', "must use {app}"),
        ('[[environments]]\nname = "a"\nchecks = ["smoke"]\n', "check 'smoke' is neither"),
        ('[[environments]]\nname = "a"\nsoke = "1h"\n', "unknown key(s) soke"),
        ('[[environments]]\nname = "a"\napplications = ["x"]\n', "applications must map"),
        ("environments = []\n", "non-empty list"),
        ('environments = "dev,prod"\n', "non-empty list"),
    ],
)
def test_bad_environments_are_refused_on_load(tmp_path: Path, table: str, words: str) -> None:
    with pytest.raises(UsageError) as err:
        _load(tmp_path, table)
    assert err.value.exit_code == ExitCode.USAGE
    assert words in err.value.message
    assert "gitops-release.toml" in err.value.message

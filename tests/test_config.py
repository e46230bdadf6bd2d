from __future__ import annotations

from pathlib import Path

import pytest

from pplbot.config import SETTINGS, load_settings
from pplbot.errors import ConfigError
from tests.conftest import ROOT


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({}, bundled_knowledge=tmp_path)
    assert s.knowledge_dir == tmp_path and s.data_dir.name == "pplbot" and s.quiz_idle_minutes == 30
    assert not s.matrix_enabled and not s.telegram_enabled


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "pplbot.yaml"
    config.write_text("quiz_idle_minutes: 5\ntelegram_moderators: [1, 2]\nlog_level: debug\n", encoding="utf-8")
    s = load_settings({"PPLBOT_QUIZ_IDLE_MINUTES": "7"}, file=config)
    assert s.quiz_idle_minutes == 7 and s.telegram_moderators == ("1", "2") and s.log_level == "DEBUG"
    s = load_settings({"PPLBOT_CONFIG": str(config)})
    assert s.quiz_idle_minutes == 5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PPLBOT_QUIZ_IDLE_MINUTES": "-3"}, "PPLBOT_QUIZ_IDLE_MINUTES"),
        ({"PPLBOT_LOG_LEVEL": "loud"}, "PPLBOT_LOG_LEVEL"),
        ({"PPLBOT_MATRIX_HOMESERVER": "matrix.org"}, "PPLBOT_MATRIX_HOMESERVER"),
        ({"PPLBOT_MATRIX_HOMESERVER": "https://m.org", "PPLBOT_MATRIX_USER_ID": "@b:m.org"}, "PPLBOT_MATRIX_PASSWORD"),
        ({"PPLBOT_TELEGRAM_TOKEN": "nocolon"}, "PPLBOT_TELEGRAM_TOKEN"),
        ({"PPLBOT_HTTP_LISTEN": "8080"}, "PPLBOT_HTTP_LISTEN"),
        ({"PPLBOT_TELEGRAM_MODERATOR": "1"}, "PPLBOT_TELEGRAM_MODERATOR"),
        ({"PPLBOT_MATRIX_POWER_LEVEL_MODERATORS": "maybe"}, "PPLBOT_MATRIX_POWER_LEVEL_MODERATORS"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("nonsense_key: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'nonsense_key'"):
        load_settings({}, file=config)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, file=tmp_path / "missing.yaml")


def test_secrets_are_masked() -> None:
    s = load_settings(
        {
            "PPLBOT_MATRIX_HOMESERVER": "https://m.org",
            "PPLBOT_MATRIX_USER_ID": "@b:m.org",
            "PPLBOT_MATRIX_PASSWORD": "hunter2",
        }
    )
    shown = s.describe()
    assert shown["matrix_password"] == "********" and "hunter2" not in str(shown)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if s.env not in readme]
    assert not missing, f"README lacks {missing}"

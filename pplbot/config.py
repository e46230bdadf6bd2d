"""Settings: defaults, then a YAML file (`--config` or PPLBOT_CONFIG), then PPLBOT_* variables.

Every setting has one name: `matrix_homeserver` in the file is `PPLBOT_MATRIX_HOMESERVER` in
the environment. A bad value fails at start with a ConfigError naming the setting. Secrets are
masked in every output (`Settings.describe()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from pplbot.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "Settings", "default_data_dir", "load_settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: str  # str | path | int | bool | list | secret | level
    default: object
    doc: str

    @property
    def env(self) -> str:
        return "PPLBOT_" + self.name.upper()


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pplbot"


SETTINGS: tuple[Setting, ...] = (
    Setting("knowledge_dir", "path", None, "Knowledge base folder (default: the bundled `knowledge/`)."),
    Setting("data_dir", "path", None, "Folder for SQLite state and other data (default: `~/.local/share/pplbot`)."),
    Setting("log_level", "level", "INFO", "DEBUG, INFO, WARNING or ERROR. Message text is logged only at DEBUG."),
    Setting("log_format", "str", "text", "`text` or `json` (one JSON object per line)."),
    Setting("quiz_idle_minutes", "int", 30, "Minutes without an answer after which a questionnaire expires."),
    Setting("unanswered_retention_days", "int", 90, "Days the unanswered-question log keeps a question."),
    Setting("matrix_homeserver", "str", None, "Matrix homeserver URL, e.g. `https://matrix.example.org`."),
    Setting("matrix_user_id", "str", None, "The bot's Matrix user id, e.g. `@pplbot:example.org`."),
    Setting("matrix_password", "secret", None, "Password for the Matrix login (or use an access token)."),
    Setting("matrix_access_token", "secret", None, "Access token for the Matrix login (instead of a password)."),
    Setting("matrix_moderators", "list", (), "Matrix user ids allowed to use moderator commands, comma-separated."),
    Setting(
        "matrix_moderators_room", "str", None, "Room id where moderators get reports (e.g. a failed knowledge reload)."
    ),
    Setting(
        "matrix_power_level_moderators", "bool", True, "Also treat room members with power level >= 50 as moderators."
    ),
    Setting("matrix_command_prefix", "str", "!ppl", "Prefix that addresses the bot in Matrix group rooms."),
    Setting(
        "matrix_max_age_minutes", "int", 10, "After a restart, answer messages younger than this; ignore older ones."
    ),
    Setting(
        "matrix_allowed",
        "list",
        (),
        "Homeservers (`example.org`), users or room ids the bot accepts invites from; empty: any.",
    ),
    Setting("telegram_token", "secret", None, "Telegram bot token from @BotFather."),
    Setting(
        "telegram_base_url", "str", None, "Bot API base URL, e.g. `http://127.0.0.1:8081/bot` (the token is appended)."
    ),
    Setting("telegram_moderators", "list", (), "Telegram user ids allowed to use moderator commands, comma-separated."),
    Setting(
        "telegram_moderators_chat",
        "str",
        None,
        "Chat id where moderators get reports (e.g. a failed knowledge reload).",
    ),
    Setting("telegram_admins_are_moderators", "bool", True, "Also treat a group's administrators as moderators."),
    Setting("telegram_webhook_listen", "str", None, "Webhook mode: `host:port` to listen on (default: long polling)."),
    Setting("telegram_webhook_url", "str", None, "Webhook mode: the public URL Telegram posts updates to."),
    Setting("telegram_webhook_secret", "secret", None, "Webhook mode: secret token checked on every request."),
    Setting(
        "http_listen",
        "str",
        None,
        "`host:port` for /healthz, /metrics and the moderators' page /admin (off by default).",
    ),
    Setting(
        "web_base_url",
        "str",
        None,
        "Public address of the moderators' page, used in sign-in links, e.g. `https://pplbot.example.org` "
        "(default: `http://` + PPLBOT_HTTP_LISTEN). With `https://` the session cookie is Secure.",
    ),
    Setting("web_session_hours", "int", 12, "Hours a moderator's web session lasts after signing in."),
)
_BY_NAME = {s.name: s for s in SETTINGS}
_SECRET_MASK = "********"


@dataclass(frozen=True, slots=True)
class Settings:
    knowledge_dir: Path
    data_dir: Path
    log_level: str = "INFO"
    log_format: str = "text"
    quiz_idle_minutes: int = 30
    unanswered_retention_days: int = 90
    matrix_homeserver: str | None = None
    matrix_user_id: str | None = None
    matrix_password: str | None = None
    matrix_access_token: str | None = None
    matrix_moderators: tuple[str, ...] = ()
    matrix_power_level_moderators: bool = True
    matrix_command_prefix: str = "!ppl"
    matrix_max_age_minutes: int = 10
    matrix_moderators_room: str | None = None
    matrix_allowed: tuple[str, ...] = ()
    telegram_token: str | None = None
    telegram_base_url: str | None = None
    telegram_moderators: tuple[str, ...] = ()
    telegram_moderators_chat: str | None = None
    telegram_admins_are_moderators: bool = True
    telegram_webhook_listen: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    http_listen: str | None = None
    web_base_url: str | None = None
    web_session_hours: int = 12

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def database(self) -> Path:
        return self.data_dir / "pplbot.sqlite3"

    def describe(self) -> dict[str, str]:
        """Every effective setting as text, secrets masked."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if _BY_NAME[f.name].kind == "secret" and value:
                shown = _SECRET_MASK
            elif isinstance(value, tuple):
                shown = ",".join(value)
            else:
                shown = "" if value is None else str(value)
            out[f.name] = shown
        return out


def _convert(setting: Setting, value: object, origin: str) -> object:
    where = f"{setting.env} ({origin})" if origin == "environment" else f"{setting.name} ({origin})"
    if value is None or value == "":
        return None if setting.default is None else setting.default
    if setting.kind in {"str", "secret"}:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be text, got {value!r}")
        return value.strip()
    if setting.kind == "path":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a path, got {value!r}")
        return Path(value).expanduser()
    if setting.kind == "int":
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where}: must be a whole number, got {value!r}") from None
        if number <= 0:
            raise ConfigError(f"{where}: must be greater than 0, got {number}")
        return number
    if setting.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    if setting.kind == "list":
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if setting.kind == "level":
        level = str(value).strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"{where}: must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
        return level
    raise ConfigError(f"{where}: unknown kind {setting.kind}")  # pragma: no cover


def load_settings(
    environ: Mapping[str, str] | None = None, file: Path | None = None, bundled_knowledge: Path | None = None
) -> Settings:
    """Build Settings from defaults, the YAML file and the environment (which wins)."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    config_file = file or (Path(env["PPLBOT_CONFIG"]) if env.get("PPLBOT_CONFIG") else None)
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"config file {config_file}: cannot read it ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {config_file}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"config file {config_file}: must be a mapping of setting: value")
        for key, value in data.items():
            setting = _BY_NAME.get(str(key))
            if setting is None:
                raise ConfigError(f"config file {config_file}: unknown setting {key!r}")
            values[setting.name] = _convert(setting, value, f"config file {config_file}")
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _convert(setting, env[setting.env], "environment")
    for key in env:
        if key.startswith("PPLBOT_") and key != "PPLBOT_CONFIG" and key[7:].lower() not in _BY_NAME:
            raise ConfigError(f"{key}: unknown setting (see the README's configuration reference)")
    if values.get("knowledge_dir") is None:
        from pplbot.knowledge_files import bundled_knowledge_dir

        values["knowledge_dir"] = bundled_knowledge or bundled_knowledge_dir()
    if values.get("data_dir") is None:
        values["data_dir"] = default_data_dir()
    values = {k: v for k, v in values.items() if v is not None}
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    if s.matrix_homeserver:
        if not s.matrix_homeserver.startswith(("http://", "https://")):
            raise ConfigError("PPLBOT_MATRIX_HOMESERVER: must start with http:// or https://")
        if not s.matrix_user_id or not s.matrix_user_id.startswith("@") or ":" not in s.matrix_user_id:
            raise ConfigError("PPLBOT_MATRIX_USER_ID: must be set to a user id like @pplbot:example.org")
        if not (s.matrix_password or s.matrix_access_token):
            raise ConfigError("PPLBOT_MATRIX_PASSWORD or PPLBOT_MATRIX_ACCESS_TOKEN: one must be set for Matrix")
    if s.telegram_token and ":" not in s.telegram_token:
        raise ConfigError("PPLBOT_TELEGRAM_TOKEN: does not look like a bot token (digits:letters)")
    if s.telegram_base_url and not s.telegram_base_url.startswith(("http://", "https://")):
        raise ConfigError("PPLBOT_TELEGRAM_BASE_URL: must start with http:// or https://")
    for name in ("http_listen", "telegram_webhook_listen"):
        value = getattr(s, name)
        if value and (":" not in value or not value.rsplit(":", 1)[1].isdigit()):
            raise ConfigError(f"PPLBOT_{name.upper()}: must be host:port, got {value!r}")
    if s.web_base_url and not s.web_base_url.startswith(("http://", "https://")):
        raise ConfigError("PPLBOT_WEB_BASE_URL: must start with http:// or https://")
    if s.log_format not in {"text", "json"}:
        raise ConfigError("PPLBOT_LOG_FORMAT: must be text or json")

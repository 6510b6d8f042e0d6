"""Settings: defaults < config.json < PLAYALTER__SECTION__KEY, coercion, clear errors, masking, the CLI."""

from __future__ import annotations

import copy
import json

import pytest

from playalter.pipelines.core import config
from playalter.pipelines.core.user_dirs import user_data_dir
from playalter.pipelines.core.config import ConfigError, load_settings, masked
from playalter.runner.cli.main import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("PLAYALTER"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config.reset_settings()
    yield
    config.reset_settings()


def write_config(path, values) -> str:
    path.write_text(json.dumps(values), encoding="utf-8")
    return str(path)


def test_defaults_without_file_or_environment():
    values = load_settings(environ={})
    assert values.security.max_file_size_mb == 10.0
    assert values.enable_face_swap is True
    expected = copy.deepcopy(config.DEFAULTS)
    expected["paths"]["data_dir"] = str(user_data_dir({}))  # empty by default: the per-user folder
    assert values.as_dict() == expected


def test_precedence_defaults_then_file_then_environment(tmp_path):
    path = write_config(tmp_path / "mine.json", {"security": {"max_file_size_mb": 5, "max_image_side": 2048},
                                                 "enable_flame": False})
    from_file = load_settings(path, environ={})
    assert from_file.security.max_file_size_mb == 5.0 and from_file.security.max_image_side == 2048
    assert from_file.enable_flame is False and from_file.security.min_image_side == 64  # default kept
    both = load_settings(path, environ={"PLAYALTER__SECURITY__MAX_FILE_SIZE_MB": "2.5",
                                        "PLAYALTER__ENABLE_FLAME": "yes"})
    assert both.security.max_file_size_mb == 2.5 and both.security.max_image_side == 2048
    assert both.enable_flame is True


def test_config_file_from_variable_or_working_directory(tmp_path, monkeypatch):
    write_config(tmp_path / "config.json", {"detection": {"threshold": 0.7}})
    assert load_settings(environ={}).detection.threshold == 0.7
    other = write_config(tmp_path / "other.json", {"detection": {"threshold": 0.3}})
    assert load_settings(environ={"PLAYALTER_CONFIG": other}).detection.threshold == 0.3


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("On", True), ("no", False),
                                           (" FALSE ", False), ("off", False)])
def test_environment_booleans(raw, expected):
    assert load_settings(environ={"PLAYALTER__ENABLE_FACE_SWAP": raw}).enable_face_swap is expected


def test_environment_numbers_and_strings():
    values = load_settings(environ={
        "PLAYALTER__SERVER__PORT": " 9000 ",
        "PLAYALTER__SECURITY__MAX_FILE_SIZE_MB": "10",
        "PLAYALTER__LOGGING__LEVEL": "debug",
        "PLAYALTER__PATHS__MODELS_DIR": "/srv/models",
        "UNRELATED": "ignored",
    })
    assert values.server.port == 9000 and isinstance(values.server.port, int)
    assert values.security.max_file_size_mb == 10.0 and isinstance(values.security.max_file_size_mb, float)
    assert values.logging.level == "debug" and values.paths.models_dir == "/srv/models"


@pytest.mark.parametrize("environ, message", [
    ({"PLAYALTER__SERVER__PORT": "80.5"},
     "setting 'server.port' from environment variable PLAYALTER__SERVER__PORT: expected a whole number, got '80.5'"),
    ({"PLAYALTER__ENABLE_FACE_SWAP": "maybe"}, "expected true or false, got 'maybe'"),
    ({"PLAYALTER__SECURITY__MAX_FILE_SIZE_MB": "nan"}, "expected a finite number, got 'nan'"),
    ({"PLAYALTER__SECURITY__MAX_FILE_SIZE": "3"},
     "unknown setting 'security.max_file_size' in environment variable PLAYALTER__SECURITY__MAX_FILE_SIZE; "
     "known in security: "),
    ({"PLAYALTER__SECURITY": "3"}, "setting 'security' from environment variable PLAYALTER__SECURITY must be an object"),
    ({"PLAYALTER__SECURITY__MAX_FILE_SIZE_MB": "0"}, "security.max_file_size_mb must be positive"),
    ({"PLAYALTER__DETECTION__THRESHOLD": "1.5"}, "detection.threshold must be between 0 and 1"),
    ({"PLAYALTER__DETECTION__BACKEND": "yolo"}, "detection.backend must be one of"),
    ({"PLAYALTER__LOGGING__LEVEL": "loud"}, "logging.level must be"),
])
def test_bad_environment_values_are_clear_errors(environ, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    assert message in str(caught.value)


def test_bad_config_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*absent.json"):
        load_settings(str(tmp_path / "absent.json"), environ={})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.json is not valid JSON"):
        load_settings(str(broken), environ={})
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        load_settings(write_config(tmp_path / "list.json", [1, 2]), environ={})
    typo = write_config(tmp_path / "typo.json", {"secruity": {}})
    with pytest.raises(ConfigError, match=r"unknown setting 'secruity' in .*typo.json; known top-level: .*security"):
        load_settings(typo, environ={})
    wrong_type = write_config(tmp_path / "wrong.json", {"server": {"port": "eighty"}})
    with pytest.raises(ConfigError, match=r"'server.port' from .*wrong.json: expected a whole number, got 'eighty'"):
        load_settings(wrong_type, environ={})


def test_settings_are_read_only():
    values = load_settings(environ={})
    with pytest.raises(AttributeError, match="read-only"):
        values.security.max_file_size_mb = 1


def test_masking_hides_secrets_and_url_credentials():
    values = load_settings(environ={
        "PLAYALTER__SECURITY__JWT_SECRET": "s3cret-value",
        "PLAYALTER__RATE_LIMIT__STORAGE": "redis://app:pa55@cache.local:6379/0",
    }).as_dict()
    shown = masked(values)
    assert shown["security"]["jwt_secret"] == "***"
    assert shown["rate_limit"]["storage"] == "redis://***@cache.local:6379/0"
    assert masked({"token": "", "url": "memory://", "path": "http://host/a@b"}) == {
        "token": "", "url": "memory://", "path": "http://host/a@b"}
    assert values["security"]["jwt_secret"] == "s3cret-value"  # masking copies


def test_config_command_prints_effective_masked_json(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PLAYALTER__SECURITY__JWT_SECRET", "do-not-show")
    monkeypatch.setenv("PLAYALTER__SERVER__PORT", "9100")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert printed["server"]["port"] == 9100 and printed["security"]["jwt_secret"] == "***"
    assert "do-not-show" not in out
    path = write_config(tmp_path / "alt.json", {"server": {"workers": 7}})
    assert main(["config", "--file", path]) == 0
    assert json.loads(capsys.readouterr().out)["server"]["workers"] == 7


def test_config_command_reports_bad_values(monkeypatch, capsys):
    monkeypatch.setenv("PLAYALTER__SERVER__PORT", "http")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: setting 'server.port' from environment variable PLAYALTER__SERVER__PORT")
    assert "Traceback" not in err


def test_a_setting_belongs_to_one_layer():
    with pytest.raises(ValueError, match="setting 'server.port' is already defined"):
        config.add_settings({"server": {"port": 1}}, lambda values: None)
    assert config.DEFAULTS["server"]["port"] == 8188

"""Issue 12 item 15: state and fetched models live in a per-user folder, not in the working directory."""

from __future__ import annotations

import os
from pathlib import Path

from playalter.pipelines.models import download
from playalter.pipelines import models
from playalter.pipelines.core.config import load_settings
from playalter.pipelines.core.user_dirs import user_data_dir


def test_platform_conventions():
    home = {"HOME": "/home/ann"}
    assert user_data_dir(home, "linux") == Path("/home/ann/.local/share/playalter")
    assert user_data_dir({**home, "XDG_DATA_HOME": "/xdg"}, "linux") == Path("/xdg/playalter")
    assert user_data_dir({**home, "XDG_DATA_HOME": "relative"}, "linux") == Path("/home/ann/.local/share/playalter")
    assert user_data_dir(home, "darwin") == Path("/home/ann/Library/Application Support/playalter")
    assert user_data_dir({"LOCALAPPDATA": "C:/Users/ann/AppData/Local"}, "win32") == \
        Path("C:/Users/ann/AppData/Local/playalter")
    assert user_data_dir({**home, "PLAYALTER_DATA_HOME": "/srv/playalter"}, "linux") == Path("/srv/playalter")


def test_data_dir_defaults_to_the_user_folder_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environ = {"HOME": "/home/ann"}
    assert load_settings(environ=environ).paths.data_dir == "/home/ann/.local/share/playalter"
    configured = load_settings(environ={**environ, "PLAYALTER__PATHS__DATA_DIR": "data"})
    assert configured.paths.data_dir == "data"  # ./data only when configured


def test_models_are_fetched_into_the_user_folder_and_still_found_in_dot_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAYALTER_MODELS_DIR", raising=False)
    monkeypatch.setenv("PLAYALTER_DATA_HOME", str(tmp_path / "user"))
    assert download.default_root() == tmp_path / "user" / "models"
    assert models.models_roots() == [tmp_path / "user" / "models", tmp_path / "models"]
    monkeypatch.setenv("PLAYALTER_MODELS_DIR", str(tmp_path / "chosen"))
    assert download.default_root() == tmp_path / "chosen"
    assert models.models_roots()[1:] == [tmp_path / "user" / "models", tmp_path / "models"]


def test_the_tests_never_use_the_real_user_folder():
    assert Path(os.environ["PLAYALTER_DATA_HOME"]) != user_data_dir({"HOME": str(Path.home())}, "linux")
    assert not str(user_data_dir()).startswith(str(Path.home() / ".local" / "share"))


def test_data_is_ignored_by_git():
    ignored = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().splitlines()
    assert "/data/" in ignored

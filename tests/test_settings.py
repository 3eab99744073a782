"""Settings: defaults that run the embedded demo, TOML + environment, one clear line on error."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from wall.settings import Settings, load_settings, setting_docs
from wall.settings_core import (
    PROJECT_DIR,
    Section,
    SettingsError,
    masked_url,
    positive_number,
    setting,
)


def test_defaults_run_the_embedded_store_under_the_project_data_folder() -> None:
    settings = load_settings(environ={})
    assert settings.store == f"sqlite:///{PROJECT_DIR / 'data' / 'ioc.db'}"
    assert settings.city == "hoa-thanh" and settings.timezone is None  # the profile's zone
    assert settings.tz.key == "Asia/Ho_Chi_Minh"
    assert load_settings(environ={"IOC_CITY": "lakeside"}).tz.key == "Asia/Kolkata"
    assert load_settings(environ={"IOC_TIMEZONE": "Asia/Bangkok"}).tz.key == "Asia/Bangkok"
    assert settings.language == "vi"


def test_environment_overrides_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text(
        'store = "influxdb://influx.local:8086/ioc"\nrefresh_seconds = 3\nlanguage = "en"\n'
    )
    settings = load_settings(config, environ={"IOC_REFRESH_SECONDS": "2.5"})
    assert settings.store == "influxdb://influx.local:8086/ioc"
    assert settings.refresh_seconds == 2.5
    assert settings.language == "en"
    via_env = load_settings(environ={"IOC_CONFIG": str(config)})
    assert via_env.refresh_seconds == 3


@pytest.mark.parametrize(
    ("environ", "setting", "problem"),
    [
        ({"IOC_STORE": "postgres://db/ioc"}, "IOC_STORE", "unknown scheme 'postgres'"),
        ({"IOC_STORE": "influxdb:///ioc"}, "IOC_STORE", "names no host"),
        ({"IOC_STORE": "influxdb://h:8086/"}, "IOC_STORE", "one database"),
        ({"IOC_STORE": "influxdb://h:99999/ioc"}, "IOC_STORE", "bad port"),
        ({"IOC_STORE": "sqlite://"}, "IOC_STORE", "no database file"),
        ({"IOC_REFRESH_SECONDS": "five"}, "IOC_REFRESH_SECONDS", "not a number"),
        ({"IOC_REFRESH_SECONDS": "0"}, "IOC_REFRESH_SECONDS", "greater than 0"),
        ({"IOC_REFRESH_SECONDS": "nan"}, "IOC_REFRESH_SECONDS", "greater than 0"),
        ({"IOC_INFLUX_RETRIES": "2.5"}, "IOC_INFLUX_RETRIES", "whole number"),
        ({"IOC_TIMEZONE": "Asia/Hanoi_City"}, "IOC_TIMEZONE", "time zone"),
        ({"IOC_LANGUAGE": "fr"}, "IOC_LANGUAGE", "vi, en"),
        ({"IOC_MQTT_KEEPALIVE_SECONDS": "0"}, "IOC_MQTT_KEEPALIVE_SECONDS", "at least 1"),
        ({"IOC_MQTT_KEEPALIVE_SECONDS": "70000"}, "IOC_MQTT_KEEPALIVE_SECONDS", "at most 65535"),
        ({"IOC_RETENTION_RAW_DAYS": "[14]"}, "IOC_RETENTION_RAW_DAYS", "table of measurement"),
        (
            {"IOC_RETENTION_RAW_DAYS": '{"wifi usage": 14}'},
            "IOC_RETENTION_RAW_DAYS",
            "'wifi usage' is not a measurement name",
        ),
        (
            {"IOC_RETENTION_RAW_DAYS": '{"wifi_usage": 0.5}'},
            "IOC_RETENTION_RAW_DAYS",
            "days of wifi_usage: 0.5 is less than one day",
        ),
        (
            {"IOC_RETENTION_RAW_DAYS": '{"wifi_usage": "two"}'},
            "IOC_RETENTION_RAW_DAYS",
            "days of wifi_usage: 'two' is not a number",
        ),
    ],
)
def test_a_bad_setting_names_itself(environ: dict, setting: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert caught.value.setting == setting
    assert problem in caught.value.problem


def test_settings_file_problems_name_the_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text("refresh_secnds = 3\n")
    with pytest.raises(SettingsError, match=r"refresh_secnds.*unknown setting"):
        load_settings(config, environ={})
    config.write_text("refresh_seconds = [3]\n")
    with pytest.raises(
        SettingsError, match=r"refresh_seconds in .*ioc.toml: \[3\] is not a number"
    ):
        load_settings(config, environ={})
    config.write_text("refresh_seconds = \n")
    with pytest.raises(SettingsError, match="is not TOML"):
        load_settings(config, environ={})
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


@pytest.mark.parametrize(
    ("environ", "args", "setting"),
    [
        ({"IOC_STORE": "mysql://x/y"}, [], "IOC_STORE"),
        ({"IOC_REFRESH_SECONDS": "abc"}, [], "IOC_REFRESH_SECONDS"),
        ({}, ["--config", "/nonexistent/ioc.toml"], "IOC_CONFIG"),
    ],
)
def test_program_stops_with_exit_2_and_one_line(environ: dict, args: list, setting: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wall", *args, "check"],
        env={**environ, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"wall: bad setting {setting}")


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        (
            "IOC_STORE",
            "influxdb://ioc:s3cret@db.city:80x/ioc",
            "influxdb://ioc:***@db.city:80x/ioc",
        ),
        ("IOC_MQTT_URL", "mqtt://wall:s3cret@", "mqtt://wall:***@"),
        ("IOC_CACHE_URL", "memcached://wall:s3cret@cache.city", "memcached://wall:***@cache.city"),
    ],
)
def test_a_bad_url_is_shown_without_its_password(name: str, value: str, shown: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wall", "check"],
        env={name: value, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"wall: bad setting {name}: "), result.stderr
    assert repr(shown) in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_check_shows_settings_with_secrets_masked(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wall", "check"],
        env={
            "IOC_STORE": f"sqlite:///{tmp_path / 'x.db'}",
            "IOC_INFLUX_TOKEN": "s3cret",
            "PATH": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout
    assert "store ready" in result.stdout
    assert (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("influxdb://ioc:p%40ss@db.city:8086/ioc", "influxdb://ioc:***@db.city:8086/ioc"),
        ("mqtts://wall:p@ss@broker.city", "mqtts://wall:***@broker.city"),
        ("mqtt://broker.city:1883", "mqtt://broker.city:1883"),
        ("mqtt://wall@broker.city", "mqtt://wall@broker.city"),
        ("sqlite:////var/lib/ioc/ioc.db", "sqlite:////var/lib/ioc/ioc.db"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    documented = set(re.findall(r"^\| `(IOC_[A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))
    assert {name for name, _, _ in setting_docs()} <= documented
    assert "IOC_CONFIG" in documented


def test_settings_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Settings().store = "x"  # type: ignore[misc]


def test_readme_settings_tables_are_what_the_script_writes() -> None:
    """README's tables as `python scripts/update_readme_settings.py` writes them, run as a
    developer runs it after adding a setting."""
    readme = PROJECT_DIR / "README.md"
    before = readme.read_text()
    try:
        result = subprocess.run(
            [sys.executable, "scripts/update_readme_settings.py"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert readme.read_text() == before, "run python scripts/update_readme_settings.py"
    finally:
        readme.write_text(before)


def test_each_part_declares_its_own_settings() -> None:
    from feeds.settings import MqttSettings
    from wall.alerts.settings import AlertSettings
    from wall.store.settings import StoreSettings

    assert "store" in {f.name for f in fields(StoreSettings)}
    assert "mqtt_url" in {f.name for f in fields(MqttSettings)}
    assert "alert_rules" in {f.name for f in fields(AlertSettings)}
    assert set(Settings.__bases__) >= {StoreSettings, MqttSettings, AlertSettings}
    owners = [f.name for section in Settings.__bases__ for f in fields(section)]
    assert sorted(owners) == sorted(f.name for f in fields(Settings))


def test_a_setting_declared_by_two_sections_stops_the_import_naming_both() -> None:
    @dataclass(frozen=True)
    class Screens(Section):
        refresh_seconds: float = setting(5.0, positive_number, "")

    @dataclass(frozen=True)
    class Other(Section):
        refresh_seconds: float = setting(2.0, positive_number, "")

    with pytest.raises(TypeError, match="'refresh_seconds' is declared by both Screens and Other"):

        @dataclass(frozen=True)
        class Joined(Screens, Other):
            pass

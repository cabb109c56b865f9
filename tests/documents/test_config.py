"""GatheringSettings.from_env and the channel -> sources YAML file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobs.channel_config import SOURCE_NAMES, ChannelConfig, ChannelConfigFile, ChannelSettings
from worker.documents.settings import GatheringSettings

EXAMPLE_CONFIG = Path(__file__).parents[2] / "examples" / "channels.yml"


def test_settings_from_env() -> None:
    settings = GatheringSettings.from_env({
        "CHATOPS_RUNBOOK_DIR": "/srv/runbooks", "CHATOPS_LINK_ALLOWLIST": "wiki.acme.io, *.docs.acme.io,",
        "CHATOPS_FETCH_TIMEOUT_S": "2.5", "CHATOPS_MAX_FILE_BYTES": "10_000_000", "CHATOPS_MAX_LINKS": "0",
        "CHATOPS_CHANNEL_CONFIG": "", "UNRELATED": "x",
    })
    assert settings.runbook_dir == Path("/srv/runbooks") and settings.channel_config_path is None
    assert settings.link_allowlist == ("wiki.acme.io", "*.docs.acme.io")
    assert (settings.fetch_timeout_s, settings.max_file_bytes, settings.max_links) == (2.5, 10_000_000, 0)
    assert settings.max_page_bytes == GatheringSettings().max_page_bytes


def test_settings_env_errors_name_the_variable() -> None:
    with pytest.raises(ValueError, match="CHATOPS_MAX_PAGE_BYTES='lots' is not an integer"):
        GatheringSettings.from_env({"CHATOPS_MAX_PAGE_BYTES": "lots"})
    with pytest.raises(ValueError, match="fetch_timeout_s must be positive"):
        GatheringSettings.from_env({"CHATOPS_FETCH_TIMEOUT_S": "0"})


def test_channel_sources_by_id_name_and_default() -> None:
    config = ChannelConfig.parse({"default": ["runbooks"], "C0123ABCDE": ["pins"], "#payments-oncall": ["links"],
                                   "quiet": None})
    assert config.sources_for("C0123ABCDE") == ("pins",)
    names = {"C0PAYMENTS": "payments-oncall", "C0QUIET000": "quiet"}
    assert config.sources_for("C0PAYMENTS", names.get) == ("links",)
    assert config.sources_for("C0QUIET000", names.get) == ()
    assert config.sources_for("C0OTHER000", names.get) == ("runbooks",)
    assert ChannelConfig.parse(None).sources_for("C1") == SOURCE_NAMES


def test_on_call_group_per_channel_with_settings_left_out_taken_from_default() -> None:
    config = ChannelConfig.parse({
        "default": {"sources": ["runbooks", "pins"], "oncall": "@sre-oncall"},
        "#payments": {"oncall": "@payments-oncall"},
        "C0QUIET000": {"sources": ["runbooks"]},
        "C0LIST0000": ["links"],
    })
    names = {"C0PAYMENTS": "payments"}
    assert config.settings_for("C0PAYMENTS", names.get) == ChannelSettings(("runbooks", "pins"), "@payments-oncall")
    assert config.settings_for("C0QUIET000") == ChannelSettings(("runbooks",), "@sre-oncall")
    assert config.settings_for("C0LIST0000") == ChannelSettings(("links",), "@sre-oncall")
    assert config.oncall_for("C0ELSE0000") == "@sre-oncall"
    assert ChannelConfig.parse({"default": ["runbooks"]}).oncall_for("C1") is None


@pytest.mark.parametrize(("data", "error"), [
    ({"default": ["runbook"]}, "unknown source runbook"),
    ({"C1": {"oncall": "@pay ments <!channel>"}}, "oncall must be a user group handle"),
    ({"C1": {"oncal": "@payments"}}, "unknown setting oncal"),
    ({"C1": {"oncall": ["@a"]}}, "oncall must be a user group handle"),
    ({"C1": "pins"}, "expected a list of source names"),
    (["pins"], "expected a mapping"),
])
def test_bad_channel_config_is_refused(data: object, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ChannelConfig.parse(data)


def test_example_config_is_valid() -> None:
    config = ChannelConfig.load(EXAMPLE_CONFIG)
    assert "runbooks" in config.default.sources
    assert config.oncall_for("C0PAYMENTS", {"C0PAYMENTS": "payments-oncall"}.get) == "@payments-oncall"


def test_config_file_is_reread_when_it_changes_and_a_bad_edit_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "channels.yml"
    path.write_text("default: [runbooks]\n")
    config = ChannelConfigFile(path)
    assert config.current().sources_for("C1") == ("runbooks",)
    path.write_text("default: [runbooks, pins]\n")
    os.utime(path, ns=(1, 1_000_000_000))
    assert config.current().sources_for("C1") == ("runbooks", "pins")
    path.write_text("default: [nonsense]\n")
    os.utime(path, ns=(1, 2_000_000_000))
    assert config.current().sources_for("C1") == ("runbooks", "pins")


def test_missing_config_file_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ChannelConfigFile(tmp_path / "missing.yml")

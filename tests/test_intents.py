"""Intent labels the code routes with, and those config.yaml names, are checked against
knowledge/intents.csv at start-up: a renamed intent is an admin's clear error, never a silent miss."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.intents import IntentLabel
from bot.runtime import Runtime, check_names

ROOT = Path(__file__).resolve().parent.parent


def project_copy(tmp_path: Path, *, rename: tuple[str, str] | None = None, handoff_intents: str = "") -> Path:
    """config.yaml and knowledge/ copied to ``tmp_path``, one intent renamed or handoff.intents replaced;
    returns the config file."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    intents = tmp_path / "knowledge" / "intents.csv"
    if rename:
        old, new = rename
        intents.write_text(intents.read_text().replace(f",{old}\n", f",{new}\n"))
    if handoff_intents:
        with (tmp_path / "config.yaml").open("a") as config:
            # A later key wins in PyYAML, so this replaces the shipped handoff section's intents.
            config.write(f"\n{handoff_intents}\n")
    return tmp_path / "config.yaml"


def check_command(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "config", "check", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_every_label_the_code_relies_on_is_in_the_shipped_intents() -> None:
    check_names(load_config(ROOT / "config.yaml", env={}))  # raises if one is missing
    labels = {line.rsplit(",", 1)[-1] for line in (ROOT / "knowledge/intents.csv").read_text().splitlines()[1:]}
    assert {label for label in IntentLabel if label is not IntentLabel.OUT_OF_SCOPE} <= labels


async def test_renaming_an_intent_the_code_routes_with_fails_start_up_naming_file_label_and_fix(tmp_path: Path) -> None:
    config = load_config(project_copy(tmp_path, rename=("order_status", "where_is_my_stuff")), env={})
    with pytest.raises(ConfigError) as caught:
        async with Runtime.open(config, tmp_path / "data"):
            pass
    assert caught.value.message == ("knowledge/intents.csv has no intent 'order_status', "
                                    "which Rapport routes order questions with")
    assert caught.value.fix.startswith("restore the label 'order_status' in knowledge/intents.csv")
    assert not (tmp_path / "data").exists(), "the check runs before any store is opened"


def test_config_check_reports_a_renamed_intent(tmp_path: Path) -> None:
    result = check_command(project_copy(tmp_path, rename=("human_agent", "talk_to_human")))
    assert result.returncode == 1
    assert "knowledge/intents.csv has no intent 'human_agent', which Rapport hands the conversation to a person with" \
        in result.stderr
    assert "fix: restore the label 'human_agent'" in result.stderr


def test_an_unknown_label_in_handoff_intents_is_named_with_the_labels_there_are(tmp_path: Path) -> None:
    path = project_copy(tmp_path, handoff_intents="handoff:\n  intents: [legal, lawsuit]")
    with pytest.raises(ConfigError) as caught:
        check_names(load_config(path, env={}))
    message = caught.value.message
    assert message.startswith("handoff.intents names 'lawsuit', which knowledge/intents.csv does not have")
    assert "cancel_account" in message and "legal" in message  # the labels the admin can choose from
    assert "change 'lawsuit' under handoff.intents" in caught.value.fix

    result = check_command(path)
    assert result.returncode == 1 and "handoff.intents names 'lawsuit'" in result.stderr


def test_without_an_intents_file_nothing_is_routed_by_intent_so_nothing_is_checked(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("brand:\n  name: Acme\n")
    check_names(load_config(tmp_path / "config.yaml", env={}))

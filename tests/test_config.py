"""config.yaml loading: environment expansion, validation, and messages that say how to fix things."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid_with_an_empty_environment() -> None:
    config = load_config(ROOT / "config.yaml", env={})
    assert config.stores.database_url == ""
    assert not config.platforms.slack.enabled and not config.llm.enabled


def test_variables_expand_from_the_environment_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "platforms:\n  slack:\n    bot_token: ${SLACK_BOT_TOKEN}\n"
                           "stores:\n  database_url: ${DATABASE_URL:-postgres://localhost/x}\n")
    config = load_config(path, env={"SLACK_BOT_TOKEN": "xoxb-secret"})
    assert config.platforms.slack.bot_token == "xoxb-secret"
    assert config.stores.database_url == "postgres://localhost/x"


def test_an_unset_variable_without_default_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  api_key: ${OPENAI_API_KEY}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert problem.path == "llm.api_key"
    assert "OPENAI_API_KEY is not set" in str(problem)


def test_misspelt_key_and_wrong_type_are_both_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "brand:\n  nmae: Acme\nconversation:\n  recent_turns: lots\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    problems = {p.path: str(p) for p in caught.value.problems}
    assert set(problems) == {"brand.nmae", "conversation.recent_turns"}
    assert "unknown key" in problems["brand.nmae"] and "did you mean 'name'?" in problems["brand.nmae"]
    assert "expected a whole number" in problems["conversation.recent_turns"]
    assert "'lots'" in problems["conversation.recent_turns"]


def test_value_outside_its_choices_lists_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "conversation:\n  granularity: per-message\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert "'user', 'channel' or 'thread'" in problem.fix


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "brand:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(path, env={})


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", env={})
    assert "--config" in caught.value.fix


def rapport(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_config_check_command_exits_nonzero_and_names_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "thresholds:\n  answer_min_similarty: 0.6\n  clarify_min_similarity: high\n")
    result = rapport("config", "check", str(path))
    assert result.returncode == 1
    assert "thresholds.answer_min_similarty: unknown key" in result.stderr
    assert "did you mean 'answer_min_similarity'?" in result.stderr
    assert "thresholds.clarify_min_similarity: expected a number (got 'high')" in result.stderr


def test_config_check_command_says_ok_for_the_shipped_config() -> None:
    result = rapport("config", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_config_schema_is_json_schema_for_editors() -> None:
    result = rapport("config", "schema")
    schema = json.loads(result.stdout)
    assert "brand" in schema["properties"] and "base_dir" not in schema["properties"]
    assert schema["$defs"]["Thresholds"]["properties"]["answer_min_similarity"]["maximum"] == 1


async def test_enabling_the_llm_says_plainly_that_this_version_has_none(tmp_path: Path) -> None:
    from bot.runtime import Runtime

    config = load_config(ROOT / "config.yaml", env={}).model_copy(
        update={"llm": load_config(ROOT / "config.yaml", env={}).llm.model_copy(update={"enabled": True})}
    )
    with pytest.raises(ConfigError, match="llm.enabled is true") as caught:
        async with Runtime.open(config, tmp_path):
            pass
    assert "llm.enabled: false" in caught.value.fix

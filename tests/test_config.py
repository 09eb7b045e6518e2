"""config.yaml loading: environment expansion, validation, and messages that say how to fix things."""

from __future__ import annotations

import json
import os
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


# --- rules across fields: each names the key, the bad value and the fix (issue 9, item 10c) ---------


def only_problem(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    (problem,) = caught.value.problems
    return str(problem)


def test_chunk_overlap_must_be_smaller_than_chunk_size(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "knowledge:\n  chunk_size: 400\n  chunk_overlap: 400\n"))
    assert problem.startswith("knowledge.chunk_overlap: must be smaller than chunk_size (400) (got 400)")
    assert "fix: set chunk_overlap below 400" in problem


def test_clarify_threshold_above_answer_threshold_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "thresholds:\n  answer_min_similarity: 0.5\n  clarify_min_similarity: 0.7\n")
    problem = only_problem(path)
    assert problem.startswith("thresholds.clarify_min_similarity: is above answer_min_similarity (0.5)")
    assert "(got 0.7)" in problem and "fix: set clarify_min_similarity at or below 0.5" in problem


def test_telegram_webhook_mode_without_a_secret_is_refused_only_when_enabled(tmp_path: Path) -> None:
    telegram = "platforms:\n  telegram:\n    enabled: {enabled}\n    mode: webhook\n    bot_token: t\n" \
               "    webhook_secret: ${{TELEGRAM_WEBHOOK_SECRET:-}}\n"
    problem = only_problem(write(tmp_path, telegram.format(enabled="true")))
    assert problem.startswith("platforms.telegram.webhook_secret: is empty, but mode: webhook needs it")
    assert "(got '')" in problem and "set TELEGRAM_WEBHOOK_SECRET" in problem
    assert not load_config(write(tmp_path, telegram.format(enabled="false")), env={}).platforms.telegram.enabled


def test_knowledge_paths_that_do_not_exist_are_named_with_where_they_were_looked_for(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "catalog.csv").write_text("sku,name,category,price,stock,description,tags\n")
    path = write(tmp_path, "knowledge:\n  pages: kb/pagse\n  catalog: kb/catalog.csv\n  intents: /nowhere/intents.csv\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    problems = {p.path: str(p) for p in caught.value.problems}
    assert set(problems) == {"knowledge.pages", "knowledge.intents"}  # the catalog exists
    assert f"no such folder ({tmp_path / 'kb' / 'pagse'}) (got 'kb/pagse')" in problems["knowledge.pages"]
    assert f"relative paths are read from {tmp_path}, the config file's folder" in problems["knowledge.pages"]
    assert "no such file (/nowhere/intents.csv)" in problems["knowledge.intents"]


def test_knowledge_paths_left_at_their_defaults_may_be_missing(tmp_path: Path) -> None:
    # A fresh folder with no knowledge yet is a new install, not a typo; the runtime copes with it.
    assert load_config(write(tmp_path, "brand:\n  name: Acme\n"), env={}).knowledge.pages == Path("knowledge/pages")


# --- no secret in any message (issue 9, item 9b) -----------------------------------------------------

WEBHOOK_SECRET = "Hunter2 secret!"
DB_PASSWORD = "pa55-W0rd-x9"
BAD_DATABASE_URL = f"mysql://admin:{DB_PASSWORD}@db.internal:3306/shop"
SECRET_CONFIG = ("platforms:\n  telegram:\n    webhook_secret: ${TELEGRAM_WEBHOOK_SECRET}\n"
                 "stores:\n  database_url: ${DATABASE_URL}\n"
                 "conversation:\n  recent_turns: ${SUPPORT_API_KEY}\n")
SECRET_ENV = {"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "DATABASE_URL": BAD_DATABASE_URL,
              "SUPPORT_API_KEY": "sk-live-abcdef123456"}


def test_config_problems_mask_secret_values_and_url_passwords(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, SECRET_CONFIG), env=SECRET_ENV)
    problems = {p.path: str(p) for p in caught.value.problems}
    assert set(problems) == {"platforms.telegram.webhook_secret", "stores.database_url", "conversation.recent_turns"}
    assert "(got '***')" in problems["platforms.telegram.webhook_secret"]  # a credential field: masked whole
    assert "(got '***')" in problems["conversation.recent_turns"]  # from a ${…_KEY} variable: masked
    assert "(got 'mysql://admin:***@db.internal:3306/shop')" in problems["stores.database_url"]
    for secret in SECRET_ENV.values():
        assert secret not in str(caught.value)
    assert DB_PASSWORD not in str(caught.value)


def test_config_check_and_start_up_show_neither_secret(tmp_path: Path) -> None:
    path = write(tmp_path, SECRET_CONFIG)
    env = {**os.environ, **SECRET_ENV}
    checked = subprocess.run([sys.executable, "-m", "bot", "config", "check", str(path)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    started = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade", "--config", str(path), "--data-dir",
                              str(tmp_path / "data")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    for result in (checked, started):
        assert result.returncode == 1
        output = result.stdout + result.stderr
        assert "platforms.telegram.webhook_secret" in output and "stores.database_url" in output
        assert WEBHOOK_SECRET not in output and DB_PASSWORD not in output and "Traceback" not in output

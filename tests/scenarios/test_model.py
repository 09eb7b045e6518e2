"""Scenario files are checked before anything runs: a mistake names the file, the scenario and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.scenarios.model import AgentStep, Say, ScenarioFileError, load_file


def test_a_good_file_reads_into_typed_steps(write_yaml) -> None:
    path = write_yaml("""
        scenarios:
          - name: status
            customer: C-1001
            platform: slack
            steps:
              - say: where's my lamp?
                expect: {contains: "1042", handoff: false, sentiment: neutral}
              - agent: claim
    """)
    loaded = load_file(path)
    scenario = loaded.content.scenarios[0]
    say, agent = scenario.steps
    assert isinstance(say, Say) and isinstance(agent, AgentStep)
    assert say.expect.contains == ["1042"]  # one text reads as a list of one
    assert say.expect.handoff is False


def test_an_unknown_key_names_file_scenario_and_key(write_yaml) -> None:
    path = write_yaml("""
        scenarios:
          - name: typo in a check
            steps:
              - say: hi
                expect: {handof: true}
    """)
    with pytest.raises(ScenarioFileError) as caught:
        load_file(path)
    message = caught.value.message
    assert str(path) in message
    assert "scenario 'typo in a check'" in message
    assert "steps[0].expect.handof: unknown key" in message


def test_a_bad_type_names_the_key_and_the_value(write_yaml) -> None:
    path = write_yaml("""
        scenarios:
          - name: bad handoff
            steps:
              - say: hi
                expect: {handoff: maybe}
          - name: bad platform
            platform: sms
            steps: [{say: hi}]
    """)
    with pytest.raises(ScenarioFileError) as caught:
        load_file(path)
    message = caught.value.message
    assert "scenario 'bad handoff': steps[0].expect.handoff" in message and "'maybe'" in message
    assert "scenario 'bad platform': platform" in message and "'sms'" in message


def test_an_agent_step_reports_against_its_own_shape(write_yaml) -> None:
    path = write_yaml("""
        scenarios:
          - name: agent typo
            steps:
              - agent: claim
                expcet: {}
    """)
    with pytest.raises(ScenarioFileError, match=r"scenario 'agent typo': steps\[0\]\.expcet: unknown key"):
        load_file(path)


@pytest.mark.parametrize(("text", "problem"), [
    ("scenarios: [{name: a, platform: telegram, steps: [{say: hi}, {say: again, conversation: new}]}]",
     "conversation: new is impossible on telegram"),
    ("scenarios: [{name: a, external: true, steps: [{say: hi}]}]", "set platform: slack"),
    ("scenarios: [{name: a, steps: [{say: hi}]}, {name: a, steps: [{say: hi}]}]", "two scenarios are called 'a'"),
    ("scenarios: [{name: a, steps: [{say: hi, expect: {matches: '(unclosed'}}]}]", "not a regular expression"),
    ("fixtures: {files: [missing.csv]}\nscenarios: [{name: a, steps: [{say: hi}]}]", "does not exist"),
    ("scenarios: [{name: a, steps: [{say: hi]}", "not valid YAML"),
    ("- just a list", "expected a mapping"),
])
def test_other_mistakes_are_explained(write_yaml, text: str, problem: str) -> None:
    with pytest.raises(ScenarioFileError, match=problem):
        load_file(write_yaml(text))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="no such file"):
        load_file(tmp_path / "nope.yaml")


def test_the_example_of_rapport_test_is_a_valid_file(write_yaml) -> None:
    from bot.cli.scenarios import EXAMPLE

    loaded = load_file(write_yaml(EXAMPLE.replace("../../samples", "{samples}")))
    assert loaded.content.fixtures.customers[0]["customer_id"] == "C-9001"
    assert [type(s).__name__ for s in loaded.content.scenarios[0].steps] == ["Say", "Say", "AgentStep"]

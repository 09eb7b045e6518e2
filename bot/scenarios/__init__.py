"""Conversation scenarios: YAML files of customer lines and what each reply must show, run through the
real engine in a data directory of their own (``rapport test``)."""

from bot.scenarios.model import LoadedFile, ScenarioFile, ScenarioFileError, load_file
from bot.scenarios.results import RunResult, ScenarioResult, StepResult
from bot.scenarios.runner import ScenarioRunner

__all__ = ["LoadedFile", "RunResult", "ScenarioFile", "ScenarioFileError", "ScenarioResult", "ScenarioRunner",
           "StepResult", "load_file"]

"""``rapport eval …``: quality figures from public datasets, reproducible by one command each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.options import reports_errors
from bot.errors import RapportError

app = typer.Typer(help="Evaluate recommendations, intents and sentiment on public data.", no_args_is_help=True)
out = Console()


@app.command()
@reports_errors
def recommendations(
    dataset: Annotated[str, typer.Option(help="Only movielens-100k, read from the installed recbole package.")] = "movielens-100k",
    seed: int = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Leave-last-out HR@10 / NDCG@10 for Rapport's recommender, popularity and ALS, on the same split."""
    if dataset != "movielens-100k":
        raise RapportError(f"unknown dataset '{dataset}'", fix="use --dataset movielens-100k")
    try:
        from bot.recommend.evaluation import evaluate_movielens

        result = evaluate_movielens(seed)
    except (ImportError, FileNotFoundError) as exc:
        raise RapportError(f"the evaluation needs extra packages: {exc}",
                           fix="pip install -e '.[eval]' (brings recbole's copy of MovieLens-100K and implicit)") from exc
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"{result['dataset']}: {result['protocol']}")
    for column in ("model", "NDCG@10", "HR@10", "fit s", "p50 ms / user"):
        table.add_column(column)
    for model, metrics in result["results"].items():
        table.add_row(model, f"{metrics['ndcg@10']:.4f}", f"{metrics['hr@10']:.4f}",
                      f"{result['fit_seconds'].get(model, 0):.2f}", f"{result['latency_ms_p50'].get(model, 0):.3f}")
    out.print(table)


@app.command()
@reports_errors
def replay(
    rounds: int = 6,
    seed: int = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Simulated customers keep rejecting one category: its share of suggestions per round, with and without learning."""
    from bot.recommend.replay import replay_rejections

    result = replay_rejections(seed=seed, rounds=rounds)
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"share of '{result['rejected_category']}' in suggestions ({result['customers']} customers, "
                        f"{result['catalog_share']:.0%} of the catalog)")
    for column in ("round", "learning on", "learning off"):
        table.add_column(column)
    for n, (on, off) in enumerate(zip(result["share_by_round"], result["control_share_by_round"], strict=True), 1):
        table.add_row(str(n), f"{on:.1%}", f"{off:.1%}")
    out.print(table)


@app.command()
@reports_errors
def feedback(
    data: Annotated[Path, typer.Option(help="Folder with BANKING77's train.csv and test.csv.")] = Path("../shared/data/banking77"),
    rounds: int = 5,
    voting: Annotated[int, typer.Option(help="Training questions customers ask and vote on (sampled).")] = 2000,
    held_out: Annotated[int, typer.Option(help="Test questions measured, never voted on (sampled).")] = 1000,
    seed: int = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """BANKING77: customers 👍 right answers and 👎 wrong ones; held-out top-1 accuracy per round, with and without learning."""
    from bot.learning.replay import run_replay

    if not (data / "train.csv").is_file() or not (data / "test.csv").is_file():
        raise RapportError(f"no BANKING77 train.csv and test.csv in {data}", fix="pass --data FOLDER")
    result = run_replay(data, rounds=rounds, voting_questions=voting, held_out=held_out, seed=seed)
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"BANKING77 held-out top-1 ({result['held_out_questions']} questions, {result['sections']} sections; "
                        f"{result['customers']} customers voting on {result['voting_questions']} questions; seed {seed})")
    for column in ("round", "votes", "learning on", "learning off"):
        table.add_column(column)
    for n, (votes, on, off) in enumerate(zip(result["votes_by_round"], result["accuracy_by_round"],
                                             result["control_accuracy_by_round"], strict=True)):
        table.add_row(str(n), str(votes), f"{on:.1%}", f"{off:.1%}")
    out.print(table)


@app.command()
@reports_errors
def intents(
    train: Annotated[Path, typer.Option("--train", help="CSV of text,label to train on.", exists=True, dir_okay=False)],
    test: Annotated[Path, typer.Option("--test", help="CSV of text,label to test on ('oos' marks out of scope).",
                                       exists=True, dir_okay=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Train the intent router on one file and report accuracy, macro-F1 and out-of-scope recall on another."""
    from bot.nlp.intents import evaluate_intents

    result = evaluate_intents(train, test)
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"intents: {result['n_train']} training / {result['n_test']} test texts, "
                        f"{result['n_labels']} labels")
    for column in ("accuracy", "macro-F1", "out-of-scope recall", "train s"):
        table.add_column(column)
    oos = result.get("oos_recall")
    table.add_row(f"{result['accuracy']:.4f}", f"{result['macro_f1']:.4f}", "—" if oos is None else f"{oos:.4f}",
                  f"{result['train_seconds']:.1f}")
    out.print(table)


@app.command()
@reports_errors
def memory(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one {id, turns, questions} conversation per line.",
                                         exists=True, dir_okay=False)],
    k: Annotated[str, typer.Option("--k", help="Cut-offs, comma-separated.")] = "1,3,5,10",
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Load each conversation through the memory writer, ask its questions through recall: dense vs hybrid.

    Prints recall_any@k (questions with an evidence turn in the top k), recall_all@k (evidence
    turns found) and recall latency, for dense-only and hybrid (dense + BM25) recall.
    """
    import asyncio

    from bot.nlp.memory_eval import evaluate_memory, parse_ks

    ks = parse_ks(k)
    result = asyncio.run(evaluate_memory(file, ks))
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"memory recall: {result['conversations']} conversations, {result['turns']} turns, "
                        f"{result['questions']} questions")
    table.add_column("mode")
    for cut in ks:
        table.add_column(f"any@{cut}")
    for cut in ks:
        table.add_column(f"all@{cut}")
    table.add_column("p50 ms")
    for mode, row in result["results"].items():
        table.add_row(mode, *[f"{row[f'recall_any@{c}']:.3f}" for c in ks],
                      *[f"{row[f'recall_all@{c}']:.3f}" for c in ks], f"{row['p50_ms']:.1f}")
    out.print(table)

"""`rapport test`: exit codes, the report an admin reads, --json, fixtures and isolation between scenarios."""

from __future__ import annotations

import json
from pathlib import Path

FILE = """
fixtures:
  files: ["{samples}/customers.csv", "{samples}/orders.csv"]
  customers:
    - {customer_id: C-7001, name: Noor Haddad, email: noor.haddad@example.com}
  orders:
    - {order_id: "7001", customer_id: C-7001, sku: OUT-TNT-02, quantity: 1, unit_price: 249.00,
       status: shipped, ordered_at: 2026-11-20, shipped_at: 2026-11-21, tracking: NW7001TRACK}
scenarios:
  - name: shipping is answered
    steps:
      - say: how long does shipping take?
        expect: {source: shipping, handoff: false, contains: [business days]}
  - name: deliberately failing
    steps:
      - say: how long does shipping take?
        expect: {contains: [xyzzy-never-said], handoff: true}
  - name: an inline fixture customer sees their own order
    customer: noor.haddad@example.com
    steps:
      - say: where is my tent?
        expect: {contains: ["7001", NW7001TRACK], not_contains: ["1042", NW20261124042]}
  - name: a sample customer from the CSV fixtures
    customer: C-1001
    platform: telegram
    steps:
      - say: where's my lamp?
        expect: {contains: ["1042"]}
  - name: Ana hands off and is forgotten
    customer: C-1001
    steps:
      - say: I want to talk to a person
        expect: {handoff: true}
      - agent: claim
      - agent: Hello Ana, a person here.
        expect: {contains: [a person here]}
      - agent: resolve
        expect: {offers: ["5"]}
      - say: /forget
      - say: /forget confirm
  - name: the next scenario's Ana is untouched
    customer: C-1001
    steps:
      - say: how long does shipping take?
        expect: {handoff: false, silent: false, source: shipping}
      - say: where's my lamp?
        expect: {contains: ["1042"]}
  - name: an agent step with no handoff to act on
    steps:
      - agent: claim
"""


def test_a_failing_check_exits_1_and_the_report_names_it(write_yaml, rapport_test) -> None:
    result = rapport_test(str(write_yaml(FILE)), "--json")
    assert result.exit_code == 1, result.output
    report = result.stderr
    assert "✗ deliberately failing" in report
    assert "✗ contains: expected 'xyzzy-never-said'" in report
    assert "✗ handoff: expected handoff — got no handoff" in report
    assert "✓ shipping is answered" in report
    assert "no open handoff in this conversation" in report

    data = json.loads(result.stdout)
    assert data["passed"] is False
    results = {r["name"]: r for r in data["results"]}
    assert results["shipping is answered"]["passed"] is True
    failing = results["deliberately failing"]
    checks = {c["name"]: c for c in failing["steps"][0]["checks"]}
    assert checks["contains"] == {"name": "contains", "passed": False, "expected": "'xyzzy-never-said'",
                                  "got": checks["contains"]["got"]}
    assert checks["handoff"]["passed"] is False
    assert failing["steps"][0]["action"] == "answer"
    assert data["checks"]["total"] > data["checks"]["passed"] > 0

    # Fixtures: inline rows and CSV files go through the importer; each customer sees their own order.
    assert results["an inline fixture customer sees their own order"]["passed"], results["an inline fixture customer sees their own order"]
    assert results["a sample customer from the CSV fixtures"]["passed"]
    # Isolation: a handoff, the desk and /forget in one scenario leave the next scenario's Ana as imported.
    assert results["Ana hands off and is forgotten"]["passed"], results["Ana hands off and is forgotten"]
    assert results["the next scenario's Ana is untouched"]["passed"], results["the next scenario's Ana is untouched"]
    assert results["an agent step with no handoff to act on"]["steps"][0]["error"]


def test_all_passing_exits_0_and_keeps_data_dirs_when_asked(write_yaml, rapport_test, tmp_path: Path) -> None:
    path = write_yaml("""
        scenarios:
          - name: returns
            tags: [basics]
            steps:
              - say: what's your return policy?
                expect: {source: returns.md, contains: [30 days]}
    """)
    kept = tmp_path / "kept"
    result = rapport_test(str(path), "--data-dir", str(kept), "--verbose")
    assert result.exit_code == 0, result.output
    assert "✓ source: returns.md" in result.stdout  # --verbose lists passing checks too
    assert "1/1 scenarios passed" in result.stdout
    assert any(p.name.startswith("scenario-") for p in kept.iterdir())

    again = rapport_test(str(path), "--data-dir", str(kept))
    assert again.exit_code == 1 and "is not empty" in again.output


def test_schema_errors_exit_2_before_anything_runs(write_yaml, rapport_test) -> None:
    bad = write_yaml("""
        scenarios:
          - name: typo
            steps:
              - say: hi
                expect: {handof: true}
    """, name="bad.yaml")
    also_bad = write_yaml("scenarios: [{name: b, steps: [{say: hi, expect: {private: perhaps}}]}]", name="worse.yaml")
    result = rapport_test(str(bad.parent))  # a folder: every *.yaml in it
    assert result.exit_code == 2
    assert "bad.yaml: scenario 'typo': steps[0].expect.handof: unknown key" in result.stderr
    assert "worse.yaml: scenario 'b': steps[0].expect.private" in result.stderr
    assert "scenarios passed" not in result.output

"""The Grafana dashboard, the alerting rules and docs/operations.md, against the catalog.

No cluster. Every PromQL expression of docs/grafana/vedette-dashboard.json (panels, variables,
annotations) and of docs/prometheus/vedette-alerts.yml is read for the metric names it uses
(``vedette_...``) and the labels it selects or groups by; each name must be a sample a real
``prometheus_client`` scrape shows once every metric of the catalog has a value, and each label
one of that metric's. The rules file is read by a small line parser, not PyYAML (not among the
test dependencies): it keeps to mappings, lists and block scalars, and the parser checks that it
found every rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import vedette.metrics
from vedette.metrics import CATALOG, Counter, Gauge, Histogram, Metric
from vedette.metrics.recorder import instrument

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "vedette-dashboard.json"
ALERTS = DOCS / "prometheus" / "vedette-alerts.yml"
OPERATIONS = DOCS / "operations.md"

NAME = re.compile(r"\bvedette_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(vedette_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
VARIABLE = re.compile(r"\$\{?(\w+)\}?")
# Labels Prometheus adds to every series it scrapes.
TARGET_LABELS = frozenset({"instance", "job"})
GRAFANA_VARIABLES = frozenset({"__range", "__rate_interval", "__interval"})
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# The alerts docs/operations.md describes; the file may hold more.
EXPECTED_ALERTS = frozenset(
    {
        "VedetteFailover",
        "VedetteLongPause",
        "VedetteNoSentinel",
        "VedetteOutcomeUnknown",
        "VedetteScheduleLate",
        "VedetteScheduleNoLeader",
        "VedetteScheduleTickFailures",
        "VedetteSentinelsDegraded",
        "VedetteWaitShortfalls",
    }
)

EXPOSED: dict[str, Metric] = {name: metric for metric in CATALOG for name in metric.exposed_names}


# --- reading the files ----------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panel_expressions(board: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]


def dashboard_expressions(board: dict[str, Any]) -> list[str]:
    """The panels' queries, the query variables' and the annotations'."""
    variables = [
        variable["definition"]
        for variable in board["templating"]["list"]
        if variable["type"] == "query"
    ]
    annotations = [entry["expr"] for entry in board["annotations"]["list"] if "expr" in entry]
    return [*panel_expressions(board), *variables, *annotations]


ALERT = re.compile(r"^(\s*)- alert: (\S+)\s*$")
KEY = re.compile(r"^(\s*)([a-z_]+):(?: (.*))?$")
BLOCK = ("|", "|-", ">", ">-")


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_rules(text: str) -> list[dict[str, str]]:
    """Each alerting rule as its keys (nested ones flattened: ``severity``, ``summary``)."""
    rules: list[dict[str, str]] = []
    rule: dict[str, str] | None = None
    inside = 0  # the indentation of the rule's keys
    lines = text.splitlines()
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        started = ALERT.match(line)
        if started:
            rule = {"alert": started[2]}
            rules.append(rule)
            inside = len(started[1]) + 2
            continue
        key = KEY.match(line)
        if rule is None or key is None:
            continue
        if len(key[1]) < inside:  # a key of the group, not of the rule
            rule = None
            continue
        value = (key[3] or "").strip()
        if value in BLOCK:  # a block scalar: the lines indented deeper
            block: list[str] = []
            while at < len(lines) and (
                not lines[at].strip() or indentation(lines[at]) > len(key[1])
            ):
                block.append(lines[at].strip())
                at += 1
            value = (" " if value.startswith(">") else "\n").join(part for part in block if part)
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        rule[key[2]] = value
    return rules


def alert_rules() -> list[dict[str, str]]:
    text = ALERTS.read_text(encoding="utf-8")
    rules = read_rules(text)
    # What the parser must have found: one rule per "- alert:" line, one expr each.
    assert len(rules) == len(re.findall(r"^\s*- alert: ", text, re.MULTILINE)) > 0
    assert len(rules) == len(re.findall(r"^\s*expr: ", text, re.MULTILINE))
    return rules


def every_expression() -> list[str]:
    return [*dashboard_expressions(dashboard()), *(rule["expr"] for rule in alert_rules())]


# --- a real scrape --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scraped() -> frozenset[str]:
    """The sample names of a scrape once every metric of the catalog has one value."""
    registry = CollectorRegistry()
    vedette.metrics.enable_prometheus(registry)
    try:
        for metric in CATALOG:
            labels = dict.fromkeys(metric.labels, "x")
            recorder = instrument(metric.name)
            if isinstance(recorder, Counter):
                recorder.add(1, **labels)
            elif isinstance(recorder, Histogram):
                recorder.observe(0.1, **labels)
            else:
                assert isinstance(recorder, Gauge)
                recorder.set(1, **labels)
        text = generate_latest(registry).decode()
    finally:
        vedette.metrics.disable()
    return frozenset(
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    )


# --- the names and labels -------------------------------------------------------------------------


def test_the_files_use_only_names_the_catalog_exposes(scraped: frozenset[str]) -> None:
    used = {name for expression in every_expression() for name in NAME.findall(expression)}
    assert used
    assert used <= set(EXPOSED), sorted(used - set(EXPOSED))
    assert used <= scraped, sorted(used - scraped)


def test_the_files_select_and_group_by_labels_the_metrics_have() -> None:
    for expression in every_expression():
        bare = QUOTED.sub('""', expression)
        # A name the catalog does not expose fails the test above; its labels are not checked.
        metrics = [EXPOSED[name] for name in NAME.findall(bare) if name in EXPOSED]
        for name, matchers in SELECTOR.findall(bare):
            if name not in EXPOSED:
                continue
            have = set(EXPOSED[name].labels) | ({"le"} if name.endswith("_bucket") else set())
            for label in MATCHER.findall(matchers):
                assert label in have, f"{name} has no label {label}: {expression}"
        allowed = {label for metric in metrics for label in metric.labels} | TARGET_LABELS
        if "_bucket" in bare:
            allowed.add("le")
        for grouping in GROUPING.findall(bare):
            for label in filter(None, (part.strip() for part in grouping.split(","))):
                assert label in allowed, f"grouped by {label}, a label of none: {expression}"


def test_expressions_are_balanced() -> None:
    # promtool is not at hand in the tests: a typo that unbalances brackets or quotes, at least.
    pairs = {")": "(", "]": "[", "}": "{"}
    for expression in every_expression():
        assert expression.count('"') % 2 == 0, expression
        stack: list[str] = []
        for char in QUOTED.sub('""', expression):
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack, expression
                assert stack.pop() == pairs[char], expression
        assert not stack, expression


def test_every_metric_of_the_catalog_has_a_panel() -> None:
    shown = {
        name for expression in panel_expressions(dashboard()) for name in NAME.findall(expression)
    }
    missing = [metric.name for metric in CATALOG if not shown & set(metric.exposed_names)]
    assert not missing


# --- the dashboard's shape ------------------------------------------------------------------------


def test_the_dashboard_has_grafana_s_shape() -> None:
    board = dashboard()
    assert isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36  # data source references as objects
    assert board["title"]
    assert board["uid"]
    panels = board["panels"]
    ids = [panel["id"] for panel in panels]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in {"row", "timeseries", "stat", "bargauge", "table"}, panel
        assert panel["title"]
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"}
        assert all(isinstance(grid[key], int) for key in grid)
        assert grid["h"] > 0
        assert grid["w"] > 0
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        taken = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not taken & cells, f"panel {panel['id']} overlaps another"
        cells |= taken
        if panel["type"] == "row":
            assert not panel.get("targets")
            continue
        assert panel["datasource"] == DATASOURCE
        targets = panel["targets"]
        assert targets, panel["title"]
        refs = [target["refId"] for target in targets]
        assert len(set(refs)) == len(refs)
        for target in targets:
            assert target["datasource"] == DATASOURCE
            assert target["expr"].strip()


def test_the_dashboard_s_variables_are_defined() -> None:
    board = dashboard()
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE
            assert variable["definition"].startswith("label_values(")
            assert variable["query"]["query"] == variable["definition"]
    texts = [
        *dashboard_expressions(board),
        *(
            target.get("legendFormat", "")
            for panel in board["panels"]
            for target in panel.get("targets", [])
        ),
    ]
    used = {name for text in texts for name in VARIABLE.findall(text)}
    assert used <= set(variables) | GRAFANA_VARIABLES, used - set(variables)


# --- the rules ------------------------------------------------------------------------------------


def test_every_alert_is_complete() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(set(names)) == len(names)
    assert set(names) >= EXPECTED_ALERTS
    for rule in rules:
        assert re.fullmatch(r"Vedette[A-Z][A-Za-z]+", rule["alert"])
        assert NAME.search(rule["expr"]), rule
        assert rule.get("severity") in ("info", "warning", "critical"), rule
        assert rule.get("summary"), rule
        assert len(rule.get("description", "")) > 80, rule  # what it means and what to do
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule


def test_the_parser_reads_block_scalars_and_groups() -> None:
    text = (
        "groups:\n"
        "  - name: one\n"
        "    rules:\n"
        "      - alert: A\n"
        "        # a comment\n"
        "        expr: |\n"
        "          up\n"
        "          or vector(1)\n"
        "        labels:\n"
        "          severity: info\n"
        "        annotations:\n"
        '          summary: "a: b"\n'
        "          description: >-\n"
        "            one\n"
        "            two\n"
        "  - name: two\n"
        "    rules:\n"
        "      - alert: B\n"
        "        expr: up == 0\n"
    )
    assert read_rules(text) == [
        {
            "alert": "A",
            "expr": "up\nor vector(1)",
            "labels": "",
            "severity": "info",
            "annotations": "",
            "summary": "a: b",
            "description": "one two",
        },
        {"alert": "B", "expr": "up == 0"},
    ]


# --- docs/operations.md ---------------------------------------------------------------------------


def test_the_operations_page_lists_every_metric_and_alert() -> None:
    page = OPERATIONS.read_text(encoding="utf-8")
    for metric in CATALOG:
        shown = metric.exposed_names[0] if metric.kind == "counter" else metric.prometheus_name
        assert f"`{shown}`" in page, metric.name
        assert f"`{metric.name}`" in page, metric.name
    for rule in alert_rules():
        assert rule["alert"] in page, rule["alert"]
    for linked in (DASHBOARD, ALERTS):
        assert linked.relative_to(DOCS).as_posix() in page

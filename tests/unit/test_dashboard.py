"""The Grafana dashboard (packaging/grafana/scim-ldap-bridge.json, issue #20 point 5) is one Grafana imports
as it is: a Prometheus data source asked for at import (``__inputs``), panels on the 24-column grid that
do not overlap, each with queries. That each query names only metrics the bridge exports is checked
against a real scrape in tests/integration/test_metrics_scrape.py, with the helpers here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "packaging" / "grafana" / "scim-ldap-bridge.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# PromQL words that are not metric names: operators and modifiers (functions are told by their "(").
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
_KEYWORDS |= {"offset", "inf", "nan"}
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers outside strings, label matchers, range
    brackets and ``by (...)`` groupings, not called as functions, and not keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, such as [$__rate_interval]
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for found in _NAME.finditer(expr):
        following = expr[found.end() :].lstrip()
        if following.startswith("(") or found.group() in _KEYWORDS:
            continue
        if found.start() > 0 and expr[found.start() - 1] in "$.0123456789":
            continue  # a Grafana variable, or the exponent of a number
        names.add(found.group())
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that is not a row, those inside collapsed rows included."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return found


def queried_names(dashboard: dict[str, Any]) -> set[str]:
    """The metric names of every query: the panels' targets and the template variables'."""
    names = {
        name for panel in panels(dashboard) for t in panel["targets"] for name in metric_names(t["expr"])
    }
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        label_values = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,.*\)\s*", text)
        names |= {label_values.group(1)} if label_values else metric_names(text)
    return names


def exported_names(scrape: str) -> set[str]:
    """The series names a Prometheus scrape of ``scrape`` (the text format) can hold: every sample's, and,
    for metrics without samples yet, what their ``# TYPE`` promises (a histogram's _bucket, _sum, _count)."""
    names = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line and line[0] != "#"}
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", scrape, re.MULTILINE):
        histogram = kind == "histogram"
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if histogram else {name}
    return names


def test_the_expression_parser_finds_the_metric_names_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, operation) (rate(a_seconds_bucket{instance=~"$instance", '
        'x="by(y)"}[$__rate_interval]))) / on (instance) group_left b_total * 1e3 > bool 2 or vector(0)'
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total"}
    assert metric_names("sum(up) without (job)") == {"up"}


def test_the_dashboard_is_importable_as_it_is() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    (source,) = dashboard["__inputs"]
    assert (source["name"], source["type"], source["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )
    found = panels(dashboard)
    assert len(found) >= 10
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    for panel in found:
        assert panel["title"] and panel["description"] and panel["type"] in ("timeseries", "stat")
        assert panel["datasource"] == DATASOURCE and panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["expr"].strip(), panel["title"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert metric_names(target["expr"]), target["expr"]
    for variable in dashboard["templating"]["list"]:
        assert variable.get("datasource", DATASOURCE) == DATASOURCE
    assert all(name.startswith("scim_bridge_") for name in queried_names(dashboard))

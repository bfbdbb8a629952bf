"""The report's hand-written SVG charts: round ticks, sane scales, byte-identical output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from smolora_recipes.report.charts import Series, histogram, line_chart, log_ticks, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 10, [0, 2, 4, 6, 8, 10]),
        (0.3, 1.7, [0.5, 1.0, 1.5]),
        (-5, 52, [0, 20, 40]),
    ],
)
def test_nice_ticks_are_round_and_inside(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_log_ticks_use_1_2_5_within_the_range() -> None:
    assert log_ticks(0.03, 3.1) == pytest.approx([0.05, 0.1, 0.2, 0.5, 1, 2])
    assert log_ticks(1e-4, 1e3) == pytest.approx([1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000])
    assert log_ticks(5.75, 6.18) == pytest.approx([5.8, 5.9, 6.0, 6.1])


def test_line_chart_draws_each_series_with_markers_and_a_legend() -> None:
    train = Series("train loss", [(1, 3.0), (2, 1.0), (3, 0.1)], "#1f77b4")
    evals = Series("eval loss", [(0, 3.2), (3, 0.2)], "#d62728", dashed=True)
    svg = line_chart([train, evals], "optimizer step", "loss", log_y=True)
    root = ET.fromstring(svg)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 3  # the axes and the two series
    assert len(root.findall(f"{SVG}circle")) == 5
    texts = [t.text for t in root.findall(f"{SVG}text")]
    assert {"train loss", "eval loss", "optimizer step", "loss"} <= set(texts)
    heights = [float(c.get("cy")) for c in root.findall(f"{SVG}circle")][:3]
    assert heights == sorted(heights)  # loss falls, so the points go down the page
    assert line_chart([train, evals], "optimizer step", "loss", log_y=True) == svg


def test_log_scale_falls_back_to_linear_for_non_positive_values() -> None:
    points = [(0, 0.0), (1, 1.0), (2, 2.0)]
    svg = line_chart([Series("x", points, "red")], "x", "y", log_y=True)
    heights = [float(c.get("cy")) for c in ET.fromstring(svg).findall(f"{SVG}circle")]
    assert len(heights) == 3 and "nan" not in svg  # no point lost to log(0)
    assert heights[0] > heights[1] > heights[2]  # rising values go up the page
    assert heights[0] - heights[1] == pytest.approx(heights[1] - heights[2])  # evenly: linear


def test_histogram_has_one_bar_per_bin_with_a_tooltip() -> None:
    svg = histogram([0, 10, 20, 30], [4, 0, 2], "tokens per example", "examples")
    bars = ET.fromstring(svg).findall(f"{SVG}rect")
    assert [bar.find(f"{SVG}title").text for bar in bars] == ["0-10: 4", "10-20: 0", "20-30: 2"]
    assert float(bars[0].get("height")) > float(bars[2].get("height")) > 0

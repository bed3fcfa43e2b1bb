"""The portal's SVG charts (portal.charts): well-formed, escaped, accessible, no inline styles."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from portal import charts
from portal.charts import Series

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_bar_chart_is_an_svg_image_named_by_its_title_and_description():
    root = parsed(charts.bar_chart("Respuestas a tiempo", ["SOPORTE", "IMPLANTACIONES"],
                                   [Series("Primera", [0.5, 1.0])], description="Por mesa"))
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title.text == "Respuestas a tiempo" and desc.text == "Por mesa"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_each_bar_has_a_title_saying_its_category_and_value():
    root = parsed(charts.bar_chart("Carga", ["Carlos", "Elena"], [Series("Abiertos", [3, 1])]))
    bars = root.findall(f"{SVG}rect[@class='chart-bar chart-series-0']")
    assert [b.find(SVG + "title").text for b in bars] == ["Carlos: 3", "Elena: 1"]


def test_bars_are_as_tall_as_their_values_against_a_round_axis_top():
    root = parsed(charts.bar_chart("Carga", ["a", "b"], [Series("x", [10, 5])]))
    heights = [float(b.get("height")) for b in root.findall(f"{SVG}rect[@class='chart-bar chart-series-0']")]
    assert heights[0] == 2 * heights[1] == charts.HEIGHT - charts.TOP - charts.BOTTOM


def test_grouped_bars_get_one_class_per_series_and_a_legend():
    svg = charts.bar_chart("Carga", ["Carlos"], [Series("Abiertos", [2]), Series("Esperando", [1])])
    root = parsed(svg)
    assert root.find(f"{SVG}rect[@class='chart-bar chart-series-1']/{SVG}title").text == "Carlos · Esperando: 1"
    assert [t.text for t in root.findall(f"{SVG}text[@class='chart-legend']")] == ["Abiertos", "Esperando"]


def test_labels_titles_and_series_names_are_escaped():
    evil = '<script>alert("x")</script>&'
    svg = charts.bar_chart(evil, [evil], [Series(evil, [1]), Series("b", [2])], description=evil)
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    root = parsed(svg)  # still well-formed XML
    assert root.find(SVG + "title").text == evil


def test_no_chart_carries_an_inline_style_the_csp_would_block():
    for chart in (charts.bar_chart, charts.line_chart):
        svg = chart("t", ["a", "b", "c"], [Series("x", [1, None, 3]), Series("y", [0, 2, 1])])
        assert "style=" not in svg and "<style" not in svg and "<script" not in svg


def test_a_line_chart_joins_its_points_and_breaks_at_a_missing_value():
    root = parsed(charts.line_chart("Abiertos", ["1", "2", "3", "4", "5"], [Series("x", [1, 2, None, 4, 5])]))
    lines = root.findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [2, 2]
    assert [c.find(SVG + "title").text for c in root.findall(f"{SVG}circle")] == ["1: 1", "2: 2", "4: 4", "5: 5"]


def test_a_line_over_many_days_labels_only_some_of_them():
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    root = parsed(charts.line_chart("Abiertos", days, [Series("x", list(range(30)))]))
    labels = [t.text for t in root.findall(f"{SVG}text[@class='chart-label']")]
    assert labels[0] == "2026-11-01" and 8 <= len(labels) <= 16


def test_an_empty_chart_still_draws_its_axis():
    root = parsed(charts.bar_chart("Nada", [], [Series("x", [])]))
    assert root.findall(f"{SVG}line[@class='chart-grid']") and not root.findall(f"{SVG}rect")


def test_values_above_the_given_top_are_clipped_to_the_plot():
    root = parsed(charts.bar_chart("Cuota", ["a"], [Series("x", [1.5])], top=1))
    assert float(root.find(f"{SVG}rect").get("height")) == charts.HEIGHT - charts.TOP - charts.BOTTOM


def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value():
    assert [charts.nice_top(v) for v in (0, 0.7, 1, 3, 7, 11, 240, 2400)] == [1, 1, 1, 5, 10, 20, 250, 2500]


def test_the_chart_id_is_stable_and_can_be_given():
    assert charts.bar_chart("a", ["x"], [Series("s", [1])]) == charts.bar_chart("a", ["x"], [Series("s", [1])])
    assert 'id="mine-title"' in charts.line_chart("a", ["x"], [Series("s", [1])], chart_id="mine")


def test_shares_and_decimals_use_a_decimal_comma_in_spanish():
    assert charts.percent(0.875) == "87,5 %" and charts.percent(0.875, "en") == "87.5 %"
    assert charts.percent(1) == "100 %" and charts.decimal(1.25, "es") == "1,25"


def test_a_counting_axis_has_whole_numbers_on_every_grid_line():
    assert [charts.count_top(v) for v in (0, 1, 4, 5, 11, 240, 1001)] == [4, 4, 4, 8, 12, 240, 1004]
    root = parsed(charts.line_chart("Abiertos", ["a", "b"], [Series("x", [1, 0])], counts=True))
    assert [t.text for t in root.findall(f"{SVG}text[@class='chart-axis']")] == ["0", "1", "2", "3", "4"]

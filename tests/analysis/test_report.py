"""The HTML report: one self-contained file with the summary, the best configuration and every plot."""
from __future__ import annotations

import dataclasses
import re

import pytest
from plotly.offline import get_plotlyjs

from tests.analysis.browser import evaluate, find_chromium
from tunelab.analysis.plots import PLOTS, learning_curves_data
from tunelab.analysis.report import write_report
from tunelab.analysis.results import Results
from tunelab.analysis.summary import ranked_trials


# A promise, resolved once the page (plotly.js and every figure's script) has loaded.
LOADED = "new Promise((done) => document.readyState === 'complete' ? done() : addEventListener('load', done))"


def test_report_is_one_self_contained_file(tiny_results, tmp_path):
    path = write_report(tiny_results, tmp_path / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count(get_plotlyjs()) == 1  # plotly.js inline, once for every figure
    page = text.replace(get_plotlyjs(), "")  # the library holds links of its own, for traces the report never draws
    figures = re.findall(r'<div id="plot-(\w+)" class="plotly-graph-div"', page)
    assert figures == list(PLOTS) and page.count("Plotly.newPlot(") == len(PLOTS)
    assert not re.search(r"(src|href)=['\"]?(https?:|//|/)", page)  # nothing fetched from anywhere
    assert "<img" not in page and "cdn" not in page.lower()
    for trial_id in tiny_results.trials["trial_id"]:
        assert trial_id in text
    best = tiny_results.best_trial()
    assert f"Trial <code>{best['trial_id']}</code>" in text and "Best configuration" in text
    assert "&lt;NA&gt;" not in text and "<NA>" not in text  # inactive conditional parameters show empty
    assert "analysis test experiment" in text  # the experiment's description


def with_numeric_looking_ids(results: Results) -> Results:
    """The run with trial ids that read as numbers (Ray's are hex: 8573e478 happens), the rest as they were."""
    crafted = ["8573e478", "12345678", "0301895e", "1e500000", "85ca981c", "00000e01", "af01e80f", "3e200000",
               "00990000", "7e100000"]
    ids = dict(zip(results.trials["trial_id"], crafted))
    assert len(ids) == len(results.trials), "the run has more trials than crafted ids"
    return dataclasses.replace(results, trials=results.trials.assign(trial_id=results.trials["trial_id"].map(ids)),
                               history=results.history.assign(trial_id=results.history["trial_id"].map(ids)))


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_the_trials_table_sorts_on_a_click_and_filters_in_chromium(tiny_results, tmp_path):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    results = with_numeric_looking_ids(tiny_results)
    path = write_report(results, tmp_path / "report.html")
    column = "Array.from(document.querySelectorAll('table.trials tbody tr')).filter(r => !r.hidden)" \
             ".map(r => r.cells[{}].textContent.trim())"
    first_ids = column.format(0)
    header = "Array.from(document.querySelectorAll('table.trials thead th')).find(h => h.textContent === '{}')"
    typed = ("(() => {{ const f = document.getElementById('trial-filter'); f.value = '{}'; "
             "f.dispatchEvent(new Event('input')); return true; }})()")
    ranked = ranked_trials(results)
    rate = list(ranked.columns).index("learning_rate")
    shown, _, by_id, _, again, _, by_rate, _, errored = evaluate(path.as_uri(), [
        LOADED + ".then(() => " + first_ids + ")",
        header.format("trial_id") + ".click()", first_ids,
        header.format("trial_id") + ".click()", first_ids,
        header.format("learning_rate") + ".click()", column.format(rate),
        typed.format("errored"), first_ids,
    ])
    ids = list(results.trials["trial_id"])
    assert shown == list(ranked["trial_id"])  # best first, as written
    assert by_id == sorted(ids) and again == sorted(ids, reverse=True)  # ids as text, however they read
    assert by_rate == [f"{rate:.4g}" for rate in sorted(results.trials["learning_rate"])]  # numbers as numbers
    failed = results.trials.loc[results.trials["stop_reason"] == "errored", "trial_id"]
    assert errored == list(failed)  # typing filters the rows


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_the_plots_render_offline_and_show_a_trial_on_hover_in_chromium(tiny_results, tmp_path):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    path = write_report(tiny_results, tmp_path / "report.html")
    plots = "Array.from(document.querySelectorAll('.js-plotly-plot'))"
    hover = ("(() => { const el = document.getElementById('plot-learning_curves'); "
             "Plotly.Fx.hover(el, [{curveNumber: 0, pointNumber: 0}]); "
             "return el.querySelector('.hoverlayer').textContent; })()")
    rendered, drawn, first_ids, label, fetched = evaluate(path.as_uri(), [
        LOADED + ".then(() => " + plots + ".map((el) => el.id))",
        plots + ".map((el) => el.querySelectorAll('.main-svg').length > 0)",
        "document.getElementById('plot-learning_curves').data[0].customdata[0]",
        hover,
        "performance.getEntriesByType('resource').map((entry) => entry.name)",
    ])
    assert rendered == [f"plot-{name}" for name in PLOTS] and all(drawn)
    curves = learning_curves_data(tiny_results).curves
    assert first_ids == curves[0].trial_id
    assert f"trial {curves[0].trial_id}" in label and f"epoch {curves[0].epochs[0]}" in label
    assert fetched == []  # the page loaded nothing beyond itself

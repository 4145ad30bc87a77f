"""The HTML report: one self-contained file with the summary, the best configuration and every plot."""
from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from tests.analysis.browser import evaluate, find_chromium
from tunelab.analysis.plots import PLOTS, learning_curves_data
from tunelab.analysis.report import write_report
from tunelab.analysis.results import Results
from tunelab.analysis.summary import for_display, ranked_trials


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
    columns = list(ranked_trials(tiny_results).columns)
    numeric = {columns[i] for i in json.loads(re.search(r"data-numeric-columns='([^']*)'", text).group(1))}
    assert {"epochs", "learning_rate", "units_1", "momentum"} <= numeric  # the table sorts these as numbers
    assert not numeric & {"trial_id", "stop_reason", "optimizer"}  # and these as text


def test_nullable_columns_show_blank_and_their_floats_keep_the_tables_format():
    """Int64 and boolean parameters, and Float64 ones where runs are combined: no <NA> in a table."""
    frame = pd.DataFrame({"units": pd.array([8, None], dtype="Int64"),
                          "rate": pd.array([0.0123456, None], dtype="Float64"),
                          "flag": pd.array([True, None], dtype="boolean")})
    html = for_display(frame).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}")
    assert re.findall(r"<td>(.*?)</td>", html) == ["8", "0.01235", "True", "", "", ""]


def with_values_text_order_gets_wrong(results: Results) -> Results:
    """The run with trial ids that read as numbers (Ray's are 8 hex characters: 8573e478 happens), learning
    rates across five decades and momenta with blanks, so that sorting as text and as numbers differ."""
    ids = ["8573e478", "12345678", "0301895e", "1e500000", "85ca981c", "00000e01", "af01e80f", "3e200000"]
    rates = [12.0, 3e-05, 0.5, 2.0, 0.001, 0.02, 7.0, 4e-04]
    momenta = [0.5, None, 12.0, None, 3e-05, 0.9, None, 2.0]
    trials = results.trials
    assert len(trials) <= len(ids), "the run has more trials than crafted values"
    renamed = dict(zip(trials["trial_id"], ids))
    crafted = trials.assign(trial_id=trials["trial_id"].map(renamed), learning_rate=rates[:len(trials)],
                            momentum=pd.array(momenta[:len(trials)], dtype="float64"))
    return dataclasses.replace(results, trials=crafted,
                               history=results.history.assign(trial_id=results.history["trial_id"].map(renamed)))


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_the_trials_table_sorts_on_a_click_and_filters_in_chromium(tiny_results, tmp_path):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    results = with_values_text_order_gets_wrong(tiny_results)
    path = write_report(results, tmp_path / "report.html")
    ranked = ranked_trials(results)
    cells = "Array.from(document.querySelectorAll('table.trials tbody tr')).filter(r => !r.hidden)" \
            ".map(r => r.cells[{}].textContent.trim())"
    ids, rates, momenta = (cells.format(list(ranked.columns).index(name))
                           for name in ("trial_id", "learning_rate", "momentum"))
    click = "Array.from(document.querySelectorAll('table.trials thead th')).find(h => h.textContent === '{}').click()"
    typed = ("(() => {{ const f = document.getElementById('trial-filter'); f.value = '{}'; "
             "f.dispatchEvent(new Event('input')); return true; }})()")
    shown, _, by_id, _, again, _, by_rate, _, by_momentum, _, momentum_down, _, errored = evaluate(path.as_uri(), [
        LOADED + ".then(() => " + ids + ")",
        click.format("trial_id"), ids,
        click.format("trial_id"), ids,
        click.format("learning_rate"), rates,
        click.format("momentum"), momenta,
        click.format("momentum"), momenta,
        typed.format("errored"), ids,
    ])
    trial_ids = list(results.trials["trial_id"])
    assert shown == list(ranked["trial_id"])  # best first, as written
    assert by_id == sorted(trial_ids) and again == sorted(trial_ids, reverse=True)  # ids as text, however they read
    assert by_rate == [f"{value:.4g}" for value in sorted(results.trials["learning_rate"])]  # numbers as numbers
    given = sorted(results.trials["momentum"].dropna())
    blanks = [""] * int(results.trials["momentum"].isna().sum())
    assert by_momentum == [f"{value:.4g}" for value in given] + blanks  # empty cells last in either order
    assert momentum_down == [f"{value:.4g}" for value in reversed(given)] + blanks
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

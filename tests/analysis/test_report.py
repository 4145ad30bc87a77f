"""The HTML report: one self-contained file with the summary, the best configuration and every plot."""
from __future__ import annotations

import re

import pytest

from tests.analysis.browser import evaluate, find_chromium
from tunelab.analysis.plots import PLOTS
from tunelab.analysis.report import write_report
from tunelab.analysis.summary import ranked_trials


def test_report_is_one_self_contained_file(tiny_results, tmp_path):
    path = write_report(tiny_results, tmp_path / "report.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    images = re.findall(r"<img alt='(\w+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", text)
    assert [name for name, _ in images] == list(PLOTS) and all(len(data) > 1000 for _, data in images)
    assert not re.search(r"(src|href)=['\"]?(https?:|//|/)", text)  # nothing fetched from anywhere
    for trial_id in tiny_results.trials["trial_id"]:
        assert trial_id in text
    best = tiny_results.best_trial()
    assert f"Trial <code>{best['trial_id']}</code>" in text and "Best configuration" in text
    assert "&lt;NA&gt;" not in text and "<NA>" not in text  # inactive conditional parameters show empty
    assert "analysis test experiment" in text  # the experiment's description


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
@pytest.mark.browser
def test_the_trials_table_sorts_on_a_click_and_filters_in_chromium(tiny_results, tmp_path):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets (pip install -e '.[test]')")
    path = write_report(tiny_results, tmp_path / "report.html")
    first_ids = "Array.from(document.querySelectorAll('table.trials tbody tr')).filter(r => !r.hidden)" \
                ".map(r => r.cells[0].textContent.trim())"
    header = "Array.from(document.querySelectorAll('table.trials thead th')).find(h => h.textContent === '{}')"
    typed = ("(() => {{ const f = document.getElementById('trial-filter'); f.value = '{}'; "
             "f.dispatchEvent(new Event('input')); return true; }})()")
    shown, _, by_id, _, again, _, errored = evaluate(path.as_uri(), [
        first_ids,
        header.format("trial_id") + ".click()", first_ids,
        header.format("trial_id") + ".click()", first_ids,
        typed.format("errored"), first_ids,
    ])
    ids = list(tiny_results.trials["trial_id"])
    assert shown == list(ranked_trials(tiny_results)["trial_id"])  # best first, as written
    assert by_id == sorted(ids) and again == sorted(ids, reverse=True)  # a click sorts, a second reverses
    failed = tiny_results.trials.loc[tiny_results.trials["stop_reason"] == "errored", "trial_id"]
    assert errored == list(failed)  # typing filters the rows

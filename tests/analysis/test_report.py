"""The HTML report: one self-contained file with the summary, the best configuration and every plot."""
from __future__ import annotations

import re

from tunelab.analysis.plots import PLOTS
from tunelab.analysis.report import write_report


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

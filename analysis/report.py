"""One self-contained HTML file per experiment or comparison: summary, best configuration, every plot.

Self-contained means no network and no side files: the style sheet, the scripts and plotly.js
(about 4.8 MB, once) are inline, so the file can be mailed, attached to an issue or opened
offline. The trials table sorts by any column (a click on its header; again for the other order)
and filters by words typed above it; the plots are Plotly figures (tunelab.analysis.interactive)
that show the trial and values under the cursor.
"""
from __future__ import annotations

import datetime
import html
import json
from pathlib import Path

import pandas as pd

from tunelab.analysis.interactive import figure_html, interactive_figures, plotly_script
from tunelab.analysis.results import Results
from tunelab.analysis.interactive.pareto import pareto_figure
from tunelab.analysis.plots.pareto import pareto_data
from tunelab.analysis.summary import for_display, outcome_counts, pareto_table, pareto_title, ranked_trials

_TITLES = {
    "learning_curves": "Learning curves",
    "best_so_far": "Best so far",
    "parallel_coordinates": "Parallel coordinates",
    "samples": "Configurations tried",
    "importance": "Hyperparameter importance",
    "timeline": "Timeline of trials per worker",
    "lineage": "PBT lineages",
}
_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.scroll { overflow-x: auto; }
.meta td { text-align: left; } code { background: #f3f3f3; padding: 0 3px; }
table.trials th { cursor: pointer; user-select: none; }
table.trials th[data-order=asc]::after { content: ' \\25B2'; } table.trials th[data-order=desc]::after { content: ' \\25BC'; }
#trial-filter { font-size: 0.9em; padding: 3px 6px; width: 24em; }
"""
# Sorting and filtering the trials table: the columns numeric in the frame (listed on the table's
# wrapper) as numbers, every other as text — a trial id such as 8573e478 reads as a number, yet is
# not one — and empty cells last in either order. It follows the table, so the table works while the
# browser is still reading plotly.js.
_SCRIPT = """
document.querySelectorAll('table.trials').forEach((table) => {
  const body = table.tBodies[0];
  const numeric = new Set(JSON.parse(table.parentElement.dataset.numericColumns || '[]'));
  const value = (row, column) => {
    const text = row.cells[column].textContent.trim();
    if (text === '') return null;
    if (!numeric.has(column)) return text.toLowerCase();
    const number = text === 'inf' ? Infinity : text === '-inf' ? -Infinity : parseFloat(text);
    return Number.isNaN(number) ? null : number;
  };
  table.querySelectorAll('thead th').forEach((header, column) => {
    header.title = 'sort by ' + header.textContent;
    header.addEventListener('click', () => {
      const ascending = header.dataset.order !== 'asc';
      table.querySelectorAll('thead th').forEach((other) => delete other.dataset.order);
      header.dataset.order = ascending ? 'asc' : 'desc';
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = value(a, column), y = value(b, column);
        if (x === null || y === null) return (x === null) - (y === null);
        const order = numeric.has(column) ? x - y : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
  const filter = document.getElementById('trial-filter');
  filter.addEventListener('input', () => {
    const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    Array.from(body.rows).forEach((row) => {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
    });
  });
});
"""


def write_report(results: Results, path: str | Path, metric: str | None = None, x: str | None = None,
                 y: str | None = None, top: int | None = None) -> Path:
    """Writes the report to `path` and returns it; `x`, `y` pick the axes of the configurations plot."""
    path = Path(path)
    path.write_text(render_report(results, metric, x, y, top), encoding="utf-8")
    return path


def render_report(results: Results, metric: str | None = None, x: str | None = None, y: str | None = None,
                  top: int | None = None) -> str:
    names = [experiment.name for experiment in results.experiments]
    title = f"tunelab report: {', '.join(names)}"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>",
             f"<style>{_STYLE}</style></head><body>", f"<h1>{_e(title)}</h1>",
             f"<p>{len(results.trials)} trials, {_e(outcome_counts(results))}; objective <code>{_e(results.metric)}"
             f"</code> ({_e(results.mode)}). Written {datetime.datetime.now():%Y-%m-%d %H:%M}.</p>",
             "<h2>Experiments</h2>", _experiments_table(results)]
    parts += ["<h2>Best configuration</h2>", _best(results)]
    ranked = ranked_trials(results, top)
    parts += [f"<h2>Trials, best first{f' (top {top})' if top else ''}</h2>",
              "<p><input id='trial-filter' type='search' placeholder='filter: words every shown row holds'> "
              "click a column's name to sort by it</p>",
              f"<div class='scroll' data-numeric-columns='{json.dumps(_numeric_columns(ranked))}'>",
              for_display(ranked).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0,
                                          classes="trials"), "</div>", f"<script>{_SCRIPT}</script>",
              plotly_script()]
    parts += _pareto(results)
    for name, figure in interactive_figures(results, metric, x, y).items():
        parts += [f"<h2>{_TITLES.get(name, name)}</h2>", figure_html(figure, name)]
    parts.append("</body></html>")
    return "\n".join(parts)


def _numeric_columns(frame: pd.DataFrame) -> list[int]:
    """The positions of the columns the table sorts as numbers: numeric in the frame, not true/false."""
    return [position for position, dtype in enumerate(frame.dtypes)
            if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)]


def _pareto(results: Results) -> list[str]:
    """The Pareto front's table and plot, for a run with several objectives or constraints."""
    title = pareto_title(results)
    if title is None:
        return []
    table = for_display(pareto_table(results)).to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}",
                                                       border=0, classes="meta")
    data = pareto_data(results)
    plot = [] if data is None else [figure_html(pareto_figure(data), "pareto")]
    return ["<h2>Pareto front</h2>", f"<p>{_e(title.rstrip(':'))}; the best trial above is the feasible one best "
            f"on {_e(results.metric)}.</p>", "<div class='scroll'>", table, "</div>", *plot]


def _experiments_table(results: Results) -> str:
    rows = []
    for experiment in results.experiments:
        trials = results.trials[results.trials["experiment"] == experiment.name]
        elapsed = (trials["end"].max() - trials["start"].min()).total_seconds() if trials["end"].notna().any() else None
        rows.append({
            "experiment": experiment.name,
            "strategy": experiment.strategy or "",
            "trials": len(trials),
            "epochs trained": int(trials["epochs"].sum()),
            "wall time (s)": f"{elapsed:.0f}" if elapsed is not None else "",
            "stopped early": experiment.stopped or "",
            "description": experiment.spec.get("description", "") if experiment.spec else "",
            "path": str(experiment.path),
        })
    return pd.DataFrame(rows).to_html(index=False, border=0, classes="meta")


def _best(results: Results) -> str:
    best = results.best_trial()
    if best is None and results.multi_objective:
        return f"<p>No trial that kept the constraints reported {_e(results.metric)}.</p>"
    if best is None:
        return f"<p>No trial reported {_e(results.metric)}.</p>"
    config = results.config(best)
    head = (f"<p>Trial <code>{_e(best['trial_id'])}</code> of <code>{_e(best['experiment'])}</code>: "
            f"best {_e(results.metric)} {best[results.objective]:.4g} at epoch {_e(_int(best['best_epoch']))} "
            f"of {int(best['epochs'])} ({_e(best['stop_reason'])}).</p>")
    table = pd.DataFrame({"hyperparameter": list(config), "value": [_value(v) for v in config.values()]})
    return head + table.to_html(index=False, border=0, classes="meta") + (
        f"<p>As JSON: <code>{_e(json.dumps(config, sort_keys=True))}</code></p>")


def _value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _int(value: object) -> str:
    try:
        return str(int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"


def _e(text: object) -> str:
    return html.escape(str(text))

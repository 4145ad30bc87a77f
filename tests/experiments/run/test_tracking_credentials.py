"""An MLflow server that needs credentials: reached with the user and password of its URI, and no
credential ever printed, logged or written to the run folder (record, driver log, events, Ray's state)."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.mlflow_server import mlflow_server
from tests.experiments.run.auth_proxy import basic_auth_proxy
from tests.experiments.run.test_runner import experiment
from tunelab.core.secrets import redact
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.prepare import prepare
from tunelab.experiments.run.runner import run
from tunelab.experiments.spec import spec_from_dict
from tunelab.experiments.tracking import check_mlflow, describe

mlflow = pytest.importorskip("mlflow", reason="the tracking tests need mlflow (pip install -e '.[test]')")
SECRET = "s3cret-Pw"


def test_a_credential_in_the_uri_is_never_shown_in_a_message():
    with pytest.raises(SpecError) as refused:
        check_mlflow(f"http://alice:{SECRET}@127.0.0.1:1")
    assert "http://***@127.0.0.1:1" in str(refused.value) and SECRET not in str(refused.value)
    spec = spec_from_dict({**experiment(Path("/tmp"), "random"), "tracking": {"mlflow": f"http://a:{SECRET}@h:1"}})
    assert describe(spec.tracking) == ["tracking: MLflow at http://***@h:1"]
    assert redact(f"at http://alice:p@{SECRET}@h:5000/api, then") == "at http://***@h:5000/api, then"  # an @ in it


@pytest.mark.slow
def test_a_server_behind_basic_auth_gets_every_trial_and_no_file_holds_the_password(tmp_path, ray_session,
                                                                                    monkeypatch):
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):  # set by the run: undone after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with mlflow_server(tmp_path / "mlflow") as upstream, basic_auth_proxy(upstream, "alice", SECRET) as proxy:
        uri = proxy["uri"].replace("http://", f"http://alice:{SECRET}@")
        raw = experiment(tmp_path / "runs", {"name": "random", "num_samples": 2, "seed": 1}, epochs=1,
                         tracking={"mlflow": uri})
        outcome = run(prepare(spec_from_dict(raw)))
        counts = proxy["counts"]
        client = mlflow.MlflowClient(upstream)
        runs = client.search_runs([client.get_experiment_by_name(Path(outcome.path).name).experiment_id])
    assert outcome.errored == 0 and outcome.trials == 2
    assert sorted(run.info.status for run in runs) == ["FINISHED", "FINISHED"]  # through the proxy, authenticated
    assert counts["served"] > 0 and counts["refused"] == 0
    leaked = [path for path in Path(outcome.path).rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert leaked == []
    assert "http://***@127.0.0.1:" in (Path(outcome.path) / "tunelab_experiment.yaml").read_text()
    assert all(SECRET not in str(value) for run in runs for value in (*run.data.tags.values(), *run.data.params.values()))

"""The `tracking:` key: where a run's trials are also recorded (MLflow), and the user's own Ray callbacks.

    tracking:
      mlflow: http://127.0.0.1:5000     # or sqlite:////abs/mlflow.db, or an absolute folder / ~/mlruns
      checkpoint: true                  # each trial's best checkpoint as an MLflow artifact
      callbacks:                        # Ray Tune callbacks of your own, by module:Class
        - mypackage.loggers:SlackNotifier
        - {class: mypackage.loggers:CsvMirror, folder: /shared/mirror}

Everything that can be wrong is found before Ray starts: the key's shape and the callbacks' classes
when the spec is read (`tracking_from_raw`), whether mlflow is installed and the tracking store
answers when the run is prepared (`tracking_callbacks`), with nothing written anywhere.
"""
from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from tunelab.core.checks import did_you_mean
from tunelab.core.errors import shown
from tunelab.core.secrets import redact, without_credentials
from tunelab.core.user_code import import_module
from tunelab.experiments.errors import SpecError

_KEYS = ("mlflow", "checkpoint", "callbacks")
_SERVER_SCHEMES = ("http", "https")
_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
INSTALL_LINE = "pip install 'tunelab[mlflow]' (in a checkout: pip install -e '.[mlflow]')"


@dataclass(frozen=True)
class CallbackSpec:
    """A user's Ray Tune callback: the class by `module:Class`, and the keyword arguments it is built with."""

    path: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingSpec:
    """Where else the run is recorded; empty by default."""

    mlflow: str | None = None     # an MLflow tracking URI (absolute folders made absolute here)
    checkpoint: bool = False      # log each trial's best checkpoint as an artifact of its MLflow run
    callbacks: tuple[CallbackSpec, ...] = ()


def tracking_from_raw(raw: Any) -> TrackingSpec:
    """Validates the `tracking:` mapping of an experiment YAML; SpecError names the key at fault."""
    if raw is None:
        return TrackingSpec()
    if not isinstance(raw, Mapping):
        raise SpecError(f"tracking: expected a mapping like {{mlflow: http://127.0.0.1:5000}}, got {shown(raw)}")
    for key in raw:
        if key not in _KEYS:
            raise SpecError(f"tracking.{key}: unknown key; allowed: {', '.join(_KEYS)}{did_you_mean(key, _KEYS)}")
    checkpoint = raw.get("checkpoint", False)
    if not isinstance(checkpoint, bool):
        raise SpecError(f"tracking.checkpoint: expected true or false, got {shown(checkpoint)}")
    uri = _mlflow_uri(raw["mlflow"]) if "mlflow" in raw else None
    if checkpoint and uri is None:
        raise SpecError("tracking.checkpoint: logs checkpoints to MLflow; give tracking.mlflow too")
    return TrackingSpec(uri, checkpoint, _callbacks(raw.get("callbacks", [])))


def _mlflow_uri(value: Any) -> str:
    """A tracking server, a database, or a local folder: made absolute, since Ray's driver may run elsewhere."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"tracking.mlflow: expected a tracking URI (http://host:5000, sqlite:////abs/mlflow.db "
                        f"or an absolute folder), got {shown(value)}")
    scheme, sep, rest = value.partition("://")
    quoted = shown(redact(value))
    if sep:
        allowed = (*_SERVER_SCHEMES, *_DATABASE_SCHEMES, "file")
        if scheme not in allowed and not scheme.split("+")[0] in _DATABASE_SCHEMES:
            raise SpecError(f"tracking.mlflow: {quoted} has scheme {scheme!r}; allowed: {', '.join(allowed)} "
                            "(or a folder)")
        if scheme == "file" and not rest.startswith("/"):
            raise SpecError(f"tracking.mlflow: {quoted} is not an absolute file:// URI (file:///abs/folder)")
        if scheme == "sqlite" and not _sqlite_file(value).is_absolute():
            raise SpecError(f"tracking.mlflow: {quoted} names a relative database file, which would depend on "
                            "where you launch from; use four slashes and an absolute path: sqlite:////abs/mlflow.db")
        return value
    if not value.startswith("~") and not Path(value).is_absolute():
        raise SpecError(f"tracking.mlflow: {shown(value)} is relative, which would depend on where you launch "
                        "from; use an absolute folder, ~/..., sqlite:////abs/mlflow.db or http://host:port")
    return Path(value).expanduser().resolve().as_uri()


def _callbacks(raw: Any) -> tuple[CallbackSpec, ...]:
    if not isinstance(raw, list):
        raise SpecError(f"tracking.callbacks: expected a list of module:Class entries, got {shown(raw)}")
    specs = []
    for index, entry in enumerate(raw):
        key = f"tracking.callbacks[{index}]"
        if isinstance(entry, Mapping):
            kwargs = {name: value for name, value in entry.items() if name != "class"}
            path = entry.get("class")
        else:
            path, kwargs = entry, {}
        if not isinstance(path, str) or path.count(":") != 1 or not all(path.split(":")):
            raise SpecError(f"{key}: expected module:Class or {{class: module:Class, argument: value, ...}}, "
                            f"got {shown(entry)}")
        callback_class(CallbackSpec(path, kwargs), key)
        specs.append(CallbackSpec(path, kwargs))
    return tuple(specs)


def callback_class(spec: CallbackSpec, key: str) -> type:
    """The class `spec` names, checked to be a Ray Tune Callback (a LoggerCallback is one)."""
    from ray.tune import Callback

    module_name, _, class_name = spec.path.partition(":")
    module = import_module(module_name, key, SpecError)
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, Callback):
        what = "not found" if found is None else f"a {type(found).__name__}, not a ray.tune.Callback subclass"
        raise SpecError(f"{key}: {spec.path} is {what}")
    return found


def tracking_callbacks(tracking: TrackingSpec, *, run_name: str, run_path: str, metric: str, mode: str,
                       epochs: int, storage_is_local: bool) -> tuple[Any, ...]:
    """The run's tracking callbacks, built and checked before Ray starts (SpecError when they cannot work)."""
    callbacks = []
    if tracking.mlflow is not None:
        from tunelab.experiments.run.mlflow_tracking import MlflowTracking

        check_mlflow(tracking.mlflow)
        if tracking.checkpoint and not storage_is_local:
            raise SpecError("tracking.checkpoint: artifacts are uploaded from the run folder, which needs local "
                            "or shared-filesystem storage (this run's storage is a URI)")
        callbacks.append(MlflowTracking(tracking.mlflow, run_name, run_path, metric=metric, mode=mode,
                                        epochs=epochs, log_checkpoint=tracking.checkpoint))
    for index, spec in enumerate(tracking.callbacks):
        key = f"tracking.callbacks[{index}]"
        try:
            callbacks.append(callback_class(spec, key)(**spec.kwargs))
        except SpecError:
            raise
        except Exception as error:  # the user's constructor: a wrong argument is their mistake, said in one line
            raise SpecError(f"{key}: {spec.path}({_arguments(spec.kwargs)}) raised "
                            f"{type(error).__name__}: {error}") from None
    return tuple(callbacks)


def check_mlflow(uri: str) -> None:
    """mlflow is installed, and the store at `uri` can be reached (a server answers; a database's folder exists)."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise SpecError(f"tracking.mlflow: the mlflow package is not installed; {INSTALL_LINE}") from None
    scheme, _, rest = uri.partition("://")
    if scheme in _SERVER_SCHEMES:
        _check_server(uri)
    elif scheme == "sqlite":
        folder = _sqlite_file(uri).parent
        if not folder.is_dir():
            raise SpecError(f"tracking.mlflow: {redact(uri)}: the database's folder {folder} does not exist")
    elif scheme == "file":
        _check_writable(Path(rest), uri)


def _sqlite_file(uri: str) -> Path:
    """SQLAlchemy's reading: sqlite:///rel.db is relative, sqlite:////abs/x.db absolute."""
    return Path(uri.partition("://")[2][1:])


def _check_server(uri: str) -> None:
    """The server answers its health check, asked with the credentials MLflow's client would send."""
    clean, user, password = without_credentials(uri)
    request = urllib.request.Request(f"{clean.rstrip('/')}/health", headers=_auth_header(user, password))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        problem = str(getattr(error, "reason", error))
    raise SpecError(f"tracking.mlflow: no MLflow tracking server answers at {redact(uri)} ({problem}); start one with "
                    "`mlflow server --host 127.0.0.1 --port 5000`, or track into a folder or sqlite:////abs/mlflow.db")


def _auth_header(user: str | None, password: str | None) -> dict[str, str]:
    """MLflow's order: the URI's user and password, else the environment's, else its token."""
    user = user or os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = password or os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user is not None and password is not None:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _check_writable(folder: Path, uri: str) -> None:
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise SpecError(f"tracking.mlflow: {uri} is not a writable folder (nearest existing: {existing})")


def _arguments(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in kwargs.items())


def describe(tracking: TrackingSpec) -> Sequence[str]:
    """Plan lines: where the run is tracked, for `--dry-run` and the run's header."""
    lines = [f"tracking: MLflow at {redact(tracking.mlflow)}"
             + (" (with each trial's best checkpoint)" if tracking.checkpoint else "")] if tracking.mlflow else []
    lines += [f"callback: {spec.path}" for spec in tracking.callbacks]
    return lines

"""Credentials a user writes into a URI (`http://alice:s3cret@host:5000`) are used, never shown.

Every message, log line and file that quotes such a URI quotes it redacted (`http://***@host:5000`);
what connects takes the credentials apart from the URI. An MLflow server that needs credentials is
reached the MLflow way: `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` or
`MLFLOW_TRACKING_TOKEN` in the environment, or the user and password in the URI.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Any

# Up to the last @ before the path, as urllib splits the user part: a password may hold an @ itself.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][\w+.-]*://)[^/\s'\"]*@")


def redact(text: str) -> str:
    """`text` with the user and password of every URI in it replaced by ***."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def redacted(value: Any) -> Any:
    """A copy of a YAML-like value (mappings, lists, strings) with every URI in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    return value


def without_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """The URI without its user and password, and those two (None where it has none)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri, None, None
    host = parts.netloc.rpartition("@")[2]
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    user, password = (urllib.parse.unquote(part) if part is not None else None for part in (parts.username, parts.password))
    return clean, user, password

"""Model files: ``<home>/risk/models/<version>/`` with ``model.joblib`` and ``meta.json``.

``meta.json`` says what the model is — its version, the training date and
window, the label definition (lead, window, grace, contraction threshold),
the features it expects, the learner chosen and the full evaluation — and the
SHA-256 of ``model.joblib``. Loading checks the digest (a changed or truncated
file is refused) and the scorer checks that the features it gathered are the
ones the model was trained on. The model file is a pickle written by Kizuna
itself into the data folder; like the store, the data folder must only be
writable by Kizuna's operators.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import joblib

from kizuna.errors import ConfigError, InvalidInput, NotFound, Problem
from kizuna.jsonable import to_jsonable
from kizuna.risk.model import ChurnModel
from kizuna.settings import Settings

_VERSION = re.compile(r"^\d{8}-\d{2}$")


def models_dir(settings: Settings) -> Path:
    return settings.home / "risk" / "models"


@dataclass
class TrainedModel:
    """A churn model, the contraction model beside it, and what ``meta.json`` says."""

    churn: ChurnModel
    contraction: ChurnModel | None
    meta: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def _next_version(settings: Settings, as_of: date) -> str:
    stem = as_of.strftime("%Y%m%d")
    taken = {p.name for p in models_dir(settings).glob(f"{stem}-*")}
    n = 1
    while f"{stem}-{n:02d}" in taken:
        n += 1
    return f"{stem}-{n:02d}"


def save_model(settings: Settings, model: TrainedModel, as_of: date) -> Path:
    """Write a new version folder (never overwrites one); returns it."""
    version = _next_version(settings, as_of)
    folder = models_dir(settings) / version
    tmp = folder.with_name(f".{version}.{os.getpid()}.tmp")
    tmp.mkdir(parents=True)
    joblib.dump({"churn": model.churn, "contraction": model.contraction}, tmp / "model.joblib")
    digest = hashlib.sha256((tmp / "model.joblib").read_bytes()).hexdigest()
    model.meta.update(
        version=version, created_at=datetime.now(UTC).isoformat(), model_sha256=digest
    )
    (tmp / "meta.json").write_text(
        json.dumps(to_jsonable(model.meta), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    os.replace(tmp, folder)
    return folder


def list_models(settings: Settings) -> list[dict[str, Any]]:
    """Every saved model's ``meta.json``, newest version first."""
    root = models_dir(settings)
    if not root.exists():
        return []
    out = []
    for folder in sorted(root.iterdir(), reverse=True):
        meta = folder / "meta.json"
        if _VERSION.match(folder.name) and meta.exists():
            try:
                out.append(json.loads(meta.read_text(encoding="utf-8")))
            except ValueError:
                continue
    return out


def latest_version(settings: Settings) -> str | None:
    found = list_models(settings)
    return str(found[0]["version"]) if found else None


def load_model(settings: Settings, version: str | None = None) -> TrainedModel:
    """The model of ``version`` (default: the newest); checks its digest."""
    if version is not None and not _VERSION.match(version):
        raise InvalidInput(
            "invalid model version",
            [Problem(f"{version!r} is not a model version (YYYYMMDD-NN)", field="version")],
        )
    version = version or latest_version(settings)
    if version is None:
        raise NotFound("no churn model has been trained yet; run 'kizuna risk train'")
    folder = models_dir(settings) / version
    if not (folder / "meta.json").exists():
        raise NotFound(f"no churn model version {version!r}")
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    blob = (folder / "model.joblib").read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("model_sha256"):
        raise ConfigError(f"model {version}: model.joblib does not match its meta.json digest")
    parts = joblib.load(folder / "model.joblib")
    churn = parts["churn"]
    if list(meta["features"]) != list(churn.prep.numeric) + [c for c in churn.prep.levels]:
        raise ConfigError(f"model {version}: the features in meta.json do not match the model")
    return TrainedModel(churn=churn, contraction=parts.get("contraction"), meta=meta)


def check_features(model: TrainedModel, available: list[str]) -> None:
    """Refuse to score when the model expects features that were not gathered."""
    missing = [f for f in model.features if f not in available]
    if missing:
        raise ConfigError(
            f"model {model.version} expects features that are not available now: "
            f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}; "
            "compute the metrics it was trained on or train again ('kizuna risk train')"
        )

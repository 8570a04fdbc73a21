"""The churn model: feature preparation, correlated groups, two learners, calibration.

Preparation (:class:`Prep`, fitted on training rows only):

* numeric features whose training values are skewed (|skewness| > 1) are
  log-transformed (``sign(x) * log1p(|x|)``), then clipped to their 1st–99th
  percentiles and standardised; a missing value becomes 0 (the mean) plus a
  ``missing`` indicator column when more than 1 % of training rows miss it;
* categories (segment, lifecycle stage) become one-hot columns (values seen
  in training only; an unseen value is all zeros);
* **groups** — as in *Fighting Churn With Data*: features whose absolute
  correlation with a group's first member exceeds 0.75 join that group, and
  the linear model reads the group's mean (members sign-aligned), so
  contributions are read per group ("usage", not eight usage counts).

Learners: a regularised logistic regression over the group scores (the
interpretable baseline) and LightGBM over the prepared columns. Per-account
contributions: the linear terms ``coef * (x - mean)`` for the regression,
LightGBM's own ``pred_contrib`` (exact TreeSHAP values) for the trees, summed
per group. Probabilities are calibrated with Platt scaling fitted on
out-of-time predictions (:class:`Calibrator`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = ("segment", "stage")
GROUP_CORRELATION = 0.75
MISSING_SHARE = 0.01


@dataclass
class Prep:
    """Fitted preparation of a feature frame into a float matrix (see module docstring)."""

    numeric: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)
    low: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    levels: dict[str, list[str]] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)
    signs: dict[str, float] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The prepared columns, in matrix order."""
        return (
            list(self.numeric)
            + [f"missing:{c}" for c in self.missing]
            + [f"{cat}={v}" for cat, values in self.levels.items() for v in values]
        )

    def fit(self, frame: pd.DataFrame) -> Prep:
        self.numeric = [c for c in frame.columns if c not in CATEGORIES]
        usable = []
        for name in self.numeric:
            values = frame[name].to_numpy(dtype="float64")
            known = values[~np.isnan(values)]
            if known.size < 2 or np.nanstd(known) == 0:
                continue  # constant or empty in training: tells the model nothing
            usable.append(name)
            skew = pd.Series(known).skew()
            if abs(float(skew)) > 1:
                self.logged.append(name)
                known = _log(known)
            self.low[name], self.high[name] = (float(q) for q in np.percentile(known, [1, 99]))
            clipped = np.clip(known, self.low[name], self.high[name])
            self.mean[name] = float(clipped.mean())
            self.scale[name] = float(clipped.std()) or 1.0
            if np.isnan(values).mean() > MISSING_SHARE:
                self.missing.append(name)
        self.numeric = usable
        for cat in CATEGORIES:
            if cat in frame.columns:
                self.levels[cat] = sorted({str(v) for v in frame[cat].dropna().unique()})
        self._fit_groups(self._numeric_matrix(frame))
        return self

    def _numeric_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(frame), len(self.numeric)))
        for j, name in enumerate(self.numeric):
            values = frame[name].to_numpy(dtype="float64") if name in frame.columns else None
            if values is None:
                continue  # absent on scoring: the mean
            if name in self.logged:
                values = _log(values)
            values = (np.clip(values, self.low[name], self.high[name]) - self.mean[name]) / (
                self.scale[name]
            )
            out[:, j] = np.nan_to_num(values, nan=0.0)
        return out

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The prepared matrix (columns :attr:`columns`)."""
        parts = [self._numeric_matrix(frame)]
        if self.missing:
            parts.append(
                np.column_stack(
                    [
                        frame[c].isna().to_numpy(dtype="float64")
                        if c in frame.columns
                        else np.ones(len(frame))
                        for c in self.missing
                    ]
                )
            )
        for cat, values in self.levels.items():
            col = frame[cat].astype(str).to_numpy() if cat in frame.columns else None
            for v in values:
                parts.append(
                    (col == v).astype("float64")[:, None]
                    if col is not None
                    else np.zeros((len(frame), 1))
                )
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def _fit_groups(self, matrix: np.ndarray) -> None:
        """Greedy grouping of strongly correlated numeric features (order: most variable
        information first, i.e. the column order; each joins the first group it fits)."""
        if matrix.shape[1] == 0:
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(matrix, rowvar=False))
        corr = np.atleast_2d(corr)
        leaders: list[int] = []
        members: dict[int, list[int]] = {}
        for j in range(matrix.shape[1]):
            for lead in leaders:
                if abs(corr[j, lead]) > GROUP_CORRELATION:
                    members[lead].append(j)
                    self.signs[self.numeric[j]] = float(np.sign(corr[j, lead]) or 1.0)
                    break
            else:
                leaders.append(j)
                members[j] = [j]
                self.signs[self.numeric[j]] = 1.0
        self.groups = [[self.numeric[j] for j in members[lead]] for lead in leaders]

    def group_of(self) -> dict[str, str]:
        """Prepared column -> group key (the group's first member; categories and
        missing indicators map to their feature)."""
        mapping: dict[str, str] = {}
        for group in self.groups:
            for name in group:
                mapping[name] = group[0]
        for name in self.missing:
            mapping[f"missing:{name}"] = mapping.get(name, name)
        for cat, values in self.levels.items():
            for v in values:
                mapping[f"{cat}={v}"] = cat
        return mapping

    def grouped(self, matrix: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """The linear model's inputs: each group's sign-aligned mean, then the rest."""
        position = {c: i for i, c in enumerate(self.columns)}
        cols = []
        names = []
        for group in self.groups:
            block = np.column_stack([matrix[:, position[c]] * self.signs[c] for c in group])
            cols.append(block.mean(axis=1))
            names.append(group[0])
        rest = [c for c in self.columns if c not in self.numeric]
        for c in rest:
            cols.append(matrix[:, position[c]])
            names.append(c)
        return (np.column_stack(cols) if cols else np.zeros((len(matrix), 0))), names


def _log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


@dataclass
class Calibrator:
    """Platt scaling of a model's raw log-odds, fitted on out-of-time predictions."""

    a: float = 1.0
    b: float = 0.0

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        from sklearn.linear_model import LogisticRegression

        if len(np.unique(y)) < 2:
            return self
        model = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(raw)[:, None], y)
        self.a, self.b = float(model.coef_[0][0]), float(model.intercept_[0])
        return self

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        # expit: no overflow when out-of-time predictions separated perfectly (a steep slope)
        return np.asarray(expit(self.a * _logit(raw) + self.b))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class ChurnModel:
    """One fitted learner with its preparation: ``kind`` is ``logistic`` or ``lightgbm``."""

    kind: str
    params: dict[str, Any]
    prep: Prep = field(default_factory=Prep)
    estimator: Any = None
    calibrator: Calibrator = field(default_factory=Calibrator)
    input_names_: list[str] = field(default_factory=list)
    centre_: list[float] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> ChurnModel:
        self.prep = Prep().fit(frame)
        matrix = self.prep.transform(frame)
        if self.kind == "logistic":
            from sklearn.linear_model import LogisticRegression

            inputs, self.input_names_ = self.prep.grouped(matrix)
            self.centre_ = [float(v) for v in inputs.mean(axis=0)]
            self.estimator = LogisticRegression(
                C=float(self.params.get("C", 0.1)), max_iter=2000, class_weight=None
            ).fit(inputs, y)
        else:
            import lightgbm as lgb

            self.input_names_ = self.prep.columns
            self.estimator = lgb.LGBMClassifier(
                n_estimators=int(self.params.get("n_estimators", 200)),
                learning_rate=float(self.params.get("learning_rate", 0.05)),
                num_leaves=int(self.params.get("num_leaves", 15)),
                min_child_samples=int(self.params.get("min_child_samples", 40)),
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                reg_lambda=1.0,
                n_jobs=2,
                random_state=0,
                verbose=-1,
            ).fit(pd.DataFrame(matrix, columns=_safe(self.input_names_)), y)
        return self

    def _inputs(self, frame: pd.DataFrame) -> np.ndarray | pd.DataFrame:
        matrix = self.prep.transform(frame)
        if self.kind == "logistic":
            return self.prep.grouped(matrix)[0]
        return pd.DataFrame(matrix, columns=_safe(self.input_names_))

    def raw_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated churn probability."""
        return np.asarray(self.estimator.predict_proba(self._inputs(frame))[:, 1])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability."""
        return self.calibrator(self.raw_proba(frame))

    def contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """Per-account contributions to the raw log-odds, summed per group (rows × groups)."""
        inputs = self._inputs(frame)
        if self.kind == "logistic":
            coef = self.estimator.coef_[0]
            names = self.input_names_
            centre = np.asarray(self.centre_ or np.zeros(len(coef)))
            terms = (np.asarray(inputs) - centre) * coef
        else:
            terms = np.asarray(self.estimator.predict_proba(inputs, pred_contrib=True))[:, :-1]
            names = self.input_names_
        mapping = self.prep.group_of()
        keys = list(dict.fromkeys(mapping.get(n, n) for n in names))
        position = {k: i for i, k in enumerate(keys)}
        out = np.zeros((terms.shape[0], len(keys)))
        for j, name in enumerate(names):
            out[:, position[mapping.get(name, name)]] += terms[:, j]
        return out, keys


def _safe(names: list[str]) -> list[str]:
    """LightGBM refuses some characters in feature names."""
    return [f"f{i}" for i in range(len(names))]

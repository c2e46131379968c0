"""The one model protocol every adapter implements."""

from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np


class Model(Protocol):
    """A model as shapkit sees it: data in, a float64 matrix ``(rows, k)`` out."""

    #: Names of the k outputs (class labels, "prediction", "output_0", ...).
    output_names: list[str]

    def predict(self, data: Any) -> np.ndarray:
        """Outputs for ``data`` (the type of X) as float64 ``(rows, k)``."""
        ...


def tensor_to_numpy(raw: Any) -> Any:
    """A torch tensor as a numpy array (detached from autograd, moved to the CPU;
    bfloat16 and float16 widened to float32); anything else unchanged. Never imports
    torch: a tensor cannot exist unless torch is loaded."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(raw, torch.Tensor):
        return raw
    tensor = raw.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()


def as_matrix(raw: Any, n_rows: int, source: str) -> np.ndarray:
    """Turn a model's raw output into float64 ``(rows, k)``, or raise ModelOutputError.

    Accepted: arrays, lists, pandas objects, torch tensors (detached: a tensor that
    requires grad is fine) and scipy sparse matrices (densified), of shape ``(rows,)``
    or ``(rows, k)``, real and finite. A list or tuple of 2-D arrays (one per target,
    as ``MultiOutputClassifier.predict_proba`` returns) is refused.
    """
    from ..exceptions import ModelOutputError

    if hasattr(raw, "to_numpy"):
        raw = raw.to_numpy()
    raw = tensor_to_numpy(raw)
    if hasattr(raw, "toarray") and hasattr(raw, "nnz"):  # scipy sparse, without importing it
        raw = raw.toarray()
    if (
        isinstance(raw, (list, tuple))
        and raw
        and all(np.ndim(part) == 2 and hasattr(part, "shape") for part in raw)
    ):
        raise ModelOutputError(
            f"{source} returned a {type(raw).__name__} of {len(raw)} arrays, one per target "
            f"(as MultiOutputClassifier.predict_proba does); multi-target classifiers are "
            f"not supported. Explain one target's estimator, e.g. model.estimators_[i], or "
            f"wrap the model to return one array of shape ({n_rows}, k)."
        )
    if np.iscomplexobj(raw):
        raise ModelOutputError(
            f"{source} returned complex numbers; Shapley values need real outputs. Wrap "
            f"the model to return a real quantity (e.g. the modulus or the real part)."
        )
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelOutputError(
            f"{source} returned {type(raw).__name__} that is not numeric ({exc}); "
            f"the model must return numbers of shape (rows,) or (rows, k)."
        ) from exc
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != n_rows:
        raise ModelOutputError(
            f"{source} returned shape {np.shape(raw)} for {n_rows} input rows; "
            f"it must return one output per row: shape ({n_rows},) or ({n_rows}, k)."
        )
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).any(axis=1).sum())
        raise ModelOutputError(
            f"{source} returned non-finite values (NaN or inf) for {bad} of {n_rows} rows; "
            f"Shapley values of such outputs are undefined. Check the model on these inputs "
            f"or choose a bounded output (e.g. output='probability')."
        )
    return out

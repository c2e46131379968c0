"""Adapter for torch ``nn.Module``s: eval mode, no_grad, the module's device and dtype."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..exceptions import ModelOutputError
from .base import as_matrix


def _is_numeric(dtype: Any) -> bool:
    """numpy numbers and bools, and pandas' nullable Int64 / Float64 / boolean dtypes."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biuf"
    numpy_dtype = getattr(dtype, "numpy_dtype", None)
    try:
        return numpy_dtype is not None and np.dtype(numpy_dtype).kind in "biuf"
    except TypeError:
        return False


def is_torch_module(obj: Any) -> bool:
    """True if ``obj`` is a ``torch.nn.Module`` (never imports torch itself)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


class TorchModel:
    """Calls a torch module on numeric data in eval mode under ``torch.no_grad()``.

    Inputs are converted to a tensor of the module's dtype on the module's device (taken
    from its first parameter or buffer; float32 on the CPU for a module with neither),
    in batches of at most ``batch_size`` rows. Numeric columns include pandas' nullable
    ``Int64``/``Float64``/``boolean`` (missing values become NaN). The module must return
    one tensor; a tuple or dict raises :class:`~shapkit.ModelOutputError`. Outputs
    ``(rows,)``, ``(rows, 1)`` or ``(rows, k)`` come back as float64. The module's
    training flag is restored after each call.

    Examples
    --------
    >>> import numpy as np, torch
    >>> model = TorchModel(torch.nn.Linear(3, 2))
    >>> model.predict(np.zeros((4, 3))).shape
    (4, 2)
    """

    def __init__(self, module: Any, batch_size: int | None = None) -> None:
        import torch

        self.module = module
        self.batch_size = batch_size
        tensor = next(iter(module.parameters()), None)
        if tensor is None:
            tensor = next(iter(module.buffers()), None)
        self.device = tensor.device if tensor is not None else torch.device("cpu")
        self.dtype = (
            tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float32
        )
        self.output_names: list[str] = []

    def _to_numpy(self, data: Any) -> np.ndarray:
        if hasattr(data, "dtypes"):  # DataFrame
            non_numeric = [str(c) for c, t in data.dtypes.items() if not _is_numeric(t)]
            if non_numeric:
                raise TypeError(
                    f"A torch module needs numeric inputs, but columns {non_numeric} are not "
                    f"numeric; encode them first (e.g. one-hot) and explain the encoded data."
                )
            # nullable Int64 / Float64 / boolean columns: missing values become NaN
            return data.to_numpy(dtype=np.float64, na_value=np.nan)
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"A torch module needs numeric inputs, got an array of dtype {array.dtype}; "
                f"encode non-numeric columns first."
            )
        return array

    def predict(self, data: Any) -> np.ndarray:
        import torch

        array = self._to_numpy(data)
        n = array.shape[0]
        step = self.batch_size or max(n, 1)
        was_training = self.module.training
        self.module.eval()
        parts = []
        try:
            with torch.no_grad():
                for start in range(0, n, step):
                    # contiguous and writable: torch warns about read-only arrays (pandas'
                    # copy-on-write hands out read-only views of a DataFrame's data)
                    batch = torch.as_tensor(
                        np.require(array[start : start + step], requirements=["C", "W"]),
                        dtype=self.dtype,
                        device=self.device,
                    )
                    out = self.module(batch)
                    if not isinstance(out, torch.Tensor):
                        raise ModelOutputError(
                            f"The torch module {type(self.module).__name__} returned a "
                            f"{type(out).__name__}, not a tensor; shapkit explains one "
                            f"tensor of shape (rows,) or (rows, k). Return one tensor; wrap "
                            f"the module to pick the output, e.g. lambda Z: "
                            f"module(torch.as_tensor(Z))[0] for the first of a tuple."
                        )
                    parts.append(out.detach().to(device="cpu", dtype=torch.float64).numpy())
        finally:
            self.module.train(was_training)
        raw = np.concatenate(parts, axis=0) if parts else np.empty((0,))
        if raw.ndim > 2:
            raw = raw.reshape(raw.shape[0], -1) if raw.shape[0] == n else raw
        out = as_matrix(raw, n, f"The torch module {type(self.module).__name__}")
        if not self.output_names:
            k = out.shape[1]
            self.output_names = ["prediction"] if k == 1 else [f"output_{c}" for c in range(k)]
        return out

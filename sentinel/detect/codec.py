"""A detector as a JSON tree plus flat arrays, and back: the encoding under model checkpoints.

:class:`Encoder` walks a detector (constructor parameters, learned state,
nested detectors such as a wrapper's ``inner``) into a JSON-able tree whose
arrays are replaced by ``{"__nd__": key}`` references into a flat dict, which
:mod:`sentinel.detect.persist` stores in one ``.npz``.  :class:`Decoder`
rebuilds it: only classes from ``sentinel.detect`` are instantiated, and
nothing from the file is executed (no pickle).

:func:`structure` is the same walk without learned state: the classes and
constructor parameters, wrappers included.  Two detectors with equal
structure were built the same way, so a checkpoint may only be restored into
a watch whose fresh detector has the checkpoint's structure
(:func:`sentinel.checkpoint.fingerprint`).

>>> from sentinel.detect.counts import CountFloor
>>> from sentinel.detect.ensemble import Ensemble
>>> outline(structure(CountFloor(Ensemble(step=60))))
'CountFloor(Ensemble)'
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Any

import numpy as np

from sentinel.detect.base import OnlineDetector
from sentinel.series_index import SeriesIndex

FORMAT = 1
"""Version of the tree layout; a checkpoint of another version is refused, not misread."""
ALLOWED_PREFIX = "sentinel.detect."
"""Only classes from modules under this prefix are encoded as models and rebuilt."""


def constructor_params(obj: Any) -> dict[str, Any]:
    """``get_params()`` plus the constructor arguments it leaves out but the object keeps (e.g. the guard's
    ``inner``): everything needed to build the object again."""
    params = dict(obj.get_params()) if hasattr(obj, "get_params") else {}
    for name in inspect.signature(type(obj).__init__).parameters:
        if name not in params and name != "self" and hasattr(obj, name):
            params[name] = getattr(obj, name)
    return params


def _is_model(v: Any) -> bool:
    return type(v).__module__.startswith(ALLOWED_PREFIX)


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


class Encoder:
    """Turns a detector into a JSON tree plus a flat dict of arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray) -> dict[str, str]:
        if a.dtype == object:
            raise TypeError("object arrays cannot be checkpointed")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return {"__nd__": key}

    def value(self, v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return {"__float__": repr(v)}
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, SeriesIndex):
            return {"__index__": [[list(kv) for kv in key] for key in v.keys]}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError("only dicts with string keys can be checkpointed")
            return {"__dict__": {k: self.value(x) for k, x in v.items()}}
        if _is_model(v):
            return self.model(v)
        raise TypeError(f"cannot checkpoint a {type(v).__module__}.{type(v).__qualname__}")

    def model(self, obj: Any) -> dict[str, Any]:
        params = constructor_params(obj)
        if isinstance(obj, OnlineDetector):
            learned = {"state_": obj.state_, "index_": obj.index_}
            learned.update({k: getattr(obj, k) for k in getattr(obj, "checkpoint_attrs", ())})
        else:
            learned = {k: v for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}
        return {
            "__obj__": _class_name(obj),
            "params": {k: self.value(v) for k, v in params.items()},
            "learned": {k: self.value(v) for k, v in learned.items()},
        }


class Decoder:
    """Rebuilds what :class:`Encoder` wrote, given its arrays; refuses classes outside ``sentinel.detect``."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "__nd__" in v:
            return self.arrays[v["__nd__"]]
        if "__float__" in v:
            return float(v["__float__"])
        if "__index__" in v:
            return SeriesIndex(tuple(tuple(kv) for kv in key) for key in v["__index__"])
        if "__tuple__" in v:
            return tuple(self.value(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {k: self.value(x) for k, x in v["__dict__"].items()}
        if "__obj__" in v:
            return self.model(v)
        raise ValueError(f"unknown node in checkpoint: {sorted(v)[:3]}")

    def model(self, node: dict[str, Any]) -> Any:
        module, _, qualname = str(node["__obj__"]).partition(":")
        if not module.startswith(ALLOWED_PREFIX) or "." in qualname:
            raise ValueError(f"refusing to rebuild {node['__obj__']!r}: not a sentinel detector")
        cls = getattr(importlib.import_module(module), qualname)
        obj = cls(**{k: self.value(v) for k, v in node["params"].items()})
        learned = {k: self.value(v) for k, v in node["learned"].items()}
        if isinstance(obj, OnlineDetector):
            obj.index_.rows(learned.pop("index_").keys)  # in place: wrappers share their inner's index
            obj.state_ = dict(learned.pop("state_"))
            extra = set(learned) - set(getattr(obj, "checkpoint_attrs", ()))
            if extra:
                raise ValueError(f"checkpoint holds attributes {sorted(extra)} that {type(obj).__name__} does not keep")
            for k, v in learned.items():
                setattr(obj, k, v)
        else:
            for k, v in learned.items():
                setattr(obj, k, v)
        return obj


# -- structure ------------------------------------------------------------------------


def structure(obj: Any) -> dict[str, Any]:
    """Class and constructor parameters of a model, nested models (wrappers' ``inner``) included,
    without learned state: JSON-able and stable across learning, saving and loading."""
    return {"class": _class_name(obj),
            "params": {k: _structure_value(v) for k, v in sorted(constructor_params(obj).items())}}


def _structure_value(v: Any) -> Any:
    if _is_model(v):
        return structure(v)
    if isinstance(v, np.ndarray):
        return {"array": list(v.shape), "dtype": str(v.dtype),
                "sha256": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:16]}
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, tuple | list):
        return [_structure_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _structure_value(x) for k, x in v.items()}
    return f"<{type(v).__module__}.{type(v).__qualname__}>"


def outline(tree: dict[str, Any]) -> str:
    """The wrapper chain of a :func:`structure` tree for people, e.g. ``CountFloor(Likelihood(Guard(Ensemble)))``."""
    name = str(tree["class"]).rpartition(":")[2]
    inner = [outline(v) for v in tree["params"].values() if isinstance(v, dict) and "class" in v]
    return f"{name}({', '.join(inner)})" if inner else name


# -- carrying learned state into new parameters ----------------------------------------


def adopt(fresh: OnlineDetector, old: OnlineDetector) -> OnlineDetector | None:
    """``fresh``'s classes and parameters with ``old``'s learned state, or None when that state does not fit.

    An upgrade that changes a default parameter (not a class, not the state's
    layout) should not throw away weeks of learned seasonality.  Both must be
    the same wrapper chain; the state, once the new version's missing parts are
    filled in (:meth:`OnlineDetector._fill_missing`), must have exactly the keys,
    dtypes and per-series shapes a fresh state of the new parameters has.

    >>> import numpy as np
    >>> from sentinel.detect.ensemble import Ensemble
    >>> from sentinel.series import Batch
    >>> old = Ensemble(step=60, band=4.0)
    >>> _ = old.process(Batch.from_rows([{}], np.arange(5) * 60, np.ones((1, 5))))
    >>> new = adopt(Ensemble(step=60, band=3.0), old)
    >>> new.band, len(new.index_)
    (3.0, 1)
    >>> adopt(Ensemble(step=60, members=("residual",)), old) is None  # its members' state differs
    True
    """
    if outline(structure(fresh)) != outline(structure(old)):
        return None
    enc = Encoder()
    tree = _merge_params(enc.model(old), enc.model(fresh))
    try:
        obj = Decoder(enc.arrays).model(tree)
    except (TypeError, ValueError):  # learned attributes the new parameters do not keep
        return None
    state = obj.state_
    obj._fill_missing(state)
    want = obj._init_state(1)
    n = len(obj.index_)
    if set(state) != set(want) or any(
        state[k].dtype != want[k].dtype or state[k].shape[1:] != want[k].shape[1:] or len(state[k]) != n
        for k in want
    ):
        return None
    return obj


def _merge_params(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old``'s encoded model with ``new``'s parameters (nested models merged the same way)."""
    params = {}
    for k, v in new["params"].items():
        o = old["params"].get(k)
        nested = isinstance(v, dict) and "__obj__" in v and isinstance(o, dict) and o.get("__obj__") == v["__obj__"]
        params[k] = _merge_params(o, v) if nested else v
    return {**old, "params": params}

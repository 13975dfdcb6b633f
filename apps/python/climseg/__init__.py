"""climseg in Python: xarray in, xarray out (docs/python.md).

    import xarray as xr, climseg
    ds = xr.open_dataset("cam5.nc")            # or xr.open_zarr(...), a Dask-chunked dataset
    m = climseg.load_model("cgnet_climatenet.h5")
    out = m.predict(ds)                         # class_mask on ds's own coordinates
    out = ds.climseg.predict(m)                 # the same, through the accessor
    scores = climseg.evaluate(m, ds)            # against ds's LABELS
    labels, tracks, rivers = climseg.detect(ds)  # climseg label's detectors: LABELS and two DataFrames
    table, ids = climseg.events(labels)         # climseg events: events.csv as a DataFrame, event ids
    st = climseg.stats(ds)                      # climseg stats --out -: the statistics dict

The computations are climseg's own (the library the command line runs), with the GIL released
and climseg's thread count (set_threads). Bad input or usage raises ValueError, other failures
RuntimeError, each with climseg's one-line message.
"""

import json

import numpy as np
import xarray as xr

from . import _climseg
from . import _xarray as _x
from ._climseg import get_threads, set_log_level, set_threads

__all__ = ["load_model", "Model", "evaluate", "train", "detect", "Detection", "events", "Events", "stats", "set_threads", "get_threads", "set_log_level", "version"]


def version():
    """climseg's version and build, as `climseg --version` prints them."""
    return _climseg.version()


def _check_dataset(ds, what):
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"{what}: expected an xarray.Dataset, got {type(ds).__name__}")
    return ds


def _units_of(arrays, units):
    units = dict(units or {})
    out = []
    for da, what, _ in arrays:
        var = what.split("@")[0]
        out.append(str(units.get(var, units.get(what, da.attrs.get("units", "")))))
    return out


def _class_var_name(c):
    return "prob_" + c.replace(" ", "_")


class Model:
    """A trained model: a climseg checkpoint or ClimateNet's published weights (load_model)."""

    def __init__(self, path):
        self._m = _climseg.Model(str(path))

    source = property(lambda self: self._m.source)
    kind = property(lambda self: self._m.kind)
    architecture = property(lambda self: self._m.architecture)
    channels = property(lambda self: list(self._m.channels))
    classes = property(lambda self: list(self._m.classes))
    training_grid = property(lambda self: self._m.training_grid)

    def __repr__(self):
        return (f"<climseg.Model {self.kind} {self.source}: {self.architecture}, channels "
                f"{','.join(self.channels)}, classes {','.join(self.classes)}>")

    def _inputs(self, ds, channels, units):
        given = _x.channels_given(channels)
        arrays = _x.resolve_channels(ds, self._m.specs(given))
        layout = _x.Layout(ds, [a for a, _, _ in arrays])
        return given, arrays, layout, _units_of(arrays, units)

    def predict(self, ds, probabilities=False, batchnorm="running", regrid=False, *, channels=None, units=None,
                fill_policy="mask", precision="fp32"):
        """Class masks (and class probabilities) of every time step of `ds`, as `climseg predict`
        computes them, in a Dataset on ds's own coordinates (time, latitude, longitude, in its
        order) with ds's attributes. `channels` ({"TMQ": "IWV"}) and `units` ({"PSL": "hPa"}) are
        predict's --channels and --units; a Dask-backed `ds` gives a Dask-backed result computed
        one time chunk at a time."""
        ds = _check_dataset(ds, "predict")
        given, arrays, layout, file_units = self._inputs(ds, channels, units)
        vars_ = [w for _, w, _ in arrays]
        das = [a for a, _, _ in arrays]
        classes = self.classes
        K = len(classes)

        def run(t0, t1, *values):
            return self._m.predict(list(values), vars_, file_units, given, layout.lat, layout.lon, probabilities,
                                   batchnorm, regrid, fill_policy, precision)

        # Options are checked (and a bad one refused) before any chunk is scheduled.
        _check_choice("batchnorm", batchnorm, ("running", "batch"))
        _check_choice("fill_policy", fill_policy, ("mask", "mean", "error"))
        _check_choice("precision", precision, ("fp32", "bf16"))
        if regrid and self.training_grid is None:
            raise ValueError(f"{self.source}: regrid=True: the model records no training grid (a checkpoint from "
                             "before climseg stored it)")
        if _x.is_lazy(das):
            import dask
            import dask.array as da_

            def block(t0, t1, *values):
                values = [np.ascontiguousarray(v, dtype=np.float32) for v in values]
                if not layout.time_dim:
                    values = [v[np.newaxis] for v in values]
                r = run(t0, t1, *values)
                return (r["class_mask"], *r["probabilities"])

            masks, probs = [], [[] for _ in range(K if probabilities else 0)]
            for t0, t1 in _x.time_chunks(layout, das):
                n = t1 - t0
                shape = (n, layout.lat.size, layout.lon.size)
                vals = [layout.lazy(a, t0, t1) for a in das]  # Dask arrays: computed chunk by chunk
                d = dask.delayed(block, nout=1 + len(probs))(t0, t1, *vals)
                masks.append(da_.from_delayed(d[0], shape, dtype=np.int8))
                for c in range(len(probs)):
                    probs[c].append(da_.from_delayed(d[1 + c], shape, dtype=np.float32))
            mask = da_.concatenate(masks, axis=0)
            prob = [da_.concatenate(p, axis=0) for p in probs]
            info = {"batchnorm": _batchnorm_text(batchnorm), "regridded": bool(regrid)}
        else:
            r = run(0, layout.steps, *[layout.values(a) for a in das])
            mask, prob = r["class_mask"], r["probabilities"]
            info = r
        out = xr.Dataset(attrs=layout.attrs)
        out["class_mask"] = layout.dataarray(mask, {
            "long_name": "most probable class", "units": "1",
            "flag_values": np.arange(K, dtype=np.int8), "flag_meanings": " ".join(c.replace(" ", "_") for c in classes)})
        out["class_mask"].encoding["_FillValue"] = np.int8(-1)
        for c, p in zip(classes, prob):
            out[_class_var_name(c)] = layout.dataarray(p, {"long_name": f"probability of {c}", "units": "1",
                                                           "valid_range": np.array([0.0, 1.0], dtype=np.float32)})
        out.attrs.update({
            "model_kind": self.kind, "model_architecture": self.architecture,
            "model_channels": ",".join(self.channels), "model_source": self.source,
            "input_channels": ", ".join(f"{c}={w} [{u}]" for c, w, u in zip(self.channels, vars_, file_units)),
            "batchnorm": info["batchnorm"], "fill_policy": fill_policy,
        })
        if "missing_cells" in info:
            out.attrs["missing_input_cells"] = int(info["missing_cells"])
        return out

    def evaluate(self, ds, labels="LABELS", batchnorm="running", *, channels=None, units=None, fill_policy="mask"):
        """Scores against ds[labels] (class ids; NaN or negative where unknown): the dict
        `climseg evaluate --json` writes (confusion matrix, IoU, precision, recall, F1)."""
        ds = _check_dataset(ds, "evaluate")
        if labels not in ds.data_vars:
            raise ValueError(f"{_x._where(ds)}: no labels to evaluate against: no variable {labels} (set labels=)")
        given, arrays, layout, file_units = self._inputs(ds, channels, units)
        lab = layout.values(ds[labels])
        text = self._m.evaluate([layout.values(a) for a, _, _ in arrays], [w for _, w, _ in arrays], file_units,
                                given, layout.lat, layout.lon, lab, batchnorm, fill_policy)
        return json.loads(text)


def _check_choice(option, value, choices):
    if value not in choices:
        raise ValueError(f"{option}={value!r}: expected {', '.join(choices[:-1])} or {choices[-1]}")


def _batchnorm_text(b):
    if b == "batch":
        return "batch: BatchNorm normalised each sample with its own statistics (PyTorch's train-mode forward)"
    return "running: BatchNorm used the checkpoint's running statistics (PyTorch's eval mode)"


def load_model(path):
    """A climseg checkpoint or ClimateNet's weights file (cgnet_climatenet.h5), or the name of a
    model bundled with climseg (cgnet_synth_96x144.h5)."""
    return Model(path)


def evaluate(model, ds, **kwargs):
    """model.evaluate(ds, **kwargs)."""
    return model.evaluate(ds, **kwargs)


def train(config):
    """Runs `climseg train` on a configuration dict (the keys of docs/training.md); returns its
    report: steps, last_loss, checkpoints, the last validation scores and the resolved config."""
    if not isinstance(config, dict):
        raise ValueError(f"train: expected a configuration dict, got {type(config).__name__}")
    return json.loads(_climseg.train(json.dumps(config)))


from ._detect import Detection, detect  # noqa: E402
from ._pipelines import Events, events, stats  # noqa: E402
from . import accessor  # noqa: E402,F401  (registers ds.climseg)

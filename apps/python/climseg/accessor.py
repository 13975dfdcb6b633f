"""The xarray accessor: ds.climseg.predict(m), ds.climseg.evaluate(m)."""

import xarray as xr


@xr.register_dataset_accessor("climseg")
class ClimsegAccessor:
    def __init__(self, ds):
        self._ds = ds

    def predict(self, model, **kwargs):
        """model.predict(ds, **kwargs) (climseg.Model.predict)."""
        return model.predict(self._ds, **kwargs)

    def evaluate(self, model, **kwargs):
        """model.evaluate(ds, **kwargs) (climseg.Model.evaluate)."""
        return model.evaluate(self._ds, **kwargs)

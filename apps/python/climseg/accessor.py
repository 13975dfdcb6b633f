"""The xarray accessor: ds.climseg.predict(m), ds.climseg.evaluate(m), ds.climseg.detect(), ds.climseg.events(), ds.climseg.stats()."""

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

    def detect(self, detectors=("tc", "ar"), **params):
        """climseg.detect(ds, detectors, **params)."""
        from . import detect
        return detect(self._ds, detectors, **params)

    def events(self, **params):
        """climseg.events(ds, **params)."""
        from . import events
        return events(self._ds, **params)

    def stats(self, **params):
        """climseg.stats(ds, **params)."""
        from . import stats
        return stats(self._ds, **params)

"""Capacity forecasts and time to limit (see forecaster.py for the entry point)."""

from sentinel.forecast.forecaster import Forecast, Forecaster, TimeToLimit, to_grid

__all__ = ["Forecast", "Forecaster", "TimeToLimit", "to_grid"]

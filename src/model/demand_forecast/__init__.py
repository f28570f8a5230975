"""demand_forecast: weekly retail demand forecasting per region x store format x velocity segment."""

__version__ = "0.1.0"

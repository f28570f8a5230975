"""stackctl: plan, apply, deploy, audit and validate the forecast-stack environments."""

__version__ = "0.1.0"

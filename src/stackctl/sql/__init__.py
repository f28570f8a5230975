"""The reporting database: one schema definition, created on SQLite locally and on Azure SQL by deploy."""

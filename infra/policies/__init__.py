"""forecast-stack organisation rules as custom checkov policies (loaded with --external-checks-dir)."""

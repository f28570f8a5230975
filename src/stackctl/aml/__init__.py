"""The Azure ML side of deploy: the pipeline graph (pure data), the specs built from it, the deployer."""

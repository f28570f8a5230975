"""Keep azure-ai-ml's notices out of stackctl's output while it builds entities.

azure-ai-ml logs "Class X: This is an experimental class, and may change at any time" once per
experimental class it constructs (PipelineComponentBatchDeployment, JobSchedule parts, ...), through
the `azure.ai.ml._utils._experimental` logger; the classes are the documented way to deploy pipeline
components (https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-pipeline-deployments),
so the notice tells a stackctl user nothing they can act on.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

EXPERIMENTAL_LOGGER = "azure.ai.ml._utils._experimental"


@contextmanager
def quiet_azure_ai_ml() -> Iterator[None]:
    logger = logging.getLogger(EXPERIMENTAL_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # marshmallow 3 deprecation notices raised inside azure-ai-ml's own schemas
            warnings.filterwarnings("ignore", module="marshmallow")
            warnings.filterwarnings("ignore", message=".*marshmallow.*")
            yield
    finally:
        logger.setLevel(level)

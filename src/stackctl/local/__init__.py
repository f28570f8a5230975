"""The embedded local stack (ENV=local): the same pipelines as Azure, with local stand-ins under .local/."""

"""Terraform runs of the cloud environments (dev, prod) and the guards around them."""

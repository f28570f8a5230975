# removed names a resource the configuration still declares.
resource "terraform_data" "legacy" {}

removed {
  from = terraform_data.legacy

  lifecycle {
    destroy = false
  }
}

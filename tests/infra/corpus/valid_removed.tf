# removed (Terraform >= 1.7): forget the object, keep it in the cloud.
removed {
  from = terraform_data.legacy

  lifecycle {
    destroy = false
  }
}

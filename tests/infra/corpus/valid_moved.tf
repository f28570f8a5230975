# moved: within the root, and out of a module that no longer exists (its address is in the state,
# not in the configuration, so it is not a reference).
resource "terraform_data" "config" {
  input = "v2"
}

resource "terraform_data" "store" {}

moved {
  from = terraform_data.settings
  to   = terraform_data.config
}

moved {
  from = module.lake.terraform_data.store
  to   = terraform_data.store
}

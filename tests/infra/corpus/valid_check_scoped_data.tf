# check with a scoped data source (Terraform >= 1.5).
check "shared_state" {
  data "terraform_remote_state" "shared" {
    backend = "local"
    config = {
      path = "${path.module}/shared.tfstate"
    }
  }

  assert {
    condition     = data.terraform_remote_state.shared.outputs != null
    error_message = "The shared state has no outputs."
  }
}

# A data source scoped to a check block cannot be referenced outside it.
check "shared_state" {
  data "terraform_remote_state" "shared" {
    backend = "local"
  }

  assert {
    condition     = data.terraform_remote_state.shared.outputs != null
    error_message = "The shared state has no outputs."
  }
}

output "shared" {
  value = data.terraform_remote_state.shared.outputs
}

# `terraform test` of the stack's provider-free input validations: run against infra/variables.tf
# alone with an env's terraform.tfvars (tests/infra/test_stack_validations.py builds that stand-in for
# envs/dev and envs/prod), so it needs no provider and runs offline. Each run changes the env's values
# in one place and expects the validation that refuses it; the others show what still passes.

run "the_env_values_pass" {
  command = plan
}

# --- aml.train_compute names one of the two job clusters, in the case the publisher reads ---

run "train_compute_cpu_and_gpu_pass" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "gpu", train_instance_count = 1, gpu_max_nodes = 1 })
  }
}

run "train_compute_in_capitals_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "GPU" })
  }
  expect_failures = [var.aml]
}

run "train_compute_naming_a_device_not_a_cluster_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "cuda" })
  }
  expect_failures = [var.aml]
}

run "train_compute_naming_the_build_cluster_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "build" })
  }
  expect_failures = [var.aml]
}

# --- counts are whole numbers >= 1 ---

run "zero_processes_per_instance_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_processes_per_instance = 0 })
  }
  expect_failures = [var.aml]
}

run "a_fractional_instance_count_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_instance_count = 1.5 })
  }
  expect_failures = [var.aml]
}

run "a_negative_instance_count_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_instance_count = -1 })
  }
  expect_failures = [var.aml]
}

run "zero_score_processes_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { score_processes_per_instance = 0 })
  }
  expect_failures = [var.aml]
}

run "fractional_score_processes_are_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { score_processes_per_instance = 2.5 })
  }
  expect_failures = [var.aml]
}

# --- a job never asks its cluster for more nodes than the cluster's maximum ---

run "more_cpu_nodes_than_the_cpu_cluster_has_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "cpu", cpu_max_nodes = 2, gpu_max_nodes = 8, train_instance_count = 3 })
  }
  expect_failures = [var.aml]
}

run "more_gpu_nodes_than_the_gpu_cluster_has_is_refused" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "gpu", cpu_max_nodes = 8, gpu_max_nodes = 2, train_instance_count = 3 })
  }
  expect_failures = [var.aml]
}

run "the_chosen_cluster_counts_not_the_other_one" {
  command = plan
  variables {
    aml = merge(var.aml, { train_compute = "cpu", cpu_max_nodes = 4, gpu_max_nodes = 1, train_instance_count = 4 })
  }
}

run "the_default_is_one_gpu_node_with_one_process" {
  command = plan
  variables {
    aml = {
      managed_network_isolation_mode = var.aml.managed_network_isolation_mode
      node_public_ip_enabled         = var.aml.node_public_ip_enabled
      gpu_vm_size                    = var.aml.gpu_vm_size
      gpu_max_nodes                  = var.aml.gpu_max_nodes
      cpu_vm_size                    = var.aml.cpu_vm_size
      cpu_max_nodes                  = var.aml.cpu_max_nodes
      vm_priority                    = var.aml.vm_priority
    }
  }
  assert {
    condition     = var.aml.train_compute == "gpu" && var.aml.train_instance_count == 1 && var.aml.train_processes_per_instance == 1 && var.aml.score_processes_per_instance == 1
    error_message = "without train_* and score_* the stack runs as before issue 20: train as one process on one node of the GPU cluster, score as one process"
  }
}

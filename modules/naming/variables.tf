variable "environment" {
  type        = string
  nullable    = false
  description = "Which stack the names are for: dev or prod."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "location_short" {
  type        = string
  nullable    = false
  description = "Short region code used in names, e.g. weu."
}

variable "name_suffix" {
  type        = string
  nullable    = false
  description = "Short suffix that makes globally unique names (storage, Key Vault, registry, SQL, Data Factory, endpoints) unique."
}

variable "workload" {
  type        = string
  nullable    = false
  description = "Workload code at the start of every name, e.g. fcst."
}

# optional() exists only inside a type constraint.
locals {
  size = optional(number, 2)
}

# Two moved blocks that move objects into each other's place form a cycle.
resource "terraform_data" "a" {}

resource "terraform_data" "b" {}

moved {
  from = terraform_data.a
  to   = terraform_data.b
}

moved {
  from = terraform_data.b
  to   = terraform_data.a
}

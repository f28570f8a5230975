# import's id is an expression: a reference to an undeclared variable is an error.
resource "terraform_data" "adopted" {}

import {
  to = terraform_data.adopted
  id = var.adopted_id
}

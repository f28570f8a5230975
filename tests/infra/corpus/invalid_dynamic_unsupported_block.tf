# dynamic with an iterator, for a block the resource type does not have.
resource "terraform_data" "rules" {
  dynamic "rule" {
    for_each = ["a", "b"]
    iterator = item
    content {
      name = item.value
    }
  }
}

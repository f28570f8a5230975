output "title" {
  value = "Demand forecast%{if true} (dev)"
}

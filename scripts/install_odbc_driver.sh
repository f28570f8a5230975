#!/usr/bin/env bash
# The apply job's deploy step writes the reporting schema through pyodbc and "ODBC Driver 18 for SQL
# Server" (demand_forecast/reporting/database.py). GitHub's Ubuntu images carry no Driver 18 (22.04:
# mssql-tools with Driver 17; 24.04: none), nor do Managed DevOps Pools' default images, so the
# release's apply jobs install it here, from Microsoft's package repository, as Microsoft documents.
# https://learn.microsoft.com/sql/connect/odbc/linux-mac/installing-the-microsoft-odbc-driver-for-sql-server
# Idempotent: an agent that already has the driver changes nothing.
set -euo pipefail
driver="ODBC Driver 18 for SQL Server"
if command -v odbcinst >/dev/null && odbcinst -q -d -n "$driver" >/dev/null 2>&1; then
  echo "$driver is installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "error: $driver is missing and this agent has no apt-get; use an Ubuntu or Debian image" >&2
  exit 2
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! apt-cache policy msodbcsql18 2>/dev/null | grep -q "Candidate: [0-9]"; then
  # Microsoft's repository configuration for this release (a signed .deb with the key and source).
  . /etc/os-release
  config=$(mktemp --suffix=.deb)
  curl -fsSL "https://packages.microsoft.com/config/${ID}/${VERSION_ID}/packages-microsoft-prod.deb" -o "$config"
  $sudo dpkg -i "$config"
  rm -f "$config"
fi
# Always: runner images ship the Microsoft repository with package lists from the day they were
# built, and a superseded package then 404s ("Always run sudo apt-get update before installing a
# package", https://docs.github.com/actions/using-github-hosted-runners/customizing-github-hosted-runners).
$sudo apt-get update -q
$sudo env ACCEPT_EULA=Y DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends msodbcsql18 unixodbc
odbcinst -q -d -n "$driver" >/dev/null
echo "$driver installed"

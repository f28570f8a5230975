"""`stackctl doctor --env dev|prod`: every prerequisite of a first deploy, checked in order.

The order is the README's checklist ("Azure: first deploy"): the logged-in identity and its rights,
resource providers, quotas for the chosen SKUs, the bootstrap's state storage, the federated
credentials against the repository's real OIDC subject, the CI environment's protection, the
runner or pool, the state backend. Each check passes, fails with the next step to take, or says what
it could not check (no Azure login, no GitHub token, no network): offline, doctor checks what the
checkout alone can tell and names the rest.

    checks.py    the checks, in order, each a function of a DoctorContext
    settings.py  what the checks compare against: the bootstrap's tfvars, its names (evaluated by
                 Terraform from envs/bootstrap/naming.tf), the stack's tfvars
    clients.py   the real clients: azure-mgmt-resource's ResourceManagementClient (providers and
                 raw ARM GETs through its pipeline), GitHub's and Azure DevOps' REST APIs (requests)
    report.py    the result of one check, and the printed report
"""

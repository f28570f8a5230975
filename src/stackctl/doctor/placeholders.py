"""The stack's committed example values, caught before a first apply (review-23 M1).

envs/<env>/terraform.tfvars is committed with example values so that plans and tests run offline:
object ids made of one repeated digit (`55555555-5555-4555-8555-555555555555`), the all-zero
subscription, documentation address ranges and example.com mailboxes. Applied as they are, the role
assignments fail with PrincipalNotFound, the firewall admits a range nobody owns and the alerts mail
nobody. This check walks every value of the file and fails on each example value, naming the file,
the variable and the command that prints the right value.

What counts as an example value, and where the rule comes from:

* a GUID whose 30 free hex digits (all but the version and variant digits) are one repeated
  digit, the nil GUID among them: a real object id is random (RFC 9562 section 5.4, version 4);
* an IPv4 address or range inside the documentation ranges TEST-NET-1/2/3 (RFC 5737:
  192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) or IPv6 2001:db8::/32 (RFC 3849);
* a mail address at a domain reserved for examples (RFC 2606: example.com, example.net,
  example.org, and any name under `.example`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from stackctl.doctor.context import DoctorContext
from stackctl.doctor.report import CheckResult, failed, passed

CHECK = "stack-values"
GUID_RE = re.compile(
    r"\b([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})\b"
)
EMAIL_RE = re.compile(r"^[^@\s]+@([A-Za-z0-9.-]+)$")
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


def placeholder_reason(value: str) -> str | None:
    """Why `value` is an example value (see the module's rules), or None when it is not one."""
    for match in GUID_RE.finditer(value):
        digits = "".join(match.groups()).lower()
        free = digits[:12] + digits[13:16] + digits[17:]  # without the version and variant digits
        if len(set(free)) == 1:
            return f"{match.group(0)} is an example id (one repeated digit), not a real object id"
    email = EMAIL_RE.match(value)
    if email:
        domain = email.group(1).lower().rstrip(".")
        if (
            domain in EXAMPLE_DOMAINS
            or domain.endswith(tuple(f".{d}" for d in EXAMPLE_DOMAINS))
            or (domain.endswith(".example"))
        ):
            return f"{value} is at a domain reserved for examples (RFC 2606)"
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    for documentation in DOCUMENTATION_NETWORKS:
        # Same family, and the network lies inside the documentation range.
        if network.version == documentation.version and (
            network.network_address in documentation and network.broadcast_address in documentation
        ):
            return f"{value} is in the documentation range {documentation} (RFC 5737/3849), owned by nobody"
    return None


def placeholders(values: object, path: str = "") -> Iterator[tuple[str, str]]:
    """(variable path, reason) of every example value in parsed tfvars `values`, depth first."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield from placeholders(value, f"{path}.{key}" if path else str(key))
    elif isinstance(values, list):
        for index, value in enumerate(values):
            yield from placeholders(value, f"{path}[{index}]")
    elif isinstance(values, str):
        reason = placeholder_reason(values)
        if reason:
            yield path, reason


def how_to_find(variable: str, env: str, stack: dict[str, object]) -> str:
    """The command (or the place) that gives the right value of `variable` for `env`."""
    sql, powerbi = (stack.get(name) for name in ("sql", "powerbi"))
    admins = sql.get("entra_admin_login") if isinstance(sql, dict) else None
    group = powerbi.get("group_display_name") if isinstance(powerbi, dict) else None
    office = "your office's public range (`curl -s https://api.ipify.org` from inside it)"
    bootstrap = "terraform -chdir=envs/bootstrap output -json"
    commands = {
        "deployer_object_id": f"{bootstrap} deploying_identities | jq -r .{env}.principal_id",
        "sql.entra_admin_object_id": f"az ad group show --group {admins or '<sql.entra_admin_login>'} "
        "--query id -o tsv",
        "powerbi.group_object_id": f"az ad group show --group {group or '<powerbi.group_display_name>'} "
        "--query id -o tsv",
        "ci_runner_egress_ip": f"{bootstrap} ci_runners | jq -r .{env}.egress_ip",
        "ci_runner_subnet_id": f"{bootstrap} ci_runners | jq -r .{env}.subnet_id",
        "allowed_ip_ranges": office,
        "powerbi.firewall_rules": office,
        "monitoring.alert_email_receivers": "the team's real mailbox",
    }
    base = re.sub(r"\[\d+\]", "", variable)
    matches = [key for key in commands if base == key or base.startswith(key + ".")]
    return commands[max(matches, key=len)] if matches else "the real value for this stack"


def stack_values(ctx: DoctorContext) -> CheckResult:
    """Offline: envs/<env>/terraform.tfvars holds no committed example value (README step 9)."""
    env = ctx.settings.env
    where = f"envs/{env}/terraform.tfvars"
    if not ctx.settings.stack:
        return failed(
            CHECK, f"{where} is missing or empty", f"restore {where} from the repository and fill it in"
        )
    found = list(placeholders(ctx.settings.stack))
    if not found:
        return passed(CHECK, f"{where}: no example value left")
    lines = [f"{variable}: {reason}" for variable, reason in found]
    fixes = [f"{variable} <- {how_to_find(variable, env, ctx.settings.stack)}" for variable, _ in found]
    return failed(
        CHECK,
        f"{where} still holds {len(found)} example value(s): " + "; ".join(lines),
        f"replace each in {where} (README 'Azure: first deploy', step 9): " + "; ".join(fixes),
    )

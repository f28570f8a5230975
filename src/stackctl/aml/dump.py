"""Write every asset deploy would create as YAML, in the shape azure-ai-ml's own loaders read back.

Layout of the output folder: environment/ (each environment's YAML and its Docker build context,
build-<image>/), components/,
pipelines/, endpoints/, deployments/, schedules/ (each schedule's job next to it, as the CLI's
`create_job: ./<job>.yaml` form: azure-ai-ml cannot load an inline pipeline job inside a schedule).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from stackctl.aml.environment import environment_version, write_build_contexts
from stackctl.aml.quiet import quiet_azure_ai_ml
from stackctl.aml.specs import AmlAssets, build_assets
from stackctl.aml.stack_output import StackOutput

KIND_FOLDERS = {
    "environment": "environment",
    "component": "components",
    "pipeline": "pipelines",
    "endpoint": "endpoints",
    "deployment": "deployments",
    "schedule": "schedules",
}


def plain(entity: Any) -> dict[str, Any]:
    """The entity's spec as plain dicts/lists (azure-ai-ml returns OrderedDicts YAML cannot write)."""
    data: dict[str, Any] = json.loads(json.dumps(entity._to_dict(), default=str))
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=120), encoding="utf-8")
    return path


def dump_assets(assets: AmlAssets, out: Path) -> list[Path]:
    written: list[Path] = []
    for kind, name, entity in assets.all():
        folder = out / KIND_FOLDERS[kind]
        file_name = name.replace("/", "--") + ".yaml"
        data = plain(entity)
        if kind == "environment":
            context = Path(entity.build.path)
            kind = (entity.tags or {}).get("image", "cpu")
            target = folder / f"build-{kind}"
            if context.is_dir() and context.resolve() != target.resolve():
                shutil.copytree(context, target, dirs_exist_ok=True)
            data["build"] = {"path": f"./build-{kind}"}
        if kind == "schedule":
            job_file = f"{name}.job.yaml"
            written.append(_write(folder / job_file, plain(entity.create_job)))
            data["create_job"] = f"./{job_file}"
        written.append(_write(folder / file_name, data))
    return written


def dump_stack(stack_output: StackOutput, root: Path, out: Path, console: Console) -> list[Path]:
    """Build the model wheel and the environments' build contexts under `out`, then write every asset
    deploy would create for `stack_output` as YAML under `out`; the files written."""
    with console.status("building the model wheel and the environment build contexts"):
        contexts = write_build_contexts(root, out / "environment" / "contexts")
        version = environment_version(root)
    with quiet_azure_ai_ml():
        return dump_assets(build_assets(stack_output, version, contexts), out)

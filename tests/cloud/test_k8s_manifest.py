"""docs/k8s-fleet-job.yaml works: rendered, every shard of the Indexed Job run locally against
Azurite (one process per completion index, as Kubernetes would start pods), every disk fixed."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from fixtures.azurite import REPO
from tests.cloud.cloud_helpers import leaked, tree_text
from fixtures import images
from tests.helpers.common import run_process
from tests.ops.ops_helpers import assert_recipe, store_bytes

MANIFEST = REPO / "docs" / "k8s-fleet-job.yaml"


def no_runner() -> dict[str, None]:
    """Unset every job runner's variable this process inherited (the test sets its own)."""
    return {k: None for k in os.environ
            if k.startswith(("JOB_COMPLETION", "SLURM_", "AZ_BATCH", "BCDTOOL_SHARD"))}


def _render():
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    job = next(d for d in docs if d["kind"] == "Job")
    return config, job


def test_manifest_is_a_valid_indexed_job():
    config, job = _render()
    spec = job["spec"]
    assert job["apiVersion"] == "batch/v1" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["BCDTOOL_SHARD_COUNT"]["value"] == str(spec["completions"])
    lines = [json.loads(line) for line in config["data"]["manifest.jsonl"].splitlines() if line]
    for line in lines:     # every SAS comes from the Secret, none is in the manifest
        assert "?" not in line["target"]
        assert env[line["sas_env"]]["valueFrom"]["secretKeyRef"]["key"] == line["sas_env"]
    mount = container["volumeMounts"][0]["mountPath"]
    assert container["args"][1] == f"{mount}/manifest.jsonl"


def test_every_shard_runs_locally_against_azurite(azurite, windows_raw, tmp_path):
    config, job = _render()
    raw, disk = windows_raw
    vhd = images.convert(raw, "vhd-fixed", tmp_path)
    manifest_text = config["data"]["manifest.jsonl"]
    lines = [json.loads(line) for line in manifest_text.splitlines() if line]
    prefix = "https://ACCOUNT.blob.core.windows.net"
    secrets = {}
    for line in lines:              # the fleet: one page blob per manifest line
        container, blob = line["target"][len(prefix) + 1:].split("/", 1)
        azurite.upload_page_blob(container, blob, vhd)
        secrets[line["sas_env"]] = azurite.sas_url(container, blob).split("?", 1)[1]
    pod = job["spec"]["template"]["spec"]["containers"][0]
    mount = pod["volumeMounts"][0]["mountPath"]
    local_manifest = tmp_path / "manifest.jsonl"
    local_manifest.write_text(manifest_text.replace(prefix, azurite.endpoint))
    outputs = []
    for index in range(job["spec"]["completions"]):
        env = dict(os.environ, JOB_COMPLETION_INDEX=str(index), **secrets)
        for item in pod["env"]:
            if "value" in item:
                env[item["name"]] = item["value"].replace("/var/lib/bcdtool", str(tmp_path / "var"))
        args = [a.replace(f"{mount}/manifest.jsonl", str(local_manifest))
                .replace("/var/lib/bcdtool", str(tmp_path / "var")) for a in pod["args"]]
        assert pod["command"] == ["bcdtool"]
        proc = run_process(*args, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        assert f"shard {index}/3 from Kubernetes Indexed Job" in proc.stderr
        results = [json.loads(x) for x in proc.stdout.splitlines()]
        assert results[-1]["summary"]["ok"] == 1 and results[-1]["summary"]["targets"] == 1
        outputs.append((proc, results[0]))
    assert sorted(r["line"] for _, r in outputs) == [1, 2, 3]
    for proc, _ in outputs:
        for secret in secrets.values():
            assert not leaked(secret.split("sig=")[1], proc.stdout, proc.stderr)
    state = tree_text(tmp_path / "var")
    assert state and not any(leaked(s.split("sig=")[1], state) for s in secrets.values())
    for line in lines:              # read back independently: mtools + python-registry
        container, blob = line["target"][len(prefix) + 1:].split("/", 1)
        image = tmp_path / f"{blob}.img"
        image.write_bytes(azurite.download(container, blob)[:-512])
        data = store_bytes(image, disk, tmp_path)
        baud = 9600 if blob == "db-01.vhd" else 115200
        assert_recipe(data, baud=baud, timeout=10 if blob == "web-02.vhd" else 5)


@pytest.mark.parametrize("environ, expected", [
    ({"JOB_COMPLETION_INDEX": "2", "BCDTOOL_SHARD_COUNT": "4"}, (2, 4, "Kubernetes")),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "5"}, (3, 5, "Slurm")),
    ({"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_MAX": "13"},
     (2, 4, "Slurm")),
    ({"AZ_BATCH_TASK_ID": "task-7", "BCDTOOL_SHARD_COUNT": "8"}, (7, 8, "Azure Batch")),
])
def test_shard_auto_reads_each_job_runner(environ, expected, tmp_path):
    manifest = tmp_path / "m.txt"
    manifest.write_text("".join(f"{tmp_path}/missing-{i}.img\n" for i in range(16)))
    proc = run_process("batch", manifest, "--shard", "auto", "--json", "--jobs", "1",
                       env={**no_runner(), **environ}, state=tmp_path / "state")
    index, count, runner = expected
    assert f"shard {index}/{count} from {runner}" in proc.stderr
    lines = [json.loads(x)["line"] for x in proc.stdout.splitlines()[:-1]]
    assert lines == list(range(index + 1, 17, count))


def test_shard_auto_without_a_count_or_a_runner_says_what_to_do(tmp_path):
    manifest = tmp_path / "m.txt"
    manifest.write_text("x.img\n")
    none = run_process("batch", manifest, "--shard", "auto", env=no_runner())
    assert none.returncode == 24 and "--shard K/N" in none.stderr
    k8s = run_process("batch", manifest, "--shard", "auto",
                      env={**no_runner(), "JOB_COMPLETION_INDEX": "0"})
    assert k8s.returncode == 24 and "BCDTOOL_SHARD_COUNT" in k8s.stderr

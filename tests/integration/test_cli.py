"""The `kubemu` command line run as a user runs it, against a real apiserver; output checked as kubectl's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, ApiServer, run_cli, unique

pytestmark = pytest.mark.integration

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: webserver
  labels:
    app: web
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    ports:
    - containerPort: 80
"""


@pytest.fixture
def ns(apiserver: ApiServer) -> str:
    name = unique("cli")
    r = run_cli("create", "-f", "-", server=apiserver.address,
                stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"namespace/{name} created\n"
    return name


def cli(apiserver: ApiServer, ns: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("-n", ns, *args, server=apiserver.address, stdin=stdin)


def test_the_issue_walkthrough(apiserver: ApiServer, ns: str, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD_YAML)
    r = cli(apiserver, ns, "apply", "-f", str(manifest))
    assert (r.returncode, r.stdout) == (0, "pod/webserver created\n"), r.stderr
    r = cli(apiserver, ns, "apply", "-f", str(manifest))
    assert r.stdout == "pod/webserver unchanged\n"

    r = cli(apiserver, ns, "get", "pods", "-o", "wide")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                              "READINESS", "GATES"]
    assert row.split()[:4] == ["webserver", "0/1", "Pending", "0"]

    r = cli(apiserver, ns, "get", "pod", "webserver", "-o", "yaml")
    doc = yaml.safe_load(r.stdout)
    assert doc["kind"] == "Pod" and doc["metadata"]["name"] == "webserver"
    assert doc["spec"]["terminationGracePeriodSeconds"] == 30  # a number, as kubectl prints it
    assert isinstance(doc["metadata"]["resourceVersion"], str)

    assert cli(apiserver, ns, "label", "pod", "webserver", "env=prod").stdout == "pod/webserver labeled\n"
    r = cli(apiserver, ns, "label", "pod", "webserver", "env=debug")
    assert r.returncode == 1
    assert r.stderr.strip() == "error: 'env' already has a value (prod), and --overwrite is false"
    r = cli(apiserver, ns, "label", "pod", "webserver", "env=debug", "--overwrite")
    assert r.stdout == "pod/webserver labeled\n"
    r = cli(apiserver, ns, "get", "pods", "-l", "env in (prod,debug),app!=db", "--show-labels")
    assert r.stdout.splitlines()[0].split()[-1] == "LABELS"
    assert r.stdout.splitlines()[1].split()[-1] == "app=web,env=debug"
    assert cli(apiserver, ns, "label", "pod", "webserver", "env-").stdout == "pod/webserver unlabeled\n"
    r = cli(apiserver, ns, "get", "pods", "-l", "env in (prod,debug)")
    assert r.stdout == "" and r.stderr.strip() == f"No resources found in {ns} namespace."

    r = cli(apiserver, ns, "delete", "pod", "webserver")
    assert (r.returncode, r.stdout) == (0, 'pod "webserver" deleted\n'), r.stderr
    r = cli(apiserver, ns, "get", "pod", "webserver")
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (NotFound): pods "webserver" not found'


def test_get_watch_prints_each_change(apiserver: ApiServer, ns: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubemu.cli.main", "--server", apiserver.address, "-n", ns, "get", "pods", "-w"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 20
        assert cli(apiserver, ns, "run", "w1", "--image", "nginx").returncode == 0
        lines: list[str] = []
        assert proc.stdout is not None
        while len(lines) < 2 and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]
        assert lines[1].split()[:3] == ["w1", "0/1", "Pending"]
        assert cli(apiserver, ns, "label", "pod", "w1", "a=b").returncode == 0
        assert proc.stdout.readline().split()[0] == "w1"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)


def test_run_and_outputs(apiserver: ApiServer, ns: str) -> None:
    r = cli(apiserver, ns, "run", "box", "--image=busybox", "--restart=Never", "--env", "A=1",
            "--labels", "app=box", "--command", "--", "sh", "-c", "echo hi")
    assert r.stdout == "pod/box created\n", r.stderr
    doc = json.loads(cli(apiserver, ns, "get", "pod", "box", "-o", "json").stdout)
    c = doc["spec"]["containers"][0]
    assert c["command"] == ["sh", "-c", "echo hi"] and c["env"] == [{"name": "A", "value": "1"}]
    assert c["imagePullPolicy"] == "Always"  # no tag means latest
    assert doc["spec"]["restartPolicy"] == "Never" and doc["metadata"]["labels"] == {"app": "box"}
    assert cli(apiserver, ns, "get", "po", "-o", "name").stdout == "pod/box\n"
    r = cli(apiserver, ns, "get", "pods", "-L", "app", "--no-headers")
    assert r.stdout.split()[-1] == "box"
    r = cli(apiserver, ns, "describe", "pod", "box")
    assert r.returncode == 0
    assert "Name:" in r.stdout and "box" in r.stdout and "busybox" in r.stdout


def test_multi_document_apply_and_kinds(apiserver: ApiServer, ns: str, tmp_path: Path) -> None:
    docs = tmp_path / "app.yaml"
    docs.write_text("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1.14"}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: crane}
spec:
  replicas: 1
  template:
    metadata: {labels: {app: crane}}
    spec: {containers: [{name: crane, image: "crane:1"}]}
""")
    r = cli(apiserver, ns, "apply", "-f", str(docs))
    assert r.stdout == "deployment.apps/web created\nreplicationcontroller/crane created\n", r.stderr
    docs.write_text(docs.read_text().replace("replicas: 3", "replicas: 5"))
    r = cli(apiserver, ns, "apply", "-f", str(docs))
    assert r.stdout == "deployment.apps/web configured\nreplicationcontroller/crane unchanged\n", r.stderr
    r = cli(apiserver, ns, "get", "deploy,rc")
    assert "deployment.apps/web" in r.stdout and "replicationcontroller/crane" in r.stdout
    r = cli(apiserver, ns, "get", "deployment", "web", "-o", "json")
    assert json.loads(r.stdout)["spec"]["replicas"] == 5
    r = cli(apiserver, ns, "delete", "-f", str(docs))
    assert r.stdout == 'deployment.apps "web" deleted\nreplicationcontroller "crane" deleted\n'


def test_bad_manifests_name_file_line_and_field_and_write_nothing(
    apiserver: ApiServer, ns: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(POD_YAML.replace("webserver", "first") + "---\n" + POD_YAML.replace("    image: nginx:1.27\n",
                                                                                         "    imagee: nginx\n"))
    r = cli(apiserver, ns, "apply", "-f", str(bad))
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f'error: error validating "{bad}:23": Pod in version "v1" cannot be handled as a Pod: '
        'strict decoding error: unknown field "spec.containers[0].imagee"'
    )
    # Server-side validation of the second document also stops the first from being written.
    bad.write_text(POD_YAML.replace("webserver", "first") + "---\n" + POD_YAML.replace("80", "70000"))
    r = cli(apiserver, ns, "apply", "-f", str(bad))
    assert r.returncode == 1
    assert f'error when creating "{bad}:25"' in r.stderr
    assert "spec.containers[0].ports[0].containerPort: Invalid value: 70000" in r.stderr
    r = cli(apiserver, ns, "get", "pods")
    assert r.stdout == ""  # nothing half-written

    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n spec: {}\n")
    r = cli(apiserver, ns, "apply", "-f", str(bad))
    assert r.returncode == 1 and r.stderr.startswith(f'error: error parsing "{bad}:')


def test_unknown_type_and_missing_server(apiserver: ApiServer, ns: str, tmp_path: Path) -> None:
    r = cli(apiserver, ns, "get", "gadgets")
    assert (r.returncode, r.stderr.strip()) == (1, 'error: the server doesn\'t have a resource type "gadgets"')
    r = subprocess.run([sys.executable, "-m", "kubemu.cli.main", "--server", "127.0.0.1:1", "--request-timeout",
                        "0.5", "get", "pods"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
    )


def test_annotate_and_delete_by_selector(apiserver: ApiServer, ns: str) -> None:
    for name in ("a", "b", "c"):
        assert cli(apiserver, ns, "run", name, "--image=nginx", f"--labels=tier={'x' if name != 'c' else 'y'}"
                   ).returncode == 0
    r = cli(apiserver, ns, "annotate", "pods", "a", "note=hello")
    assert r.stdout == "pod/a annotated\n"
    doc = json.loads(cli(apiserver, ns, "get", "pod", "a", "-o", "json").stdout)
    assert doc["metadata"]["annotations"]["note"] == "hello"
    r = cli(apiserver, ns, "delete", "pods", "-l", "tier=x")
    assert r.stdout == 'pod "a" deleted\npod "b" deleted\n'
    assert cli(apiserver, ns, "get", "pods", "-o", "name").stdout == "pod/c\n"

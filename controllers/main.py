"""`kubemu-controllers`: every controller in one process, like kube-controller-manager, sharing informers;
several replicas elect one leader on a Lease in kube-system."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import uuid
from typing import Any

import structlog

from controllers.clusterroleaggregation import ClusterRoleAggregationController
from controllers.daemonset import DaemonSetController
from controllers.deployment import DeploymentController
from controllers.endpoints import EndpointsController
from controllers.endpointslice import EndpointSliceController
from controllers.garbagecollector import GarbageCollector, collectable_kinds
from controllers.job import JobController, TTLAfterFinishedController
from controllers.localpath import LocalPathProvisioner
from controllers.namespace import NamespaceController
from controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
from controllers.persistentvolume import PersistentVolumeController
from controllers.podgc import PodGCController
from controllers.replicaset import ReplicaSetController
from controllers.resourcequota import ResourceQuotaController
from controllers.rootcacertpublisher import RootCACertPublisher
from controllers.serviceaccount import ServiceAccountsController
from controllers.storageprotection import PVCProtectionController, PVProtectionController
from kubemu import config as cfg
from kubemu import kubeconfig, logs
from kubemu.client.client import Client, connect
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer, by_node
from kubemu.client.leaderelection import LeaderElectionConfig, LeaderElector
from kubemu.kubeconfig import KubeconfigError

READY = True
"""The launcher starts the controllers."""

log = structlog.get_logger()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-controllers",
        description="kubemu-controllers: Deployment, ReplicaSet, DaemonSet, Job, ReplicationController, node "
                    "lifecycle, taint-based eviction, garbage collection, pod GC, namespace deletion, resource "
                    "quota, ClusterRole aggregation, persistent volume binding and protection and a simulated "
                    "local-path provisioner, ServiceAccounts and the root CA publisher, EndpointSlice and "
                    "Endpoints, leader-elected like "
                    "kube-controller-manager.",
    )
    p.add_argument("--apiserver", default=None,
                   help="apiserver gRPC address(es), comma-separated (default: the kubeconfig's, else 127.0.0.1:6443)")
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="kubeconfig with the apiserver's gRPC address (kubemu extension) and the token to send")
    p.add_argument("--config", help="cluster config YAML (timings)")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="elect one active controller manager among replicas (default true)")
    p.add_argument("--root-ca-file", metavar="FILE",
                   help="the cluster CA (PEM) published as the kube-root-ca.crt ConfigMap in every namespace "
                        "(default: the kubeconfig's certificate-authority-data; neither: nothing is published)")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json unless on a terminal")
    return p.parse_args(argv)


def root_ca(args: argparse.Namespace) -> str | None:
    """kube-controller-manager's root CA: --root-ca-file, else the CA of the kubeconfig it talks to the apiserver
    with; None without either."""
    if args.root_ca_file:
        try:
            with open(args.root_ca_file) as f:
                return f.read()
        except OSError as e:
            raise cfg.ConfigError(f"error reading root-ca-file at {args.root_ca_file}: {e.strerror or e}") from None
    if args.kubeconfig:
        ca = kubeconfig.resolve(args.kubeconfig).ca_data
        return ca.decode() if ca else None
    return None


class ControllerManager:
    def __init__(self, client: Client, config: cfg.ClusterConfig, root_ca: str | None = None) -> None:
        self.client = client
        self.config = config
        self.recorder = EventRecorder(client, "controller-manager")
        self.pods: Informer[Any] = Informer(client.pods, indexers={"node": by_node})
        self.nodes: Informer[Any] = Informer(client.nodes)
        self.leases: Informer[Any] = Informer(client.leases, namespace="kube-node-lease")
        self.rs: Informer[Any] = Informer(client.replica_sets)
        self.rc: Informer[Any] = Informer(client.replication_controllers)
        extra: dict[str, Informer[Any]] = {
            "Deployment": Informer(client.deployments), "DaemonSet": Informer(client.daemon_sets),
            "Job": Informer(client.jobs), "ClusterRole": Informer(client.resource("ClusterRole")),
            "PersistentVolumeClaim": Informer(client.resource("PersistentVolumeClaim")),
            "PersistentVolume": Informer(client.resource("PersistentVolume")),
            "StorageClass": Informer(client.resource("StorageClass")),
        }
        self.informers: dict[str, Informer[Any]] = {
            "Pod": self.pods, "Node": self.nodes, "ReplicaSet": self.rs, "ReplicationController": self.rc, **extra,
        }
        self.namespaces: Informer[Any] = Informer(client.namespaces)
        self.service_accounts: Informer[Any] = Informer(client.service_accounts)
        self.informers.update({"Namespace": self.namespaces, "ServiceAccount": self.service_accounts})
        for kind in ("Service", "Endpoints", "EndpointSlice"):
            self.informers.setdefault(kind, Informer(client.resource(kind)))
        for info in collectable_kinds():  # the collector watches every kind that can have owners
            if info.kind not in self.informers:
                self.informers[info.kind] = Informer(client.resource(info.kind))
        if "ResourceQuota" not in self.informers:
            self.informers["ResourceQuota"] = Informer(client.resource("ResourceQuota"))
        if "Namespace" not in self.informers:
            self.informers["Namespace"] = Informer(client.namespaces)
        self.controllers: list[Any] = [
            DeploymentController(client, extra["Deployment"], self.rs, self.recorder),
            ReplicaSetController(client, "ReplicaSet", self.rs, self.pods, self.recorder),
            ReplicaSetController(client, "ReplicationController", self.rc, self.pods, self.recorder),
            NodeLifecycleController(client, config, self.nodes, self.leases, self.pods, self.recorder),
            TaintEvictionController(client, self.nodes, self.pods, self.recorder),
            DaemonSetController(client, extra["DaemonSet"], self.pods, self.nodes, self.recorder),
            JobController(client, extra["Job"], self.pods, self.recorder, time_scale=config.time_scale),
            TTLAfterFinishedController(client, extra["Job"]),
            GarbageCollector(client, self.informers),
            PodGCController(client, config, self.pods, self.nodes),
            ServiceAccountsController(client, self.namespaces, self.service_accounts),
            ClusterRoleAggregationController(client, extra["ClusterRole"]),
            ResourceQuotaController(client, config, self.informers),
            NamespaceController(client, config, self.informers["Namespace"]),
            PersistentVolumeController(client, extra["PersistentVolumeClaim"], extra["PersistentVolume"],
                                       extra["StorageClass"], self.nodes),
            LocalPathProvisioner(client, extra["PersistentVolumeClaim"], extra["PersistentVolume"],
                                 extra["StorageClass"]),
            PVCProtectionController(client, extra["PersistentVolumeClaim"], self.pods),
            PVProtectionController(client, extra["PersistentVolume"]),
            EndpointSliceController(client, self.informers["Service"], self.pods, self.informers["EndpointSlice"]),
            EndpointsController(client, self.informers["Service"], self.pods, self.informers["Endpoints"]),
        ]
        if root_ca:
            # The collector's ConfigMap informer (every kind with owners has one) serves the publisher too.
            configmaps = self.informers.setdefault("ConfigMap", Informer(client.resource("ConfigMap")))
            self.controllers.append(RootCACertPublisher(client, root_ca, self.namespaces, configmaps))
        else:
            log.warning("root_ca.none", message="no --root-ca-file and no CA in the kubeconfig: the kube-root-ca.crt "
                                                "ConfigMaps are not published")

    async def run(self) -> None:
        all_informers = [*self.informers.values(), self.leases]
        for inf in all_informers:
            inf.start()
        await asyncio.gather(*(inf.wait_synced() for inf in all_informers))
        log.info("controllers.synced", controllers=[type(c).__name__ for c in self.controllers])
        try:
            await asyncio.gather(*(c.run() for c in self.controllers))
        finally:
            for inf in all_informers:
                await inf.stop()


async def run(args: argparse.Namespace) -> None:
    config = cfg.load(args.config, args.profile)
    client = connect(args.apiserver, args.kubeconfig, retry_for=2.0)
    manager = ControllerManager(client, config, root_ca(args))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.leader_elect:
        identity = f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        elector = LeaderElector(client, LeaderElectionConfig(
            lease_name="kube-controller-manager", identity=identity,
            lease_duration=config.scaled(15.0), renew_deadline=config.scaled(10.0),
            retry_period=config.scaled(2.0),
        ))
        work = asyncio.create_task(elector.run(manager.run))
    else:
        work = asyncio.create_task(manager.run())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for t in (work, stopper):
        t.cancel()
    await asyncio.gather(work, stopper, return_exceptions=True)
    await client.close()
    if work in done and not stop.is_set():
        log.warning("controllers.leadership_lost")
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure("controllers", json=None if args.log_format is None else args.log_format == "json")
    try:
        asyncio.run(run(args))
    except (cfg.ConfigError, KubeconfigError) as e:
        sys.exit(f"kubemu-controllers: {e}")


if __name__ == "__main__":
    main()

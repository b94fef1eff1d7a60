"""The typed gRPC client SDK shared by every kubemu process and by users."""

from kubemu.client import errors
from kubemu.client.client import Binding, Client, ObjectList, ResourceClient, WatchEvent, retry_on_conflict
from kubemu.client.informer import Informer
from kubemu.client.leaderelection import LeaderElectionConfig, LeaderElector

__all__ = [
    "Binding",
    "Client",
    "Informer",
    "LeaderElectionConfig",
    "LeaderElector",
    "ObjectList",
    "ResourceClient",
    "WatchEvent",
    "errors",
    "retry_on_conflict",
]

"""The Kubernetes HTTP API (kube-apiserver's REST face) on a second listener of the apiserver process, over the same
registry, strategies and watch hub as the gRPC face."""

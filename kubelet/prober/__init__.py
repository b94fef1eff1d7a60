"""The kubelet's prober: probe workers that run a container's startup, liveness and readiness probes and publish
what they find to a results manager, which the pod worker consumes. It never imports the pod worker.

A package rather than one module because upstream's `pkg/kubelet/prober` has the same three parts, and they
change for different reasons: `results` (results_manager.go) is the only thing the pod worker and the probe
workers share, `prober` (prober.go) runs one probe and words its failure, `worker` (worker.go) owns the timing,
the thresholds and the startup gate. The layers contract in .importlinter keeps the pod worker above it.
"""

"""A small POSIX-sh-like shell that runs a simulated container's command and args as asyncio code.
`syntax` parses, `interp` runs the tree, `builtins` are the busybox-like commands, `run` the entry points."""

from kubelet.runtime.shell.builtins import format_date
from kubelet.runtime.shell.interp import ShellContext, UnknownCommand, succeed
from kubelet.runtime.shell.run import run_command, run_script

__all__ = ["ShellContext", "UnknownCommand", "format_date", "run_command", "run_script", "succeed"]

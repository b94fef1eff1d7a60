"""The shell's entry points: a container's command and args, an exec probe's command, a script run in a context.
They start a shell (`interp`) with the builtin commands (`builtins`), and deliver its output to the context."""

from __future__ import annotations

from kubelet.runtime.shell.builtins import BUILTINS
from kubelet.runtime.shell.interp import IO, Break, Continue, Exit, Log, Shell, ShellContext


async def run_command(argv: list[str], ctx: ShellContext, stdin: bytes = b"") -> int:
    """Run a container's command+args (or an exec probe's command, or an exec with its stdin) and return its exit
    code.

    `sh`/`bash` with `-c` interpret the script, a builtin (`/bin/sleep` counts as `sleep`) runs directly,
    anything else goes to ctx.unknown_command. A background job (`cmd &`) is cancelled when this returns.
    """
    if not argv:
        return 0
    log = Log(ctx.stdout)
    sh = Shell(ctx, log, [argv[0]], BUILTINS)
    try:
        try:
            return await sh.run_argv(list(argv), IO(log, log, stdin))
        except Exit as e:
            return e.code
        except (Break, Continue):
            return 0
    finally:
        await sh.finish_jobs()
        log.flush()


async def run_script(script: str, ctx: ShellContext) -> int:
    """Run a script as `sh -c` would, but in ctx itself: `cd` and `export` are left in ctx.cwd and ctx.env.

    A syntax error prints `sh: syntax error: ...` and returns 2 before anything runs (the whole script is
    parsed first).
    """
    log = Log(ctx.stdout)
    try:
        return await Shell(ctx, log, ["sh"], BUILTINS).main(script, IO(log, log))
    finally:
        log.flush()

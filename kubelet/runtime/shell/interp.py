"""The shell's interpreter: one shell process's state, expansion, redirections, control flow and running a command.
It walks the trees that `syntax` parses; the commands it can run by name come from a table it is given (`builtins`)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from kubelet.runtime.fs import ContainerFS, FsError, normpath
from kubelet.runtime.net import Network
from kubelet.runtime.shell.syntax import (
    AndOr,
    CmdSub,
    For,
    Group,
    If,
    Lit,
    Loop,
    Node,
    Param,
    ParseError,
    Part,
    Pipeline,
    Redirect,
    Seq,
    Simple,
    Word,
    parse,
)

UnknownCommand = Callable[[list[str], "ShellContext"], Awaitable[int]]
"""Runs a program that is not a builtin (an image's own binary): gets argv and the context, returns the exit code."""
Builtin = Callable[["Shell", list[str], "IO"], Awaitable[int]]
"""A command the shell runs itself (echo, sleep, cd, ...): gets the shell, argv and its streams, returns the status."""


async def succeed(argv: list[str], ctx: ShellContext) -> int:
    """The default for programs that are not builtins: images' own binaries (perl, nginx, ...) just succeed."""
    return 0


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def _discard(line: str) -> None:
    pass


@dataclass
class ShellContext:
    """What a running shell sees of its container. The shell updates `env` and `cwd` as the script runs.

    `stdout` receives every complete line written to stdout or stderr, without its newline (a trailing
    partial line is delivered when the command ends). `sleep` is injectable so tests drive a fake clock.
    `unknown_command` None makes non-builtins fail with `sh: NAME: not found` (127). Killing the container
    is cancelling the task that runs the shell: CancelledError propagates out of sleeps and loops.
    """

    fs: ContainerFS
    env: dict[str, str] = field(default_factory=dict)
    stdout: Callable[[str], None] = _discard
    sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep
    now: Callable[[], float] = time.time
    hostname: str = "localhost"
    cwd: str = "/"
    unknown_command: UnknownCommand | None = succeed
    pid: int = 1
    network: Network | None = None
    """The cluster network as the pod sees it (wget, curl, nslookup); None: no network at all."""


# ---------------------------------------------------------------------------------------------------- output


class Out(Protocol):
    def write(self, text: str) -> None: ...


class Log:
    """The container log: cuts what is written into lines for ctx.stdout, keeping a partial last line."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buf = ""

    def write(self, text: str) -> None:
        *lines, self.buf = (self.buf + text).split("\n")
        for line in lines:
            self.emit(line)

    def flush(self) -> None:
        if self.buf:
            line, self.buf = self.buf, ""
            self.emit(line)


class _Buffer:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, text: str) -> None:
        self.chunks.append(text)

    def value(self) -> str:
        return "".join(self.chunks)


class _Null:
    def write(self, text: str) -> None:
        pass


class _FileOut:
    """A file opened by `>`/`>>`: every write appends at once, so a reader sees output as it is produced."""

    def __init__(self, fs: ContainerFS, path: str) -> None:
        self.fs = fs
        self.path = path

    def write(self, text: str) -> None:
        try:
            self.fs.write(self.path, text.encode(), append=True)
        except FsError:
            # The file's directory went away under an open descriptor; a real write would still succeed.
            pass


@dataclass
class IO:
    """A command's streams. stdin is whole, not a stream: the stages of a pipeline run one after the other.

    `cursor` is how much of stdin has been read: one open file description shared by the commands that inherit
    it, so `read x; cat` gives cat what read left (a pipeline stage or a `<` file starts a new one)."""

    out: Out
    err: Out
    stdin: bytes = b""
    cursor: list[int] = field(default_factory=lambda: [0])

    def unread(self) -> bytes:
        return self.stdin[self.cursor[0]:]

    def consume(self, n: int) -> bytes:
        data = self.stdin[self.cursor[0]:self.cursor[0] + n]
        self.cursor[0] += len(data)
        return data


class Exit(Exception):
    """Ends the shell with `code`: `exit`, `exec`, `set -e`, `${x?}` and arithmetic errors raise it."""

    def __init__(self, code: int) -> None:
        self.code = code


class Break(Exception):
    """`break N`: unwinds to the Nth enclosing loop, which stops."""

    def __init__(self, n: int) -> None:
        self.n = n


class Continue(Exception):
    """`continue N`: unwinds to the Nth enclosing loop, which goes on with its next iteration."""

    def __init__(self, n: int) -> None:
        self.n = n


class _RedirectFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------------- interpreter

_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_IFS = re.compile(r"[ \t\n]+")


class Shell:
    """One shell process: its variables, positional parameters, last status and background jobs."""

    def __init__(
        self, ctx: ShellContext, log: Log, params: list[str], builtins: Mapping[str, Builtin],
        shell_vars: dict[str, str] | None = None, opts: set[str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.log = log
        self.params = params
        self.builtins = builtins  # a subshell or `sh -c` runs the same builtins as its parent
        self.vars: dict[str, str] = dict(shell_vars or {})  # unexported; exported ones live in ctx.env
        self.opts: set[str] = set(opts or ())
        self.status = 0
        self.jobs: list[asyncio.Task[int]] = []
        self.cond_depth = 0  # > 0 while running a condition, where `set -e` does not apply
        self.loop_depth = 0

    def fork(self) -> Shell:
        """A subshell: a copy of the variables and working directory; files and output are shared."""
        child = Shell(
            replace(self.ctx, env=dict(self.ctx.env)), self.log, list(self.params), self.builtins, self.vars, self.opts
        )
        child.status = self.status
        return child

    # ------------------------------------------------------------------ variables

    def get(self, name: str) -> str | None:
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.ctx.pid)
        if name == "#":
            return str(len(self.params) - 1)
        if name in ("@", "*"):
            return " ".join(self.params[1:])
        if name == "!":
            return str(self.ctx.pid + len(self.jobs)) if self.jobs else ""
        if name == "-":
            return "".join(sorted(self.opts))
        if name.isdigit():
            i = int(name)
            return self.params[i] if i < len(self.params) else None
        if name in self.vars:
            return self.vars[name]
        if name == "PWD" and name not in self.ctx.env:
            return self.ctx.cwd
        return self.ctx.env.get(name)

    def set(self, name: str, value: str) -> None:
        if name in self.ctx.env:
            self.ctx.env[name] = value
        else:
            self.vars[name] = value

    def err(self, io: IO, message: str) -> None:
        io.err.write(message + "\n")

    # ------------------------------------------------------------------ expansion

    async def expand_part(self, part: Part, io: IO) -> str:
        if isinstance(part, Lit):
            return part.text
        if isinstance(part, Param):
            return await self.expand_param(part, io)
        if isinstance(part, CmdSub):
            child = self.fork()
            buf = _Buffer()
            self.status = await child.run_tree(part.body, IO(buf, io.err))
            return buf.value().rstrip("\n")
        text = await self.expand_str(part.expr, io)
        return str(_arith(text, self, io))

    async def expand_param(self, part: Param, io: IO) -> str:
        value = self.get(part.name)
        op = part.op
        if op == "#":
            return str(len(value or ""))
        if not op:
            return value or ""
        missing = value is None or (op.startswith(":") and value == "")
        base = op[-1]
        if base == "+":
            return "" if missing or part.arg is None else await self.expand_str(part.arg, io)
        if not missing:
            return value or ""
        arg = await self.expand_str(part.arg, io) if part.arg is not None else ""
        if base == "=":
            self.set(part.name, arg)
        elif base == "?":
            self.err(io, f"sh: {part.name}: {arg or 'parameter not set'}")
            raise Exit(1)
        return arg

    async def expand_str(self, word: Word, io: IO) -> str:
        """A word expanded without field splitting (assignments, redirection targets, `${x:-word}`)."""
        return "".join([await self.expand_part(p, io) for p in self._tilde(word.parts)])

    def _tilde(self, parts: list[Part]) -> list[Part]:
        first = parts[0] if parts else None
        if isinstance(first, Lit) and not first.quoted and (first.text == "~" or first.text.startswith("~/")):
            home = self.get("HOME") or "/root"
            return [Lit(home + first.text[1:], True), *parts[1:]]
        return parts

    async def fields(self, word: Word, io: IO) -> list[str]:
        """A word expanded into fields: unquoted expansions are split on whitespace (no globbing)."""
        out: list[str] = []
        cur: list[str] = []
        have = False
        for part in self._tilde(word.parts):
            if isinstance(part, Param) and part.name == "@" and part.quoted and not part.op:
                # "$@" keeps each positional parameter a field of its own.
                for i, p in enumerate(self.params[1:]):
                    if i > 0:
                        out.append("".join(cur))
                        cur = []
                    cur.append(p)
                    have = True
                continue
            value = await self.expand_part(part, io)
            if isinstance(part, Lit) or part.quoted:
                cur.append(value)
                have = have or part.quoted or bool(value)
                continue
            for i, piece in enumerate(_IFS.split(value)):
                if i > 0 and have:
                    out.append("".join(cur))
                    cur, have = [], False
                if piece:
                    cur.append(piece)
                    have = True
        if have:
            out.append("".join(cur))
        return out

    async def expand_words(self, words: list[Word], io: IO) -> list[str]:
        argv: list[str] = []
        for w in words:
            argv.extend(await self.fields(w, io))
        return argv

    # ------------------------------------------------------------------ running

    async def main(self, script: str, io: IO) -> int:
        """Parse and run a whole script, like `sh -c SCRIPT`; a syntax error prints and returns 2."""
        try:
            tree = parse(script)
        except ParseError as e:
            self.err(io, f"sh: syntax error: {e}")
            return 2
        return await self.run_tree(tree, io)

    async def run_tree(self, tree: Node, io: IO) -> int:
        try:
            return await self.exec(tree, io)
        except Exit as e:
            return e.code
        except (Break, Continue):
            return 0
        finally:
            await self.finish_jobs()

    async def finish_jobs(self) -> None:
        """When a shell ends its background jobs die with it, as when a container's PID 1 exits."""
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job.cancel()
        if jobs:
            await asyncio.gather(*jobs, return_exceptions=True)

    async def exec(self, node: Node, io: IO) -> int:
        if isinstance(node, Simple):
            status = await self.exec_simple(node, io)
        elif isinstance(node, Seq):
            status = 0
            for item, background in node.items:
                if background:
                    child = self.fork()
                    self.jobs.append(asyncio.create_task(child.run_tree(item, io)))
                    status = 0
                else:
                    status = await self.exec(item, io)
                self.status = status
        elif isinstance(node, AndOr):
            status = await self.conditional(node.first, io)
            for i, (op, rhs) in enumerate(node.rest):
                if (status == 0) != (op == "&&"):
                    continue
                last = i == len(node.rest) - 1
                status = await (self.exec(rhs, io) if last else self.conditional(rhs, io))
        elif isinstance(node, Pipeline):
            status = await self.exec_pipeline(node, io)
        elif isinstance(node, If):
            status = 0
            for cond, body in node.branches:
                if await self.conditional(cond, io) == 0:
                    status = await self.exec(body, io)
                    break
            else:
                if node.orelse is not None:
                    status = await self.exec(node.orelse, io)
        elif isinstance(node, Loop):
            status = await self.exec_loop(node, io)
        elif isinstance(node, For):
            status = await self.exec_for(node, io)
        elif isinstance(node, Group):
            if node.subshell:
                status = await self.fork().run_tree(node.body, io)
                self.check_errexit(status)
            else:
                status = await self.exec(node.body, io)
        else:
            try:
                sub_io = await self.redirect(node.redirs, io)
            except _RedirectFailed:
                status = 1
            else:
                status = await self.exec(node.node, sub_io)
        self.status = status
        return status

    async def conditional(self, node: Node, io: IO) -> int:
        self.cond_depth += 1
        try:
            return await self.exec(node, io)
        finally:
            self.cond_depth -= 1

    def check_errexit(self, status: int) -> None:
        if status != 0 and "e" in self.opts and self.cond_depth == 0:
            raise Exit(status)

    async def exec_pipeline(self, node: Pipeline, io: IO) -> int:
        if len(node.cmds) == 1:
            status = await self.conditional(node.cmds[0], io) if node.negate else await self.exec(node.cmds[0], io)
        else:
            # The stages run one after the other, each in a subshell, the output of one the input of the next.
            stdin = io.stdin
            status = 0
            for i, cmd in enumerate(node.cmds):
                last = i == len(node.cmds) - 1
                buf = _Buffer()
                cursor = io.cursor if i == 0 else [0]
                status = await self.fork().run_tree(cmd, IO(io.out if last else buf, io.err, stdin, cursor))
                stdin = buf.value().encode()
            if not node.negate:
                self.check_errexit(status)
        if node.negate:
            return 0 if status else 1
        return status

    async def exec_loop(self, node: Loop, io: IO) -> int:
        status = 0
        self.loop_depth += 1
        try:
            while True:
                # Yield once per iteration so that cancelling the task (killing the container) lands even in
                # a loop whose body never awaits.
                await asyncio.sleep(0)
                if (await self.conditional(node.cond, io) == 0) == node.until:
                    break
                try:
                    status = await self.exec(node.body, io)
                except Break as b:
                    if b.n > 1:
                        raise Break(b.n - 1) from None
                    status = 0
                    break
                except Continue as c:
                    if c.n > 1:
                        raise Continue(c.n - 1) from None
        finally:
            self.loop_depth -= 1
        return status

    async def exec_for(self, node: For, io: IO) -> int:
        items = self.params[1:] if node.items is None else await self.expand_words(node.items, io)
        status = 0
        self.loop_depth += 1
        try:
            for item in items:
                await asyncio.sleep(0)
                self.set(node.var, item)
                try:
                    status = await self.exec(node.body, io)
                except Break as b:
                    if b.n > 1:
                        raise Break(b.n - 1) from None
                    break
                except Continue as c:
                    if c.n > 1:
                        raise Continue(c.n - 1) from None
        finally:
            self.loop_depth -= 1
        return status

    async def exec_simple(self, node: Simple, io: IO) -> int:
        argv = await self.expand_words(node.words, io)
        values = [(name, await self.expand_str(w, io)) for name, w in node.assigns]
        if not argv:
            for name, value in values:
                self.set(name, value)
            try:
                await self.redirect(node.redirs, io)
            except _RedirectFailed:
                return 1
            # A bare assignment's status is that of its last command substitution, else 0.
            return self.status if any(_has_cmdsub(w) for _, w in node.assigns) else 0
        try:
            cmd_io = await self.redirect(node.redirs, io)
        except _RedirectFailed:
            self.check_errexit(1)
            return 1
        if "x" in self.opts:
            io.err.write("+ " + " ".join([f"{n}={v}" for n, v in values] + argv) + "\n")
        # Assignments before a command are in its environment only for that command.
        saved = {name: self.ctx.env.get(name) for name, _ in values}
        self.ctx.env.update(values)
        try:
            status = await self.run_argv(argv, cmd_io)
        finally:
            for name, old in saved.items():
                if old is None:
                    self.ctx.env.pop(name, None)
                else:
                    self.ctx.env[name] = old
        self.check_errexit(status)
        return status

    async def redirect(self, redirs: list[Redirect], io: IO) -> IO:
        out, err, stdin, cursor = io.out, io.err, io.stdin, io.cursor
        fs, cwd = self.ctx.fs, self.ctx.cwd
        for r in redirs:
            target = await self.expand_str(r.target, io)
            stream: Out
            if r.op in (">&", "<&") and (target.isdigit() or target == "-"):
                if r.op == "<&":
                    continue
                stream = _Null() if target == "-" else (out if target == "1" else err if target == "2" else _Null())
            elif r.op == "<":
                try:
                    stdin, cursor = fs.read(target, cwd=cwd), [0]
                except FsError as e:
                    self.err(io, f"sh: can't open '{target}': {e.message}")
                    raise _RedirectFailed from None
                continue
            elif target in ("/dev/stdout", "/dev/stderr"):
                stream = out if target == "/dev/stdout" else err
            else:
                path = normpath(target, cwd) if target else ""
                try:
                    fs.write(path or target, b"", append=r.op == ">>", cwd=cwd)
                except FsError as e:
                    reason = "nonexistent directory" if e.kind == "ENOENT" else e.message
                    self.err(io, f"sh: can't create {target}: {reason}")
                    raise _RedirectFailed from None
                stream = _Null() if path == "/dev/null" else _FileOut(fs, path)
            if r.op in ("&>", ">&") and not target.isdigit() and target != "-":
                out = err = stream
            elif r.fd == 1:
                out = stream
            elif r.fd == 2:
                err = stream
        return IO(out, err, stdin, cursor)

    async def run_argv(self, argv: list[str], io: IO) -> int:
        """Run one command: a shell, a builtin (a leading directory is ignored), or the image's program."""
        name = argv[0]
        base = name.rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name
        if base in _SHELLS:
            return await self.run_sh(argv, io)
        builtin = self.builtins.get(base)
        if builtin is not None:
            return await builtin(self, argv, io)
        if self.ctx.unknown_command is None:
            self.err(io, f"sh: {base}: not found")
            return 127
        out = io.out
        ctx = replace(self.ctx, stdout=lambda line: out.write(line + "\n"))
        return await self.ctx.unknown_command(argv, ctx)

    async def run_sh(self, argv: list[str], io: IO) -> int:
        """`sh [-ex] -c SCRIPT [NAME [ARGS...]]`, `sh FILE [ARGS...]`, or `sh` reading its standard input."""
        opts: set[str] = set()
        command_mode = False
        i = 1
        while i < len(argv) and len(argv[i]) > 1 and argv[i][0] in "-+":
            arg = argv[i]
            i += 1
            if arg == "--":
                break
            if arg in ("-o", "+o"):
                i += 1
                continue
            for ch in arg[1:]:
                if ch == "c":
                    command_mode = True
                elif arg[0] == "-":
                    opts.add(ch)
        if command_mode:
            if i >= len(argv):
                self.err(io, "sh: -c requires an argument")
                return 2
            script, params = argv[i], argv[i + 1 :] or [argv[0]]
        elif i < len(argv):
            try:
                script = self.ctx.fs.read(argv[i], cwd=self.ctx.cwd).decode(errors="replace")
            except FsError as e:
                self.err(io, f"sh: can't open '{argv[i]}': {e.message}")
                return 127
            params = argv[i:]
        else:
            script, params = io.consume(len(io.stdin)).decode(errors="replace"), [argv[0]]
        # A new shell process inherits the environment (exported variables) but not shell variables, and its
        # standard input (what a script read from stdin did not take).
        child = Shell(replace(self.ctx, env=dict(self.ctx.env)), self.log, params, self.builtins, opts=opts)
        return await child.main(script, IO(io.out, io.err, io.stdin, io.cursor))


def _has_cmdsub(word: Word) -> bool:
    return any(isinstance(p, CmdSub) for p in word.parts)


# ---------------------------------------------------------------------------------------------------- arithmetic

_ARITH_TOKEN = re.compile(
    r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)|([A-Za-z_]\w*)|(\*\*|<=|>=|==|!=|&&|\|\||<<|>>|[-+*/%()<>!~&|^]))"
)
_BINARY: dict[str, int] = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, "<=": 7, ">": 7, ">=": 7,
    "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10, "**": 11,
}


class _ArithError(Exception):
    pass


def _arith(text: str, shell: Shell, io: IO) -> int:
    """`$((...))`: integer arithmetic as in sh; an error prints and ends the shell with status 2."""
    try:
        return _ArithParser(text, shell).parse()
    except _ArithError as e:
        shell.err(io, f"sh: {e}")
        raise Exit(2) from None


class _ArithParser:
    def __init__(self, text: str, shell: Shell) -> None:
        self.shell = shell
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _ARITH_TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _ArithError("arithmetic syntax error")
            num, name, op = m.groups()
            self.tokens.append(("num", num) if num else ("name", name) if name else ("op", op))
            pos = m.end()
        self.i = 0

    def parse(self) -> int:
        if not self.tokens:
            return 0
        value = self.binary(1)
        if self.i != len(self.tokens):
            raise _ArithError("arithmetic syntax error")
        return value

    def peek_op(self) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "op":
            return self.tokens[self.i][1]
        return None

    def binary(self, min_prec: int) -> int:
        left = self.unary()
        while (op := self.peek_op()) in _BINARY and _BINARY[op or ""] >= min_prec:
            assert op is not None
            self.i += 1
            prec = _BINARY[op]
            right = self.binary(prec if op == "**" else prec + 1)
            left = self.apply(op, left, right)
        return left

    @staticmethod
    def apply(op: str, a: int, b: int) -> int:
        if op in ("/", "%"):
            if b == 0:
                raise _ArithError("divide by zero")
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # C truncates towards zero
            return q if op == "/" else a - q * b
        table: dict[str, Callable[[int, int], int]] = {
            "||": lambda x, y: int(bool(x) or bool(y)), "&&": lambda x, y: int(bool(x) and bool(y)),
            "|": lambda x, y: x | y, "^": lambda x, y: x ^ y, "&": lambda x, y: x & y,
            "==": lambda x, y: int(x == y), "!=": lambda x, y: int(x != y), "<": lambda x, y: int(x < y),
            "<=": lambda x, y: int(x <= y), ">": lambda x, y: int(x > y), ">=": lambda x, y: int(x >= y),
            "<<": lambda x, y: x << y, ">>": lambda x, y: x >> y, "+": lambda x, y: x + y,
            "-": lambda x, y: x - y, "*": lambda x, y: x * y, "**": lambda x, y: x**y,
        }
        return table[op](a, b)

    def unary(self) -> int:
        if self.i >= len(self.tokens):
            raise _ArithError("arithmetic syntax error")
        kind, text = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            return int(text, 0) if text.lower().startswith("0x") else int(text)
        if kind == "name":
            raw = (self.shell.get(text) or "0").strip() or "0"
            try:
                return int(raw, 0) if raw.lower().startswith(("0x", "-0x")) else int(raw)
            except ValueError:
                raise _ArithError(f"{raw}: arithmetic syntax error") from None
        if text == "(":
            value = self.binary(1)
            if self.peek_op() != ")":
                raise _ArithError("arithmetic syntax error")
            self.i += 1
            return value
        if text in ("-", "+", "!", "~"):
            v = self.unary()
            return {"-": -v, "+": v, "!": int(not v), "~": ~v}[text]
        raise _ArithError("arithmetic syntax error")

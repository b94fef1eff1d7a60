"""The commands the shell runs itself, busybox-like: echo, printf, sleep, cat, touch, test, cd, export, ...
Each is registered by name in BUILTINS, the table the interpreter looks a command up in before the image's own."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable

from kubelet.runtime.fs import FsError, normpath
from kubelet.runtime.shell.interp import IO, Break, Builtin, Continue, Exit, Shell
from kubelet.runtime.shell.syntax import NAME, ParseError, parse

BUILTINS: dict[str, Builtin] = {}


def _builtin(*names: str) -> Callable[[Builtin], Builtin]:
    def register(fn: Builtin) -> Builtin:
        for name in names:
            BUILTINS[name] = fn
        return fn

    return register


_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _unescape(text: str, octal_needs_zero: bool) -> tuple[str, bool]:
    """Backslash escapes of echo -e (`\\0NNN`) and printf (`\\NNN`); also whether `\\c` asked to stop output."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        n = text[i + 1]
        if n in _ESCAPES:
            out.append(_ESCAPES[n])
            i += 2
        elif n == "c":
            return "".join(out), True
        elif n == "x" and (m := re.compile(r"[0-9a-fA-F]{1,2}").match(text, i + 2)):
            out.append(chr(int(m.group(), 16)))
            i = m.end()
        elif n in "01234567" and (n == "0" or not octal_needs_zero):
            start = i + 2 if octal_needs_zero else i + 1
            m2 = re.compile(r"[0-7]{0,3}").match(text, start)
            assert m2 is not None
            out.append(chr(int(m2.group() or "0", 8) & 0xFF))
            i = m2.end()
        else:
            out.append(c)
            i += 1
    return "".join(out), False


@_builtin("echo")
async def _echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for flag in args.pop(0)[1:]:
            if flag == "n":
                newline = False
            else:
                escapes = flag == "e"
    text = " ".join(args)
    stop = False
    if escapes:
        text, stop = _unescape(text, octal_needs_zero=True)
    io.out.write(text + ("\n" if newline and not stop else ""))
    return 0


_PRINTF_NUMERIC_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3})")
_PRINTF_SPEC = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d*|\*))?([diouxXeEfgGcsb%])")


@_builtin("printf")
async def _printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        sh.err(io, "printf: usage: printf FORMAT [ARGUMENT]...")
        return 2
    fmt, args = argv[1], argv[2:]
    status = 0

    def number(arg: str, floating: bool) -> float | int:
        nonlocal status
        if arg[:1] in ("'", '"'):
            return ord(arg[1]) if len(arg) > 1 else 0
        try:
            return float(arg) if floating else int(arg, 0) if arg.lower().startswith(("0x", "-0x")) else int(arg)
        except ValueError:
            sh.err(io, f"printf: invalid number '{arg}'")
            status = 1
            return 0

    out: list[str] = []
    while True:
        consumed = 0
        pos = 0
        while pos < len(fmt):
            m = _PRINTF_SPEC.match(fmt, pos) if fmt[pos] == "%" else None
            if fmt[pos] == "\\":
                esc = _PRINTF_NUMERIC_ESCAPE.match(fmt, pos)
                end = esc.end() if esc else pos + 2
                text, stop = _unescape(fmt[pos:end], octal_needs_zero=False)
                out.append(text)
                if stop:
                    io.out.write("".join(out))
                    return status
                pos = end
                continue
            if m is None:
                out.append(fmt[pos])
                pos += 1
                continue
            pos = m.end()
            flags, width, prec, conv = m.groups()
            if conv == "%":
                out.append("%")
                continue
            if width == "*":
                width = str(int(number(args.pop(0), False))) if args else "0"
                consumed += 1
            if prec == "*":
                prec = str(int(number(args.pop(0), False))) if args else "0"
                consumed += 1
            arg = args.pop(0) if args else None
            consumed += arg is not None
            spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
            if conv in "sb":
                value = arg or ""
                if conv == "b":
                    value, stop = _unescape(value, octal_needs_zero=True)
                out.append((spec + "s") % value)
            elif conv == "c":
                out.append((spec + "s") % (arg or "")[:1])
            elif conv in "eEfgG":
                out.append((spec + conv) % number(arg or "0", True))
            else:
                out.append((spec + ("d" if conv in "iu" else conv)) % int(number(arg or "0", False)))
        # POSIX: the format is reused while arguments remain (only if it consumed any).
        if not args or not consumed:
            break
    io.out.write("".join(out))
    return status


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@_builtin("sleep")
async def _sleep(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        sh.err(io, "sleep: missing operand")
        return 1
    total = 0.0
    for arg in argv[1:]:
        if arg in ("inf", "infinity"):
            total = math.inf
            continue
        m = _DURATION.fullmatch(arg)
        if m is None:
            sh.err(io, f"sleep: invalid number '{arg}'")
            return 1
        total += float(m.group(1)) * _UNIT[m.group(2)]
    if math.isinf(total):
        # Forever: nothing but cancellation (the kubelet killing the container) ends this.
        await asyncio.get_running_loop().create_future()
    if total > 0:
        await sh.ctx.sleep(total)
    else:
        await asyncio.sleep(0)  # `sleep 0` still lets other tasks run, but needs no clock
    return 0


@_builtin("exit")
async def _exit(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise Exit(sh.status)
    try:
        code = int(argv[1])
    except ValueError:
        sh.err(io, f"sh: exit: Illegal number: {argv[1]}")
        raise Exit(2) from None
    raise Exit(code & 0xFF)


@_builtin("true", ":")
async def _true(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@_builtin("false")
async def _false(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@_builtin("trap")
async def _trap(sh: Shell, argv: list[str], io: IO) -> int:
    # Signals are not simulated: a killed container's shell is cancelled, so handlers would never run.
    return 0


def _operands(argv: list[str], with_value: str = "") -> tuple[set[str], list[str]]:
    """Single-letter flags (`-rf`) and the operands after them; flags in `with_value` take the next word."""
    flags: set[str] = set()
    args = argv[1:]
    while args and args[0].startswith("-") and len(args[0]) > 1:
        arg = args.pop(0)
        if arg == "--":
            break
        for ch in arg[1:]:
            flags.add(ch)
            if ch in with_value and args:
                args.pop(0)
    return flags, args


@_builtin("touch")
async def _touch(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = _operands(argv, "dtr")
    if not paths:
        sh.err(io, "touch: missing operand")
        return 1
    status = 0
    for p in paths:
        try:
            sh.ctx.fs.touch(p, cwd=sh.ctx.cwd)
        except FsError as e:
            sh.err(io, f"touch: {p}: {e.message}")
            status = 1
    return status


@_builtin("rm")
async def _rm(sh: Shell, argv: list[str], io: IO) -> int:
    flags, paths = _operands(argv)
    force, recursive = "f" in flags, bool(flags & {"r", "R"})
    if not paths:
        if force:
            return 0
        sh.err(io, "rm: missing operand")
        return 1
    status = 0
    for p in paths:
        try:
            sh.ctx.fs.remove(p, recursive=recursive, force=force, cwd=sh.ctx.cwd)
        except FsError as e:
            if e.kind == "EISDIR" and not recursive:
                sh.err(io, f"rm: '{p}' is a directory")
            else:
                sh.err(io, f"rm: can't remove '{p}': {e.message}")
            status = 1
    return status


@_builtin("cat")
async def _cat(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = _operands(argv)
    status = 0
    for p in paths or ["-"]:
        if p == "-":
            io.out.write(io.consume(len(io.stdin)).decode(errors="replace"))
            continue
        try:
            io.out.write(sh.ctx.fs.read(p, cwd=sh.ctx.cwd).decode(errors="replace"))
        except FsError as e:
            if e.kind == "EISDIR":
                sh.err(io, "cat: read error: Is a directory")
            else:
                sh.err(io, f"cat: can't open '{p}': {e.message}")
            status = 1
    return status


def _stat_format(fmt: str, values: dict[str, str]) -> str:
    return re.sub(r"%([ansF%])", lambda m: "%" if m[1] == "%" else values[m[1]], fmt)


@_builtin("stat")
async def _stat(sh: Shell, argv: list[str], io: IO) -> int:
    """`stat -c FORMAT FILE...` (busybox's): %a the octal mode, %n the name, %s the size, %F the file type."""
    args = argv[1:]
    fmt = ""
    if len(args) >= 2 and args[0] == "-c":
        fmt, args = args[1], args[2:]
    elif args and args[0].startswith("-c") and len(args[0]) > 2:
        fmt, args = args[0][2:], args[1:]
    if not args or not fmt:
        sh.err(io, "stat: usage: stat -c FORMAT FILE...")
        return 1
    fs, cwd, status = sh.ctx.fs, sh.ctx.cwd, 0
    for p in args:
        if not fs.exists(p, cwd=cwd):
            sh.err(io, f"stat: can't stat '{p}': No such file or directory")
            status = 1
            continue
        is_dir = fs.is_dir(p, cwd=cwd)
        values = {
            "a": format(fs.mode(p, cwd=cwd), "o"),
            "n": p,
            "s": "0" if is_dir else str(len(fs.read(p, cwd=cwd))),
            "F": "directory" if is_dir else "regular file",
        }
        io.out.write(_stat_format(fmt, values) + "\n")
    return status


@_builtin("mkdir")
async def _mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    flags, paths = _operands(argv, "m")
    if not paths:
        sh.err(io, "mkdir: missing operand")
        return 1
    status = 0
    for p in paths:
        try:
            sh.ctx.fs.mkdir(p, parents="p" in flags, cwd=sh.ctx.cwd)
        except FsError as e:
            sh.err(io, f"mkdir: can't create directory '{p}': {e.message}")
            status = 1
    return status


@_builtin("env")
async def _env(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    child = sh.fork()
    if args and args[0] in ("-i", "-"):
        args.pop(0)
        child.ctx.env.clear()
    while args and NAME.match(args[0]) and "=" in args[0] and NAME.fullmatch(args[0].split("=", 1)[0]):
        name, value = args.pop(0).split("=", 1)
        child.ctx.env[name] = value
    if args:
        return await child.run_argv(args, io)
    # `env` prints the environment in the order it was built (ctx.env's insertion order).
    io.out.write("".join(f"{k}={v}\n" for k, v in child.ctx.env.items()))
    return 0


@_builtin("printenv")
async def _printenv(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1:
        io.out.write("".join(f"{k}={v}\n" for k, v in sh.ctx.env.items()))
        return 0
    status = 0
    for name in argv[1:]:
        if name in sh.ctx.env:
            io.out.write(sh.ctx.env[name] + "\n")
        else:
            status = 1
    return status


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(now: float) -> str:
    """busybox `date`'s default output, always in UTC: `Mon Jan  2 15:04:05 UTC 2006`."""
    t = time.gmtime(now)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC {t.tm_year}"
    )


@_builtin("date")
async def _date(sh: Shell, argv: list[str], io: IO) -> int:
    now = sh.ctx.now()
    t = time.gmtime(now)
    text = format_date(now)
    for arg in argv[1:]:
        if arg.startswith("+"):
            text = time.strftime(arg[1:], t)
        elif arg == "-R":
            text = time.strftime("%a, %d %b %Y %H:%M:%S +0000", t)
        elif arg.startswith("-I"):
            text = time.strftime("%Y-%m-%dT%H:%M:%S+00:00" if arg[2:] == "seconds" else "%Y-%m-%d", t)
        elif arg not in ("-u", "--utc"):
            sh.err(io, f"date: invalid date '{arg}'")
            return 1
    io.out.write(text + "\n")
    return 0


@_builtin("hostname")
async def _hostname(sh: Shell, argv: list[str], io: IO) -> int:
    io.out.write(sh.ctx.hostname + "\n")
    return 0


class _TestError(Exception):
    pass


_UNARY_TESTS = frozenset("-e -f -d -s -r -w -x -z -n -L -h -p -S -b -c -t -g -u -k".split())
_BINARY_TESTS = frozenset("= == != < > -eq -ne -lt -le -gt -ge -nt -ot -ef".split())


class _Test:
    """`test` expression evaluation: `!`, `-a`, `-o`, parentheses, unary file/string tests, comparisons."""

    def __init__(self, args: list[str], sh: Shell) -> None:
        self.args = args
        self.i = 0
        self.sh = sh

    def evaluate(self) -> bool:
        if not self.args:
            return False
        result = self.or_()
        if self.i != len(self.args):
            raise _TestError(f"{self.args[self.i]}: unknown operand")
        return result

    def or_(self) -> bool:
        result = self.and_()
        while self.i < len(self.args) and self.args[self.i] == "-o":
            self.i += 1
            result = self.and_() or result
        return result

    def and_(self) -> bool:
        result = self.not_()
        while self.i < len(self.args) and self.args[self.i] == "-a":
            self.i += 1
            result = self.not_() and result
        return result

    def not_(self) -> bool:
        if self.args[self.i :][:1] == ["!"] and self.i + 1 < len(self.args):
            self.i += 1
            return not self.not_()
        return self.primary()

    def primary(self) -> bool:
        args, i = self.args, self.i
        if i >= len(args):
            raise _TestError("argument expected")
        if i + 2 < len(args) + 0 and args[i + 1] in _BINARY_TESTS:
            self.i += 3
            return self.binary(args[i], args[i + 1], args[i + 2])
        if args[i] == "(" and i + 1 < len(args):
            self.i += 1
            result = self.or_()
            if self.i >= len(args) or args[self.i] != ")":
                raise _TestError("missing )")
            self.i += 1
            return result
        if args[i] in _UNARY_TESTS and i + 1 < len(args):
            self.i += 2
            return self.unary(args[i], args[i + 1])
        self.i += 1
        return args[i] != ""

    def unary(self, op: str, arg: str) -> bool:
        fs, cwd = self.sh.ctx.fs, self.sh.ctx.cwd
        if op == "-z":
            return arg == ""
        if op == "-n":
            return arg != ""
        if op in ("-e", "-r", "-w", "-x"):
            return fs.exists(arg, cwd=cwd) if arg else False
        if op == "-f":
            return fs.is_file(arg, cwd=cwd) if arg else False
        if op == "-d":
            return fs.is_dir(arg, cwd=cwd) if arg else False
        if op == "-s":
            return bool(arg) and fs.is_file(arg, cwd=cwd) and len(fs.read(arg, cwd=cwd)) > 0
        return False  # no symlinks, pipes, sockets, devices, terminals or special permission bits

    @staticmethod
    def number(s: str) -> int:
        try:
            return int(s.strip())
        except ValueError:
            raise _TestError(f"{s}: bad number") from None

    def binary(self, a: str, op: str, b: str) -> bool:
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op in ("-nt", "-ot", "-ef"):
            return False
        x, y = self.number(a), self.number(b)
        return {"-eq": x == y, "-ne": x != y, "-lt": x < y, "-le": x <= y, "-gt": x > y, "-ge": x >= y}[op]


@_builtin("test", "[")
async def _test(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0].rsplit("/", 1)[-1] == "[":
        if not args or args[-1] != "]":
            sh.err(io, "sh: [: missing ]")
            return 2
        args = args[:-1]
    try:
        return 0 if _Test(args, sh).evaluate() else 1
    except _TestError as e:
        sh.err(io, f"sh: {e}")
        return 2


@_builtin("cd")
async def _cd(sh: Shell, argv: list[str], io: IO) -> int:
    _, args = _operands(argv)
    target = args[0] if args else sh.get("HOME") or "/"
    if target == "-":
        target = sh.get("OLDPWD") or sh.ctx.cwd
    path = normpath(target, sh.ctx.cwd) if target else sh.ctx.cwd
    if not sh.ctx.fs.is_dir(path):
        reason = "Not a directory" if sh.ctx.fs.exists(path) else "No such file or directory"
        sh.err(io, f"sh: cd: can't cd to {target}: {reason}")
        return 2
    sh.set("OLDPWD", sh.ctx.cwd)
    sh.ctx.cwd = path
    sh.set("PWD", path)
    return 0


@_builtin("pwd")
async def _pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.out.write(sh.ctx.cwd + "\n")
    return 0


@_builtin("ls")
async def _ls(sh: Shell, argv: list[str], io: IO) -> int:
    _, paths = _operands(argv)
    fs, cwd = sh.ctx.fs, sh.ctx.cwd
    status = 0
    files: list[str] = []
    dirs: list[str] = []
    for p in paths or ["."]:
        if fs.is_dir(p, cwd=cwd):
            dirs.append(p)
        elif fs.exists(p, cwd=cwd):
            files.append(p)
        else:
            sh.err(io, f"ls: {p}: No such file or directory")
            status = 1
    blocks: list[str] = ["".join(f + "\n" for f in sorted(files))] if files else []
    for d in dirs:
        names = "".join(n + "\n" for n in fs.listdir(d, cwd=cwd))
        blocks.append(f"{d}:\n{names}" if len(paths) > 1 else names)
    io.out.write("\n".join(blocks))
    return status


@_builtin("export")
async def _export(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if a != "-p"] if len(argv) > 1 else []
    if not args:
        io.out.write("".join(f"export {k}='{v}'\n" for k, v in sh.ctx.env.items()))
        return 0
    status = 0
    for arg in args:
        name, eq, value = arg.partition("=")
        if not NAME.fullmatch(name):
            sh.err(io, f"sh: export: {name}: bad variable name")
            status = 1
            continue
        if eq:
            sh.ctx.env[name] = value
        elif name in sh.vars:
            sh.ctx.env[name] = sh.vars[name]
        sh.vars.pop(name, None)
    return status


@_builtin("unset")
async def _unset(sh: Shell, argv: list[str], io: IO) -> int:
    _, names = _operands(argv)
    for name in names:
        sh.vars.pop(name, None)
        sh.ctx.env.pop(name, None)
    return 0


@_builtin("set")
async def _set(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args:
        merged = {**sh.ctx.env, **sh.vars}
        io.out.write("".join(f"{k}='{v}'\n" for k, v in sorted(merged.items())))
        return 0
    while args and args[0][:1] in ("-", "+") and args[0] != "--":
        arg = args.pop(0)
        if arg in ("-o", "+o"):
            name = args.pop(0) if args else ""
            letter = {"errexit": "e", "xtrace": "x", "nounset": "u"}.get(name)
            if letter:
                (sh.opts.add if arg[0] == "-" else sh.opts.discard)(letter)
            continue
        for ch in arg[1:]:
            (sh.opts.add if arg[0] == "-" else sh.opts.discard)(ch)
    if args and args[0] == "--":
        args.pop(0)
        sh.params[1:] = args
    elif args:
        sh.params[1:] = args
    return 0


@_builtin("shift")
async def _shift(sh: Shell, argv: list[str], io: IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    if n > len(sh.params) - 1:
        return 1
    del sh.params[1 : 1 + n]
    return 0


@_builtin("break", "continue")
async def _break(sh: Shell, argv: list[str], io: IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() and int(argv[1]) > 0 else 1
    if sh.loop_depth == 0:
        return 0  # outside a loop, sh ignores them
    n = min(n, sh.loop_depth)
    raise Break(n) if argv[0] == "break" else Continue(n)


@_builtin("wait")
async def _wait(sh: Shell, argv: list[str], io: IO) -> int:
    jobs = list(sh.jobs)
    if not jobs:
        return 0
    results = await asyncio.gather(*jobs, return_exceptions=True)
    sh.jobs = [j for j in sh.jobs if j not in jobs]
    last = results[-1]
    return last if isinstance(last, int) else 127


@_builtin("eval")
async def _eval(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        tree = parse(" ".join(argv[1:]))
    except ParseError as e:
        sh.err(io, f"sh: syntax error: {e}")
        return 2
    return await sh.exec(tree, io)


@_builtin(".", "source")
async def _source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        return 0
    try:
        script = sh.ctx.fs.read(argv[1], cwd=sh.ctx.cwd).decode(errors="replace")
    except FsError as e:
        sh.err(io, f"sh: {argv[0]}: can't open '{argv[1]}': {e.message}")
        return 2
    try:
        tree = parse(script)
    except ParseError as e:
        sh.err(io, f"sh: syntax error: {e}")
        return 2
    return await sh.exec(tree, io)


@_builtin("exec")
async def _exec(sh: Shell, argv: list[str], io: IO) -> int:
    # The command replaces the shell: when it ends, the shell is over with its status.
    if len(argv) < 2:
        return 0
    raise Exit(await sh.run_argv(argv[1:], io))


@_builtin("seq")
async def _seq(sh: Shell, argv: list[str], io: IO) -> int:
    try:
        nums = [float(a) for a in argv[1:]]
    except ValueError:
        sh.err(io, "seq: invalid number")
        return 1
    if not 1 <= len(nums) <= 3:
        sh.err(io, "seq: missing operand")
        return 1
    first, step, last = (1.0, 1.0, nums[0]) if len(nums) == 1 else (nums[0], 1.0, nums[1]) if len(nums) == 2 else nums
    if step == 0:
        return 1
    integral = all(n.is_integer() for n in nums)
    lines: list[str] = []
    x = first
    while (x <= last) if step > 0 else (x >= last):
        lines.append(str(int(x)) if integral else f"{x:g}")
        x += step
        if len(lines) % 1000 == 0:
            await asyncio.sleep(0)  # stay cancellable on huge ranges
    io.out.write("".join(line + "\n" for line in lines))
    return 0


@_builtin("read")
async def _read(sh: Shell, argv: list[str], io: IO) -> int:
    """`read [-r] [-p PROMPT] [NAME...]`: one line of stdin, split on IFS whitespace into the names (the last takes
    the rest; none: REPLY). Without -r a backslash escapes the next character and joins a continued line. At end
    of input the names are still set from what was read, and the status is 1 (POSIX)."""
    raw, names, i = False, [], 1
    while i < len(argv) and argv[i].startswith("-") and len(argv[i]) > 1:
        opt = argv[i]
        i += 1
        if opt == "--":
            break
        if opt == "-r":
            raw = True
        elif opt == "-p" and i < len(argv):
            io.err.write(argv[i])
            i += 1
        else:
            sh.err(io, f"sh: read: illegal option {opt}")
            return 2
    names = argv[i:] or ["REPLY"]
    for name in names:
        if not NAME.fullmatch(name):
            sh.err(io, f"sh: read: '{name}': not a valid identifier")
            return 1
    text = io.unread().decode(errors="replace")
    chars: list[tuple[str, bool]] = []  # each character, and whether a backslash quoted it
    pos, eol = 0, False
    while pos < len(text):
        ch = text[pos]
        pos += 1
        if ch == "\\" and not raw and pos < len(text):
            nxt = text[pos]
            pos += 1
            if nxt != "\n":  # backslash-newline continues the line
                chars.append((nxt, True))
            continue
        if ch == "\n":
            eol = True
            break
        chars.append((ch, False))
    io.consume(len(text[:pos].encode()))
    ifs = sh.get("IFS")
    seps = " \t\n" if ifs is None else ifs
    fields: list[str] = []
    k = 0
    while k < len(chars) and chars[k][0] in seps and not chars[k][1] and chars[k][0].isspace():
        k += 1
    current: list[str] = []
    while k < len(chars):
        ch, quoted = chars[k]
        if len(fields) < len(names) - 1 and not quoted and ch in seps:
            fields.append("".join(current))
            current = []
            k += 1
            while k < len(chars) and not chars[k][1] and chars[k][0] in seps and chars[k][0].isspace():
                k += 1
            continue
        current.append(ch)
        k += 1
    # The last name keeps the rest of the line, less trailing IFS whitespace.
    while current and current[-1] in seps and current[-1].isspace():
        current.pop()
    fields.append("".join(current))
    for n, name in enumerate(names):
        sh.set(name, fields[n] if n < len(fields) else "")
    return 0 if eol else 1

"""A small POSIX-sh-like interpreter that runs a simulated container's command and args as asyncio code.
It parses quoting, expansions, lists, if/while/until/for and redirections, and implements busybox-like builtins."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from kubelet.runtime.fs import ContainerFS, FsError, normpath

UnknownCommand = Callable[[list[str], "ShellContext"], Awaitable[int]]
"""Runs a program that is not a builtin (an image's own binary): gets argv and the context, returns the exit code."""


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


# ---------------------------------------------------------------------------------------------------- syntax tree


@dataclass
class _Lit:
    text: str
    quoted: bool


@dataclass
class _Param:
    name: str
    quoted: bool
    op: str = ""
    arg: _Word | None = None


@dataclass
class _CmdSub:
    body: _Node
    quoted: bool


@dataclass
class _Arith:
    expr: _Word
    quoted: bool


_Part = _Lit | _Param | _CmdSub | _Arith


@dataclass
class _Word:
    parts: list[_Part]
    raw: str

    @property
    def plain(self) -> bool:
        """True for a word of only unquoted literal text: the only kind that can be a reserved word."""
        return all(isinstance(p, _Lit) and not p.quoted for p in self.parts)


@dataclass
class _Redirect:
    fd: int
    op: str
    target: _Word


@dataclass
class _Simple:
    assigns: list[tuple[str, _Word]]
    words: list[_Word]
    redirs: list[_Redirect]


@dataclass
class _Pipeline:
    cmds: list[_Node]
    negate: bool


@dataclass
class _AndOr:
    first: _Node
    rest: list[tuple[str, _Node]]


@dataclass
class _Seq:
    items: list[tuple[_Node, bool]]  # (command, run in the background)


@dataclass
class _If:
    branches: list[tuple[_Seq, _Seq]]
    orelse: _Seq | None


@dataclass
class _Loop:
    cond: _Seq
    body: _Seq
    until: bool


@dataclass
class _For:
    var: str
    items: list[_Word] | None
    body: _Seq


@dataclass
class _Group:
    body: _Seq
    subshell: bool


@dataclass
class _Redirected:
    node: _Node
    redirs: list[_Redirect]


_Node = _Simple | _Pipeline | _AndOr | _Seq | _If | _Loop | _For | _Group | _Redirected

# ---------------------------------------------------------------------------------------------------- lexer


class _SyntaxError(Exception):
    pass


@dataclass
class _Tok:
    kind: str  # word, op, io (a file descriptor number before a redirection), newline, eof
    text: str
    word: _Word | None = None


_OPS = ("&&", "||", ";;", ">>", ">&", "<&", ">|", "&>", "<<", ";", "&", "|", "(", ")", "<", ">")
_REDIR_OPS = frozenset({">", ">>", ">&", "<&", ">|", "&>", "<", "<<"})
_WORD_END = " \t\n;&|()<>"
_SPECIAL_PARAMS = "?$#@*!-"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Lexer:
    """Produces tokens on demand, so that `$(...)` can hand the rest of the source to a nested parser."""

    def __init__(self, src: str, pos: int = 0) -> None:
        self.src = src
        self.pos = pos

    def next(self) -> _Tok:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c in " \t":
                self.pos += 1
            elif src.startswith("\\\n", self.pos):
                self.pos += 2
            elif c == "#":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            else:
                break
        if self.pos >= len(src):
            return _Tok("eof", "end of file")
        if src[self.pos] == "\n":
            self.pos += 1
            return _Tok("newline", "newline")
        for op in _OPS:
            if src.startswith(op, self.pos):
                self.pos += len(op)
                return _Tok("op", op)
        word = self.word(_WORD_END)
        if word.plain and word.raw.isdigit() and self.pos < len(src) and src[self.pos] in "<>":
            return _Tok("io", word.raw)
        return _Tok("word", word.raw, word)

    def word(self, stops: str) -> _Word:
        src, start = self.src, self.pos
        parts: list[_Part] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(_Lit("".join(buf), False))
                buf.clear()

        while self.pos < len(src):
            c = src[self.pos]
            if c in stops:
                break
            if c == "\\":
                if src.startswith("\\\n", self.pos):
                    self.pos += 2
                elif self.pos + 1 < len(src):
                    flush()
                    parts.append(_Lit(src[self.pos + 1], True))
                    self.pos += 2
                else:
                    buf.append(c)
                    self.pos += 1
            elif c == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise _SyntaxError("unterminated quoted string")
                flush()
                parts.append(_Lit(src[self.pos + 1 : end], True))
                self.pos = end + 1
            elif c == '"':
                flush()
                self.pos += 1
                parts.extend(self.dquoted('"'))
            elif c == "`":
                flush()
                parts.append(self.backtick(False))
            elif c == "$" and (part := self.dollar(False)) is not None:
                flush()
                parts.append(part)
            else:
                buf.append(c)
                self.pos += 1
        flush()
        return _Word(parts, src[start : self.pos])

    def dquoted(self, end: str | None) -> list[_Part]:
        """Double-quoted text up to `end` (consumed), or to the end of the source when `end` is None."""
        src = self.src
        parts: list[_Part] = []
        buf: list[str] = []
        while True:
            if self.pos >= len(src):
                if end is not None:
                    raise _SyntaxError("unterminated quoted string")
                break
            c = src[self.pos]
            if c == end:
                self.pos += 1
                break
            if c == "\\" and self.pos + 1 < len(src) and src[self.pos + 1] in '$`"\\\n':
                if src[self.pos + 1] != "\n":
                    buf.append(src[self.pos + 1])
                self.pos += 2
            elif c == "$" or c == "`":
                part = self.dollar(True) if c == "$" else self.backtick(True)
                if part is None:
                    buf.append(c)
                    self.pos += 1
                    continue
                if buf:
                    parts.append(_Lit("".join(buf), True))
                    buf.clear()
                parts.append(part)
            else:
                buf.append(c)
                self.pos += 1
        if buf or not parts:
            # An empty "" still makes a (empty) field, so keep a quoted empty literal.
            parts.append(_Lit("".join(buf), True))
        return parts

    def backtick(self, quoted: bool) -> _CmdSub:
        src = self.src
        i = self.pos + 1
        inner: list[str] = []
        while True:
            if i >= len(src):
                raise _SyntaxError("unterminated quoted string")
            c = src[i]
            if c == "`":
                break
            if c == "\\" and i + 1 < len(src) and src[i + 1] in "$`\\":
                inner.append(src[i + 1])
                i += 2
                continue
            inner.append(c)
            i += 1
        self.pos = i + 1
        return _CmdSub(_parse("".join(inner)), quoted)

    def dollar(self, quoted: bool) -> _Part | None:
        """The expansion at `$`, or None when the `$` is a literal dollar sign."""
        src, i = self.src, self.pos + 1
        c = src[i] if i < len(src) else ""
        if c == "{":
            return self._braced(quoted)
        if src.startswith("((", i):
            depth, j = 0, i + 2
            while j < len(src):
                if src[j] == "(":
                    depth += 1
                elif src[j] == ")":
                    if depth == 0:
                        if src.startswith("))", j):
                            break
                        raise _SyntaxError("unterminated arithmetic expression")
                    depth -= 1
                j += 1
            else:
                raise _SyntaxError("unterminated arithmetic expression")
            text = src[i + 2 : j]
            self.pos = j + 2
            return _Arith(_Word(_Lexer(text).dquoted(None), text), quoted)
        if c == "(":
            sub = _Parser(_Lexer(src, i + 1))
            body = sub.parse_list()
            sub.expect_op(")")
            self.pos = sub.lexer.pos
            return _CmdSub(body, quoted)
        if c and (c.isalpha() or c == "_"):
            m = _NAME.match(src, i)
            assert m is not None
            self.pos = m.end()
            return _Param(m.group(), quoted)
        if c and (c.isdigit() or c in _SPECIAL_PARAMS):
            self.pos = i + 1
            return _Param(c, quoted)
        return None

    def _braced(self, quoted: bool) -> _Param:
        src = self.src
        i = self.pos + 2
        length = src.startswith("#", i) and not src.startswith("#}", i)
        if length:
            i += 1
        m = _NAME.match(src, i) or re.compile(r"[0-9]+|[?$#@*!-]").match(src, i)
        if m is None:
            raise _SyntaxError("bad substitution")
        name, i = m.group(), m.end()
        if src.startswith("}", i):
            self.pos = i + 1
            return _Param(name, quoted, "#" if length else "")
        op_m = re.compile(r":?[-=+?]").match(src, i)
        if length or op_m is None:
            raise _SyntaxError("bad substitution")
        i = op_m.end()
        depth, j = 0, i
        while j < len(src):
            ch = src[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "'" and not quoted:
                j = src.find("'", j + 1)
                if j < 0:
                    break
            elif ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        if j >= len(src) or j < 0:
            raise _SyntaxError("bad substitution")
        text = src[i:j]
        self.pos = j + 1
        sub = _Lexer(text)
        arg = _Word(sub.dquoted(None), text) if quoted else sub.word("")
        return _Param(name, quoted, op_m.group(), arg)


# ---------------------------------------------------------------------------------------------------- parser

_STOPS = frozenset({"then", "elif", "else", "fi", "do", "done", "}"})


class _Parser:
    def __init__(self, lexer: _Lexer) -> None:
        self.lexer = lexer
        self.tok: _Tok | None = None

    def peek(self) -> _Tok:
        if self.tok is None:
            self.tok = self.lexer.next()
        return self.tok

    def take(self) -> _Tok:
        tok = self.peek()
        self.tok = None
        return tok

    @staticmethod
    def is_word(tok: _Tok, *names: str) -> bool:
        return tok.kind == "word" and tok.word is not None and tok.word.plain and tok.text in names

    @staticmethod
    def is_op(tok: _Tok, *ops: str) -> bool:
        return tok.kind == "op" and tok.text in ops

    @staticmethod
    def error(tok: _Tok, expecting: str = "") -> _SyntaxError:
        if tok.kind == "eof":
            return _SyntaxError("unexpected end of file" + (f' (expecting "{expecting}")' if expecting else ""))
        if tok.kind == "newline":
            return _SyntaxError("unexpected newline")
        return _SyntaxError(f'unexpected "{tok.text}"')

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline":
            self.take()

    def expect_word(self, name: str) -> None:
        tok = self.take()
        if not self.is_word(tok, name):
            raise self.error(tok, name)

    def expect_op(self, op: str) -> None:
        tok = self.take()
        if not self.is_op(tok, op):
            raise self.error(tok, op)

    def parse_program(self) -> _Seq:
        seq = self.parse_list()
        if self.peek().kind != "eof":
            raise self.error(self.peek())
        return seq

    def parse_list(self) -> _Seq:
        items: list[tuple[_Node, bool]] = []
        while True:
            self.skip_newlines()
            tok = self.peek()
            if tok.kind == "eof" or self.is_op(tok, ")", ";;") or self.is_word(tok, *_STOPS):
                break
            node = self.parse_and_or()
            tok = self.peek()
            sep = self.is_op(tok, ";", "&")
            if sep:
                self.take()
            items.append((node, sep and tok.text == "&"))
            if not sep and tok.kind != "newline":
                break
        return _Seq(items)

    def parse_body(self, expecting: str) -> _Seq:
        seq = self.parse_list()
        if not seq.items:
            # POSIX requires at least one command in then/do/{ } bodies; sh reports the token it found.
            raise self.error(self.peek(), expecting)
        return seq

    def parse_and_or(self) -> _Node:
        first = self.parse_pipeline()
        rest: list[tuple[str, _Node]] = []
        while self.is_op(self.peek(), "&&", "||"):
            op = self.take().text
            self.skip_newlines()
            rest.append((op, self.parse_pipeline()))
        return _AndOr(first, rest) if rest else first

    def parse_pipeline(self) -> _Node:
        negate = False
        if self.is_word(self.peek(), "!"):
            self.take()
            negate = True
        cmds = [self.parse_command()]
        while self.is_op(self.peek(), "|"):
            self.take()
            self.skip_newlines()
            cmds.append(self.parse_command())
        return _Pipeline(cmds, negate) if negate or len(cmds) > 1 else cmds[0]

    def parse_command(self) -> _Node:
        tok = self.peek()
        node: _Node
        if self.is_word(tok, "if"):
            node = self.parse_if()
        elif self.is_word(tok, "while", "until"):
            self.take()
            cond = self.parse_body("do")
            self.expect_word("do")
            body = self.parse_body("done")
            self.expect_word("done")
            node = _Loop(cond, body, tok.text == "until")
        elif self.is_word(tok, "for"):
            node = self.parse_for()
        elif self.is_word(tok, "{"):
            self.take()
            node = _Group(self.parse_body("}"), False)
            self.expect_word("}")
        elif self.is_op(tok, "("):
            self.take()
            node = _Group(self.parse_body(")"), True)
            self.expect_op(")")
        elif tok.kind in ("word", "io") or (tok.kind == "op" and tok.text in _REDIR_OPS):
            return self.parse_simple()
        else:
            raise self.error(tok)
        redirs = self.parse_redirects()
        return _Redirected(node, redirs) if redirs else node

    def parse_if(self) -> _If:
        self.take()
        branches: list[tuple[_Seq, _Seq]] = []
        orelse: _Seq | None = None
        while True:
            cond = self.parse_body("then")
            self.expect_word("then")
            branches.append((cond, self.parse_body("fi")))
            if self.is_word(self.peek(), "elif"):
                self.take()
                continue
            if self.is_word(self.peek(), "else"):
                self.take()
                orelse = self.parse_body("fi")
            self.expect_word("fi")
            return _If(branches, orelse)

    def parse_for(self) -> _For:
        self.take()
        tok = self.take()
        if tok.kind != "word" or not _NAME.fullmatch(tok.text):
            raise _SyntaxError(f"bad for loop variable: {tok.text}")
        items: list[_Word] | None = None
        self.skip_newlines()
        if self.is_word(self.peek(), "in"):
            self.take()
            items = []
            while self.peek().kind == "word":
                word = self.take().word
                assert word is not None
                items.append(word)
            if not (self.is_op(self.peek(), ";") or self.peek().kind == "newline"):
                raise self.error(self.peek(), "do")
        if self.is_op(self.peek(), ";"):
            self.take()
        self.skip_newlines()
        self.expect_word("do")
        body = self.parse_body("done")
        self.expect_word("done")
        return _For(tok.text, items, body)

    def parse_redirects(self) -> list[_Redirect]:
        redirs: list[_Redirect] = []
        while self.peek().kind == "io" or (self.peek().kind == "op" and self.peek().text in _REDIR_OPS):
            redirs.append(self.parse_redirect())
        return redirs

    def parse_redirect(self) -> _Redirect:
        fd = -1
        if self.peek().kind == "io":
            fd = int(self.take().text)
        op = self.take().text
        if op == "<<":
            raise _SyntaxError("here-documents are not supported")
        target = self.take()
        if target.kind != "word" or target.word is None:
            raise self.error(target)
        if fd < 0:
            fd = 0 if op in ("<", "<&") else 1
        return _Redirect(fd, op, target.word)

    def parse_simple(self) -> _Simple:
        assigns: list[tuple[str, _Word]] = []
        words: list[_Word] = []
        redirs: list[_Redirect] = []
        while True:
            tok = self.peek()
            if tok.kind == "io" or (tok.kind == "op" and tok.text in _REDIR_OPS):
                redirs.append(self.parse_redirect())
            elif tok.kind == "word" and tok.word is not None:
                self.take()
                assign = None if words else _assignment(tok.word)
                if assign is not None:
                    assigns.append(assign)
                else:
                    words.append(tok.word)
            else:
                return _Simple(assigns, words, redirs)


def _assignment(word: _Word) -> tuple[str, _Word] | None:
    first = word.parts[0] if word.parts else None
    if not isinstance(first, _Lit) or first.quoted:
        return None
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", first.text)
    if m is None:
        return None
    rest = first.text[m.end() :]
    parts: list[_Part] = ([_Lit(rest, False)] if rest else []) + word.parts[1:]
    return m.group(1), _Word(parts, word.raw[m.end() :])


def _parse(script: str) -> _Seq:
    return _Parser(_Lexer(script)).parse_program()


# ---------------------------------------------------------------------------------------------------- output


class _Out(Protocol):
    def write(self, text: str) -> None: ...


class _Log:
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
class _IO:
    out: _Out
    err: _Out
    stdin: bytes = b""


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class _Break(Exception):
    def __init__(self, n: int) -> None:
        self.n = n


class _Continue(Exception):
    def __init__(self, n: int) -> None:
        self.n = n


class _RedirectFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------------- interpreter

_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_IFS = re.compile(r"[ \t\n]+")


class _Shell:
    """One shell process: its variables, positional parameters, last status and background jobs."""

    def __init__(
        self, ctx: ShellContext, log: _Log, params: list[str], shell_vars: dict[str, str] | None = None,
        opts: set[str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.log = log
        self.params = params
        self.vars: dict[str, str] = dict(shell_vars or {})  # unexported; exported ones live in ctx.env
        self.opts: set[str] = set(opts or ())
        self.status = 0
        self.jobs: list[asyncio.Task[int]] = []
        self.cond_depth = 0  # > 0 while running a condition, where `set -e` does not apply
        self.loop_depth = 0

    def fork(self) -> _Shell:
        """A subshell: a copy of the variables and working directory; files and output are shared."""
        child = _Shell(replace(self.ctx, env=dict(self.ctx.env)), self.log, list(self.params), self.vars, self.opts)
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

    def err(self, io: _IO, message: str) -> None:
        io.err.write(message + "\n")

    # ------------------------------------------------------------------ expansion

    async def expand_part(self, part: _Part, io: _IO) -> str:
        if isinstance(part, _Lit):
            return part.text
        if isinstance(part, _Param):
            return await self.expand_param(part, io)
        if isinstance(part, _CmdSub):
            child = self.fork()
            buf = _Buffer()
            self.status = await child.run_tree(part.body, _IO(buf, io.err))
            return buf.value().rstrip("\n")
        text = await self.expand_str(part.expr, io)
        return str(_arith(text, self, io))

    async def expand_param(self, part: _Param, io: _IO) -> str:
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
            raise _Exit(1)
        return arg

    async def expand_str(self, word: _Word, io: _IO) -> str:
        """A word expanded without field splitting (assignments, redirection targets, `${x:-word}`)."""
        return "".join([await self.expand_part(p, io) for p in self._tilde(word.parts)])

    def _tilde(self, parts: list[_Part]) -> list[_Part]:
        first = parts[0] if parts else None
        if isinstance(first, _Lit) and not first.quoted and (first.text == "~" or first.text.startswith("~/")):
            home = self.get("HOME") or "/root"
            return [_Lit(home + first.text[1:], True), *parts[1:]]
        return parts

    async def fields(self, word: _Word, io: _IO) -> list[str]:
        """A word expanded into fields: unquoted expansions are split on whitespace (no globbing)."""
        out: list[str] = []
        cur: list[str] = []
        have = False
        for part in self._tilde(word.parts):
            if isinstance(part, _Param) and part.name == "@" and part.quoted and not part.op:
                # "$@" keeps each positional parameter a field of its own.
                for i, p in enumerate(self.params[1:]):
                    if i > 0:
                        out.append("".join(cur))
                        cur = []
                    cur.append(p)
                    have = True
                continue
            value = await self.expand_part(part, io)
            if isinstance(part, _Lit) or part.quoted:
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

    async def expand_words(self, words: list[_Word], io: _IO) -> list[str]:
        argv: list[str] = []
        for w in words:
            argv.extend(await self.fields(w, io))
        return argv

    # ------------------------------------------------------------------ running

    async def main(self, script: str, io: _IO) -> int:
        """Parse and run a whole script, like `sh -c SCRIPT`; a syntax error prints and returns 2."""
        try:
            tree = _parse(script)
        except _SyntaxError as e:
            self.err(io, f"sh: syntax error: {e}")
            return 2
        return await self.run_tree(tree, io)

    async def run_tree(self, tree: _Node, io: _IO) -> int:
        try:
            return await self.exec(tree, io)
        except _Exit as e:
            return e.code
        except (_Break, _Continue):
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

    async def exec(self, node: _Node, io: _IO) -> int:
        if isinstance(node, _Simple):
            status = await self.exec_simple(node, io)
        elif isinstance(node, _Seq):
            status = 0
            for item, background in node.items:
                if background:
                    child = self.fork()
                    self.jobs.append(asyncio.create_task(child.run_tree(item, io)))
                    status = 0
                else:
                    status = await self.exec(item, io)
                self.status = status
        elif isinstance(node, _AndOr):
            status = await self.conditional(node.first, io)
            for i, (op, rhs) in enumerate(node.rest):
                if (status == 0) != (op == "&&"):
                    continue
                last = i == len(node.rest) - 1
                status = await (self.exec(rhs, io) if last else self.conditional(rhs, io))
        elif isinstance(node, _Pipeline):
            status = await self.exec_pipeline(node, io)
        elif isinstance(node, _If):
            status = 0
            for cond, body in node.branches:
                if await self.conditional(cond, io) == 0:
                    status = await self.exec(body, io)
                    break
            else:
                if node.orelse is not None:
                    status = await self.exec(node.orelse, io)
        elif isinstance(node, _Loop):
            status = await self.exec_loop(node, io)
        elif isinstance(node, _For):
            status = await self.exec_for(node, io)
        elif isinstance(node, _Group):
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

    async def conditional(self, node: _Node, io: _IO) -> int:
        self.cond_depth += 1
        try:
            return await self.exec(node, io)
        finally:
            self.cond_depth -= 1

    def check_errexit(self, status: int) -> None:
        if status != 0 and "e" in self.opts and self.cond_depth == 0:
            raise _Exit(status)

    async def exec_pipeline(self, node: _Pipeline, io: _IO) -> int:
        if len(node.cmds) == 1:
            status = await self.conditional(node.cmds[0], io) if node.negate else await self.exec(node.cmds[0], io)
        else:
            # The stages run one after the other, each in a subshell, the output of one the input of the next.
            stdin = io.stdin
            status = 0
            for i, cmd in enumerate(node.cmds):
                last = i == len(node.cmds) - 1
                buf = _Buffer()
                status = await self.fork().run_tree(cmd, _IO(io.out if last else buf, io.err, stdin))
                stdin = buf.value().encode()
            if not node.negate:
                self.check_errexit(status)
        if node.negate:
            return 0 if status else 1
        return status

    async def exec_loop(self, node: _Loop, io: _IO) -> int:
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
                except _Break as b:
                    if b.n > 1:
                        raise _Break(b.n - 1) from None
                    status = 0
                    break
                except _Continue as c:
                    if c.n > 1:
                        raise _Continue(c.n - 1) from None
        finally:
            self.loop_depth -= 1
        return status

    async def exec_for(self, node: _For, io: _IO) -> int:
        items = self.params[1:] if node.items is None else await self.expand_words(node.items, io)
        status = 0
        self.loop_depth += 1
        try:
            for item in items:
                await asyncio.sleep(0)
                self.set(node.var, item)
                try:
                    status = await self.exec(node.body, io)
                except _Break as b:
                    if b.n > 1:
                        raise _Break(b.n - 1) from None
                    break
                except _Continue as c:
                    if c.n > 1:
                        raise _Continue(c.n - 1) from None
        finally:
            self.loop_depth -= 1
        return status

    async def exec_simple(self, node: _Simple, io: _IO) -> int:
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

    async def redirect(self, redirs: list[_Redirect], io: _IO) -> _IO:
        out, err, stdin = io.out, io.err, io.stdin
        fs, cwd = self.ctx.fs, self.ctx.cwd
        for r in redirs:
            target = await self.expand_str(r.target, io)
            stream: _Out
            if r.op in (">&", "<&") and (target.isdigit() or target == "-"):
                if r.op == "<&":
                    continue
                stream = _Null() if target == "-" else (out if target == "1" else err if target == "2" else _Null())
            elif r.op == "<":
                try:
                    stdin = fs.read(target, cwd=cwd)
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
        return _IO(out, err, stdin)

    async def run_argv(self, argv: list[str], io: _IO) -> int:
        """Run one command: a shell, a builtin (a leading directory is ignored), or the image's program."""
        name = argv[0]
        base = name.rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name
        if base in _SHELLS:
            return await self.run_sh(argv, io)
        builtin = _BUILTINS.get(base)
        if builtin is not None:
            return await builtin(self, argv, io)
        if self.ctx.unknown_command is None:
            self.err(io, f"sh: {base}: not found")
            return 127
        out = io.out
        ctx = replace(self.ctx, stdout=lambda line: out.write(line + "\n"))
        return await self.ctx.unknown_command(argv, ctx)

    async def run_sh(self, argv: list[str], io: _IO) -> int:
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
            script, params = io.stdin.decode(errors="replace"), [argv[0]]
        # A new shell process inherits the environment (exported variables) but not shell variables.
        child = _Shell(replace(self.ctx, env=dict(self.ctx.env)), self.log, params, opts=opts)
        return await child.main(script, _IO(io.out, io.err))


def _has_cmdsub(word: _Word) -> bool:
    return any(isinstance(p, _CmdSub) for p in word.parts)


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


def _arith(text: str, shell: _Shell, io: _IO) -> int:
    """`$((...))`: integer arithmetic as in sh; an error prints and ends the shell with status 2."""
    try:
        return _ArithParser(text, shell).parse()
    except _ArithError as e:
        shell.err(io, f"sh: {e}")
        raise _Exit(2) from None


class _ArithParser:
    def __init__(self, text: str, shell: _Shell) -> None:
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


# ---------------------------------------------------------------------------------------------------- builtins

_Builtin = Callable[[_Shell, list[str], _IO], Awaitable[int]]
_BUILTINS: dict[str, _Builtin] = {}


def _builtin(*names: str) -> Callable[[_Builtin], _Builtin]:
    def register(fn: _Builtin) -> _Builtin:
        for name in names:
            _BUILTINS[name] = fn
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
async def _echo(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _printf(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _sleep(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _exit(sh: _Shell, argv: list[str], io: _IO) -> int:
    if len(argv) < 2:
        raise _Exit(sh.status)
    try:
        code = int(argv[1])
    except ValueError:
        sh.err(io, f"sh: exit: Illegal number: {argv[1]}")
        raise _Exit(2) from None
    raise _Exit(code & 0xFF)


@_builtin("true", ":")
async def _true(sh: _Shell, argv: list[str], io: _IO) -> int:
    return 0


@_builtin("false")
async def _false(sh: _Shell, argv: list[str], io: _IO) -> int:
    return 1


@_builtin("trap")
async def _trap(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _touch(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _rm(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _cat(sh: _Shell, argv: list[str], io: _IO) -> int:
    _, paths = _operands(argv)
    status = 0
    for p in paths or ["-"]:
        if p == "-":
            io.out.write(io.stdin.decode(errors="replace"))
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


@_builtin("mkdir")
async def _mkdir(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _env(sh: _Shell, argv: list[str], io: _IO) -> int:
    args = argv[1:]
    child = sh.fork()
    if args and args[0] in ("-i", "-"):
        args.pop(0)
        child.ctx.env.clear()
    while args and _NAME.match(args[0]) and "=" in args[0] and _NAME.fullmatch(args[0].split("=", 1)[0]):
        name, value = args.pop(0).split("=", 1)
        child.ctx.env[name] = value
    if args:
        return await child.run_argv(args, io)
    # `env` prints the environment in the order it was built (ctx.env's insertion order).
    io.out.write("".join(f"{k}={v}\n" for k, v in child.ctx.env.items()))
    return 0


@_builtin("printenv")
async def _printenv(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _date(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _hostname(sh: _Shell, argv: list[str], io: _IO) -> int:
    io.out.write(sh.ctx.hostname + "\n")
    return 0


class _TestError(Exception):
    pass


_UNARY_TESTS = frozenset("-e -f -d -s -r -w -x -z -n -L -h -p -S -b -c -t -g -u -k".split())
_BINARY_TESTS = frozenset("= == != < > -eq -ne -lt -le -gt -ge -nt -ot -ef".split())


class _Test:
    """`test` expression evaluation: `!`, `-a`, `-o`, parentheses, unary file/string tests, comparisons."""

    def __init__(self, args: list[str], sh: _Shell) -> None:
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
async def _test(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _cd(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _pwd(sh: _Shell, argv: list[str], io: _IO) -> int:
    io.out.write(sh.ctx.cwd + "\n")
    return 0


@_builtin("ls")
async def _ls(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _export(sh: _Shell, argv: list[str], io: _IO) -> int:
    args = [a for a in argv[1:] if a != "-p"] if len(argv) > 1 else []
    if not args:
        io.out.write("".join(f"export {k}='{v}'\n" for k, v in sh.ctx.env.items()))
        return 0
    status = 0
    for arg in args:
        name, eq, value = arg.partition("=")
        if not _NAME.fullmatch(name):
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
async def _unset(sh: _Shell, argv: list[str], io: _IO) -> int:
    _, names = _operands(argv)
    for name in names:
        sh.vars.pop(name, None)
        sh.ctx.env.pop(name, None)
    return 0


@_builtin("set")
async def _set(sh: _Shell, argv: list[str], io: _IO) -> int:
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
async def _shift(sh: _Shell, argv: list[str], io: _IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1
    if n > len(sh.params) - 1:
        return 1
    del sh.params[1 : 1 + n]
    return 0


@_builtin("break", "continue")
async def _break(sh: _Shell, argv: list[str], io: _IO) -> int:
    n = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() and int(argv[1]) > 0 else 1
    if sh.loop_depth == 0:
        return 0  # outside a loop, sh ignores them
    n = min(n, sh.loop_depth)
    raise _Break(n) if argv[0] == "break" else _Continue(n)


@_builtin("wait")
async def _wait(sh: _Shell, argv: list[str], io: _IO) -> int:
    jobs = list(sh.jobs)
    if not jobs:
        return 0
    results = await asyncio.gather(*jobs, return_exceptions=True)
    sh.jobs = [j for j in sh.jobs if j not in jobs]
    last = results[-1]
    return last if isinstance(last, int) else 127


@_builtin("eval")
async def _eval(sh: _Shell, argv: list[str], io: _IO) -> int:
    try:
        tree = _parse(" ".join(argv[1:]))
    except _SyntaxError as e:
        sh.err(io, f"sh: syntax error: {e}")
        return 2
    return await sh.exec(tree, io)


@_builtin(".", "source")
async def _source(sh: _Shell, argv: list[str], io: _IO) -> int:
    if len(argv) < 2:
        return 0
    try:
        script = sh.ctx.fs.read(argv[1], cwd=sh.ctx.cwd).decode(errors="replace")
    except FsError as e:
        sh.err(io, f"sh: {argv[0]}: can't open '{argv[1]}': {e.message}")
        return 2
    try:
        tree = _parse(script)
    except _SyntaxError as e:
        sh.err(io, f"sh: syntax error: {e}")
        return 2
    return await sh.exec(tree, io)


@_builtin("exec")
async def _exec(sh: _Shell, argv: list[str], io: _IO) -> int:
    # The command replaces the shell: when it ends, the shell is over with its status.
    if len(argv) < 2:
        return 0
    raise _Exit(await sh.run_argv(argv[1:], io))


@_builtin("seq")
async def _seq(sh: _Shell, argv: list[str], io: _IO) -> int:
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


# ---------------------------------------------------------------------------------------------------- entry points


async def run_command(argv: list[str], ctx: ShellContext) -> int:
    """Run a container's command+args (or an exec probe's command) and return its exit code.

    `sh`/`bash` with `-c` interpret the script, a builtin (`/bin/sleep` counts as `sleep`) runs directly,
    anything else goes to ctx.unknown_command. A background job (`cmd &`) is cancelled when this returns.
    """
    if not argv:
        return 0
    log = _Log(ctx.stdout)
    sh = _Shell(ctx, log, [argv[0]])
    try:
        try:
            return await sh.run_argv(list(argv), _IO(log, log))
        except _Exit as e:
            return e.code
        except (_Break, _Continue):
            return 0
    finally:
        await sh.finish_jobs()
        log.flush()


async def run_script(script: str, ctx: ShellContext) -> int:
    """Run a script as `sh -c` would, but in ctx itself: `cd` and `export` are left in ctx.cwd and ctx.env.

    A syntax error prints `sh: syntax error: ...` and returns 2 before anything runs (the whole script is
    parsed first).
    """
    log = _Log(ctx.stdout)
    try:
        return await _Shell(ctx, log, ["sh"]).main(script, _IO(log, log))
    finally:
        log.flush()

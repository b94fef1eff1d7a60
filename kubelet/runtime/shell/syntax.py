"""The shell's language: the syntax tree, the lexer and the parser, from a script's text to a tree of commands.
It knows nothing of running them: the interpreter (`interp`) walks the tree that `parse` returns."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------------- syntax tree


@dataclass
class Lit:
    text: str
    quoted: bool


@dataclass
class Param:
    name: str
    quoted: bool
    op: str = ""
    arg: Word | None = None


@dataclass
class CmdSub:
    body: Node
    quoted: bool


@dataclass
class Arith:
    expr: Word
    quoted: bool


Part = Lit | Param | CmdSub | Arith


@dataclass
class Word:
    parts: list[Part]
    raw: str

    @property
    def plain(self) -> bool:
        """True for a word of only unquoted literal text: the only kind that can be a reserved word."""
        return all(isinstance(p, Lit) and not p.quoted for p in self.parts)


@dataclass
class Redirect:
    fd: int
    op: str
    target: Word


@dataclass
class Simple:
    assigns: list[tuple[str, Word]]
    words: list[Word]
    redirs: list[Redirect]


@dataclass
class Pipeline:
    cmds: list[Node]
    negate: bool


@dataclass
class AndOr:
    first: Node
    rest: list[tuple[str, Node]]


@dataclass
class Seq:
    items: list[tuple[Node, bool]]  # (command, run in the background)


@dataclass
class If:
    branches: list[tuple[Seq, Seq]]
    orelse: Seq | None


@dataclass
class Loop:
    cond: Seq
    body: Seq
    until: bool


@dataclass
class For:
    var: str
    items: list[Word] | None
    body: Seq


@dataclass
class Group:
    body: Seq
    subshell: bool


@dataclass
class Redirected:
    node: Node
    redirs: list[Redirect]


Node = Simple | Pipeline | AndOr | Seq | If | Loop | For | Group | Redirected

# ---------------------------------------------------------------------------------------------------- lexer


class ParseError(Exception):
    pass


@dataclass
class _Tok:
    kind: str  # word, op, io (a file descriptor number before a redirection), newline, eof
    text: str
    word: Word | None = None


_OPS = ("&&", "||", ";;", ">>", ">&", "<&", ">|", "&>", "<<", ";", "&", "|", "(", ")", "<", ">")
_REDIR_OPS = frozenset({">", ">>", ">&", "<&", ">|", "&>", "<", "<<"})
_WORD_END = " \t\n;&|()<>"
_SPECIAL_PARAMS = "?$#@*!-"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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

    def word(self, stops: str) -> Word:
        src, start = self.src, self.pos
        parts: list[Part] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                parts.append(Lit("".join(buf), False))
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
                    parts.append(Lit(src[self.pos + 1], True))
                    self.pos += 2
                else:
                    buf.append(c)
                    self.pos += 1
            elif c == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise ParseError("unterminated quoted string")
                flush()
                parts.append(Lit(src[self.pos + 1 : end], True))
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
        return Word(parts, src[start : self.pos])

    def dquoted(self, end: str | None) -> list[Part]:
        """Double-quoted text up to `end` (consumed), or to the end of the source when `end` is None."""
        src = self.src
        parts: list[Part] = []
        buf: list[str] = []
        while True:
            if self.pos >= len(src):
                if end is not None:
                    raise ParseError("unterminated quoted string")
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
                    parts.append(Lit("".join(buf), True))
                    buf.clear()
                parts.append(part)
            else:
                buf.append(c)
                self.pos += 1
        if buf or not parts:
            # An empty "" still makes a (empty) field, so keep a quoted empty literal.
            parts.append(Lit("".join(buf), True))
        return parts

    def backtick(self, quoted: bool) -> CmdSub:
        src = self.src
        i = self.pos + 1
        inner: list[str] = []
        while True:
            if i >= len(src):
                raise ParseError("unterminated quoted string")
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
        return CmdSub(parse("".join(inner)), quoted)

    def dollar(self, quoted: bool) -> Part | None:
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
                        raise ParseError("unterminated arithmetic expression")
                    depth -= 1
                j += 1
            else:
                raise ParseError("unterminated arithmetic expression")
            text = src[i + 2 : j]
            self.pos = j + 2
            return Arith(Word(_Lexer(text).dquoted(None), text), quoted)
        if c == "(":
            sub = _Parser(_Lexer(src, i + 1))
            body = sub.parse_list()
            sub.expect_op(")")
            self.pos = sub.lexer.pos
            return CmdSub(body, quoted)
        if c and (c.isalpha() or c == "_"):
            m = NAME.match(src, i)
            assert m is not None
            self.pos = m.end()
            return Param(m.group(), quoted)
        if c and (c.isdigit() or c in _SPECIAL_PARAMS):
            self.pos = i + 1
            return Param(c, quoted)
        return None

    def _braced(self, quoted: bool) -> Param:
        src = self.src
        i = self.pos + 2
        length = src.startswith("#", i) and not src.startswith("#}", i)
        if length:
            i += 1
        m = NAME.match(src, i) or re.compile(r"[0-9]+|[?$#@*!-]").match(src, i)
        if m is None:
            raise ParseError("bad substitution")
        name, i = m.group(), m.end()
        if src.startswith("}", i):
            self.pos = i + 1
            return Param(name, quoted, "#" if length else "")
        op_m = re.compile(r":?[-=+?]").match(src, i)
        if length or op_m is None:
            raise ParseError("bad substitution")
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
            raise ParseError("bad substitution")
        text = src[i:j]
        self.pos = j + 1
        sub = _Lexer(text)
        arg = Word(sub.dquoted(None), text) if quoted else sub.word("")
        return Param(name, quoted, op_m.group(), arg)


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
    def error(tok: _Tok, expecting: str = "") -> ParseError:
        if tok.kind == "eof":
            return ParseError("unexpected end of file" + (f' (expecting "{expecting}")' if expecting else ""))
        if tok.kind == "newline":
            return ParseError("unexpected newline")
        return ParseError(f'unexpected "{tok.text}"')

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

    def parse_program(self) -> Seq:
        seq = self.parse_list()
        if self.peek().kind != "eof":
            raise self.error(self.peek())
        return seq

    def parse_list(self) -> Seq:
        items: list[tuple[Node, bool]] = []
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
        return Seq(items)

    def parse_body(self, expecting: str) -> Seq:
        seq = self.parse_list()
        if not seq.items:
            # POSIX requires at least one command in then/do/{ } bodies; sh reports the token it found.
            raise self.error(self.peek(), expecting)
        return seq

    def parse_and_or(self) -> Node:
        first = self.parse_pipeline()
        rest: list[tuple[str, Node]] = []
        while self.is_op(self.peek(), "&&", "||"):
            op = self.take().text
            self.skip_newlines()
            rest.append((op, self.parse_pipeline()))
        return AndOr(first, rest) if rest else first

    def parse_pipeline(self) -> Node:
        negate = False
        if self.is_word(self.peek(), "!"):
            self.take()
            negate = True
        cmds = [self.parse_command()]
        while self.is_op(self.peek(), "|"):
            self.take()
            self.skip_newlines()
            cmds.append(self.parse_command())
        return Pipeline(cmds, negate) if negate or len(cmds) > 1 else cmds[0]

    def parse_command(self) -> Node:
        tok = self.peek()
        node: Node
        if self.is_word(tok, "if"):
            node = self.parse_if()
        elif self.is_word(tok, "while", "until"):
            self.take()
            cond = self.parse_body("do")
            self.expect_word("do")
            body = self.parse_body("done")
            self.expect_word("done")
            node = Loop(cond, body, tok.text == "until")
        elif self.is_word(tok, "for"):
            node = self.parse_for()
        elif self.is_word(tok, "{"):
            self.take()
            node = Group(self.parse_body("}"), False)
            self.expect_word("}")
        elif self.is_op(tok, "("):
            self.take()
            node = Group(self.parse_body(")"), True)
            self.expect_op(")")
        elif tok.kind in ("word", "io") or (tok.kind == "op" and tok.text in _REDIR_OPS):
            return self.parse_simple()
        else:
            raise self.error(tok)
        redirs = self.parse_redirects()
        return Redirected(node, redirs) if redirs else node

    def parse_if(self) -> If:
        self.take()
        branches: list[tuple[Seq, Seq]] = []
        orelse: Seq | None = None
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
            return If(branches, orelse)

    def parse_for(self) -> For:
        self.take()
        tok = self.take()
        if tok.kind != "word" or not NAME.fullmatch(tok.text):
            raise ParseError(f"bad for loop variable: {tok.text}")
        items: list[Word] | None = None
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
        return For(tok.text, items, body)

    def parse_redirects(self) -> list[Redirect]:
        redirs: list[Redirect] = []
        while self.peek().kind == "io" or (self.peek().kind == "op" and self.peek().text in _REDIR_OPS):
            redirs.append(self.parse_redirect())
        return redirs

    def parse_redirect(self) -> Redirect:
        fd = -1
        if self.peek().kind == "io":
            fd = int(self.take().text)
        op = self.take().text
        if op == "<<":
            raise ParseError("here-documents are not supported")
        target = self.take()
        if target.kind != "word" or target.word is None:
            raise self.error(target)
        if fd < 0:
            fd = 0 if op in ("<", "<&") else 1
        return Redirect(fd, op, target.word)

    def parse_simple(self) -> Simple:
        assigns: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirs: list[Redirect] = []
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
                return Simple(assigns, words, redirs)


def _assignment(word: Word) -> tuple[str, Word] | None:
    first = word.parts[0] if word.parts else None
    if not isinstance(first, Lit) or first.quoted:
        return None
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)=", first.text)
    if m is None:
        return None
    rest = first.text[m.end() :]
    parts: list[Part] = ([Lit(rest, False)] if rest else []) + word.parts[1:]
    return m.group(1), Word(parts, word.raw[m.end() :])


def parse(script: str) -> Seq:
    """A whole script, parsed before anything runs; raises ParseError with sh's wording of what is wrong."""
    return _Parser(_Lexer(script)).parse_program()

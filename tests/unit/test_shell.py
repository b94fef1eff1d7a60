"""The simulated containers' shell: its language, its builtins, and the Kubernetes documentation examples.
Time is a fake clock the tests advance, so `sleep 600` takes no real time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import re
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubelet.runtime.fs import ContainerFS, Mount, Volume, image_root
from kubelet.runtime.shell import ShellContext, format_date, run_command, run_script

pytestmark = pytest.mark.unit

# Mon Jan  2 15:04:05 UTC 2006, Go's reference time.
REFERENCE_TIME = 1136214245.0


class FakeClock:
    """Virtual time: sleepers wait until the test advances the clock past their deadline."""

    def __init__(self, start: float = REFERENCE_TIME) -> None:
        self.start = start
        self.t = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._seq), fut))
        await fut

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance_to(self, elapsed: float) -> None:
        """Move to `start + elapsed`, waking each sleeper at its own deadline, in order."""
        target = self.start + elapsed
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, fut = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not fut.done():
                fut.set_result(None)
            await self.settle()
        self.t = target
        await self.settle()


def make_ctx(
    fs: ContainerFS | None = None, clock: FakeClock | None = None, **kw: object
) -> tuple[ShellContext, list[str]]:
    lines: list[str] = []
    clock = clock or FakeClock()
    ctx = ShellContext(
        fs=fs or ContainerFS(image_root("pod-1")),
        stdout=lines.append,
        sleep=clock.sleep,
        now=clock.now,
        hostname="pod-1",
    )
    return replace(ctx, **kw), lines  # type: ignore[arg-type]


async def sh(script: str, **kw: object) -> tuple[int, list[str]]:
    ctx, lines = make_ctx(**kw)  # type: ignore[arg-type]
    return await run_script(script, ctx), lines


# ------------------------------------------------------------------------------------------------ language


@pytest.mark.parametrize(
    ("script", "code", "out"),
    [
        # quoting and escapes
        ("echo hello world", 0, ["hello world"]),
        ("echo 'a  b'   c", 0, ["a  b c"]),
        ('echo "a  b" \'$HOME\'', 0, ["a  b $HOME"]),
        ("echo a\\ b \\$X \\\\", 0, ["a b $X \\"]),
        ('echo "q\\"uote \\$x \\n"', 0, ['q"uote $x \\n']),
        ("echo ''x\"\"y", 0, ["xy"]),
        ("echo one \\\ntwo", 0, ["one two"]),
        # variables
        ("X=1; echo $X ${X} \"$X\" '$X'", 0, ["1 1 1 $X"]),
        ("X=a; echo ${X}b $Xb.", 0, ["ab ."]),
        ("echo $UNSET; echo [${UNSET:-dflt}] [${UNSET-d2}]", 0, ["", "[dflt] [d2]"]),
        ("E=; echo [${E:-d}] [${E-d}] [${E:+alt}] [${X:=set}] $X ${#X}", 0, ["[d] [] [] [set] set 3"]),
        ("false; echo $?; true; echo $?", 0, ["1", "0"]),
        ("echo $$", 0, ["1"]),
        ('W="a   b"; for w in $W; do echo "<$w>"; done; echo "<$W>"', 0, ["<a>", "<b>", "<a   b>"]),
        ("export GREETING=hi; echo $GREETING", 0, ["hi"]),
        ("A=1 B=2; echo $A$B", 0, ["12"]),
        ("echo ~ ~/x '~'", 0, ["/root /root/x ~"]),
        # lists
        ("echo a; echo b\necho c", 0, ["a", "b", "c"]),
        ("true && echo yes", 0, ["yes"]),
        ("false && echo yes", 1, []),
        ("false || echo fallback", 0, ["fallback"]),
        ("true || echo no", 0, []),
        ("false || false && echo x; echo $?", 0, ["1"]),
        ("! true", 1, []),
        ("! false", 0, []),
        ("! false && echo negated", 0, ["negated"]),
        ("exit 3", 3, []),
        ("echo before; exit 7; echo after", 7, ["before"]),
        ("false; exit", 1, []),
        ("exit 256", 0, []),
        ("false", 1, []),
        ("true", 0, []),
        (":", 0, []),
        ("# just a comment\necho x # trailing comment\necho a#b", 0, ["x", "a#b"]),
        ("{ echo g1; echo g2; }", 0, ["g1", "g2"]),
        ("(X=in; exit 4); echo $? ${X:-unset}", 0, ["4 unset"]),
        # compound commands
        ("if true; then echo t; fi", 0, ["t"]),
        ("if false; then echo t; else echo f; fi", 0, ["f"]),
        ("if false; then echo 1; elif false; then echo 2; elif true; then echo 3; else echo 4; fi", 0, ["3"]),
        ("if false; then echo 1; fi", 0, []),
        ("if\ntrue\nthen\necho multi\nfi", 0, ["multi"]),
        ("for i in 1 2 3; do echo $i; done", 0, ["1", "2", "3"]),
        ("for i in; do echo $i; done; echo done", 0, ["done"]),
        ("for i in a b\ndo\necho $i\ndone", 0, ["a", "b"]),
        ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i + 1)); done", 0, ["0", "1", "2"]),
        ("i=0; until [ $i -ge 2 ]; do i=$((i+1)); done; echo $i", 0, ["2"]),
        ("while true; do echo once; break; done", 0, ["once"]),
        ("for i in 1 2 3 4; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done", 0, ["1", "3"]),
        ("for i in 1 2; do for j in a b; do echo $i$j; break 2; done; done", 0, ["1a"]),
        ("for i in 1 2; do for j in a b; do continue 2; echo no; done; echo no; done; echo end", 0, ["end"]),
        # substitutions and arithmetic
        ("X=$(echo sub); echo \"[$X]\" `echo back`", 0, ["[sub] back"]),
        ('echo "$(echo a; echo b)"', 0, ["a", "b"]),
        ("echo $(echo $(echo nested))", 0, ["nested"]),
        ("echo $((1 + 2 * 3)) $((7 / 2)) $((-7 / 2)) $((7 % 3)) $((2 ** 10)) $(( (1+2)*3 ))", 0, ["7 3 -3 1 1024 9"]),
        ("N=5; echo $((N > 3 && N < 10)) $(( $N - 1 )) $((!0))", 0, ["1 4 1"]),
        ("X=$(false); echo $?", 0, ["1"]),
        # redirections
        ("echo hello > /tmp/x; cat /tmp/x", 0, ["hello"]),
        ("echo a > /tmp/x; echo b >> /tmp/x; cat /tmp/x", 0, ["a", "b"]),
        ("echo a > /tmp/x; echo b > /tmp/x; cat /tmp/x", 0, ["b"]),
        ("echo quiet > /dev/null; echo err 2>&1; echo hidden >/dev/null 2>&1", 0, ["err"]),
        ("cat /nope 2>/dev/null; echo $?", 0, ["1"]),
        ("cat /nope 2> /tmp/err; cat /tmp/err", 0, ["cat: can't open '/nope': No such file or directory"]),
        ("echo to-err >&2", 0, ["to-err"]),
        ("echo x > /nodir/f", 1, ["sh: can't create /nodir/f: nonexistent directory"]),
        ("echo x > /tmp", 1, ["sh: can't create /tmp: Is a directory"]),
        ("> /tmp/empty; cat /tmp/empty; ls /tmp", 0, ["empty"]),
        ("for i in 1 2; do echo $i; done > /tmp/loop; cat /tmp/loop", 0, ["1", "2"]),
        ("echo in > /tmp/in; cat < /tmp/in", 0, ["in"]),
        ("echo piped | cat", 0, ["piped"]),
        ("echo both &> /tmp/b; cat /tmp/b", 0, ["both"]),
        # background jobs
        ("echo bg & wait; echo fg", 0, ["bg", "fg"]),
    ],
)
async def test_language(script: str, code: int, out: list[str]) -> None:
    assert await sh(script) == (code, out)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("if true; then fi", 'sh: syntax error: unexpected "fi"'),
        ("fi", 'sh: syntax error: unexpected "fi"'),
        ("echo a; done", 'sh: syntax error: unexpected "done"'),
        ("if true; then echo x", 'sh: syntax error: unexpected end of file (expecting "fi")'),
        ("while true; do echo", 'sh: syntax error: unexpected end of file (expecting "done")'),
        ("; echo", 'sh: syntax error: unexpected ";"'),
        ("echo a &&", "sh: syntax error: unexpected end of file"),
        ("echo 'open", "sh: syntax error: unterminated quoted string"),
        ('echo "open', "sh: syntax error: unterminated quoted string"),
        ("echo >", "sh: syntax error: unexpected end of file"),
        ("echo ${", "sh: syntax error: bad substitution"),
        ("echo $(echo", 'sh: syntax error: unexpected end of file (expecting ")")'),
        ("cat <<EOF\nx\nEOF", "sh: syntax error: here-documents are not supported"),
    ],
)
async def test_syntax_errors_print_and_return_2_before_running(script: str, message: str) -> None:
    code, out = await sh("echo ran; " + script if not script.startswith(";") else script)
    assert (code, out) == (2, [message])


async def test_variables_and_cwd_persist_in_ctx_for_run_script() -> None:
    ctx, _ = make_ctx(env={"A": "1"})
    assert await run_script("export B=2; C=3; cd /tmp; A=changed", ctx) == 0
    assert ctx.env == {"A": "changed", "B": "2"}
    assert ctx.cwd == "/tmp"


async def test_prefix_assignment_is_only_for_that_command() -> None:
    ctx, lines = make_ctx(env={"KEEP": "k"})
    assert await run_script("FOO=bar env; echo ${FOO:-gone}", ctx) == 0
    assert lines == ["KEEP=k", "FOO=bar", "gone"]
    assert ctx.env == {"KEEP": "k"}


async def test_sh_c_in_run_command_does_not_change_ctx() -> None:
    ctx, lines = make_ctx(env={"A": "1"})
    assert await run_command(["sh", "-c", "export A=2; cd /tmp; echo $A"], ctx) == 0
    assert lines == ["2"] and ctx.env == {"A": "1"} and ctx.cwd == "/"


async def test_positional_parameters_of_sh_c() -> None:
    ctx, lines = make_ctx()
    script = 'echo "$0|$1|$2|$#"; for a in "$@"; do echo "<$a>"; done'
    code = await run_command(["sh", "-c", script, "me", "x y", "z"], ctx)
    assert code == 0
    assert lines == ["me|x y|z|2", "<x y>", "<z>"]


async def test_set_e_and_sh_ec() -> None:
    assert await sh("set -e; echo a; false; echo b") == (1, ["a"])
    assert await sh("set -e; false || true; if false; then :; fi; ! true; echo survived") == (0, ["survived"])
    ctx, lines = make_ctx()
    assert await run_command(["/bin/sh", "-ec", "echo a; false; echo b"], ctx) == 1
    assert lines == ["a"]


async def test_set_x_traces_commands() -> None:
    assert await sh("set -x; echo hi") == (0, ["+ echo hi", "hi"])


async def test_partial_line_is_flushed_at_the_end() -> None:
    assert await sh("echo -n no-newline") == (0, ["no-newline"])
    assert await sh("echo -n a; echo -n b; echo c") == (0, ["abc"])


async def test_sh_runs_a_script_file() -> None:
    ctx, lines = make_ctx()
    ctx.fs.write("/tmp/s.sh", b"echo from file $1\nexit 5\n")
    assert await run_command(["sh", "/tmp/s.sh", "arg"], ctx) == 5
    assert lines == ["from file arg"]
    lines.clear()
    assert await run_command(["sh", "/tmp/missing.sh"], ctx) == 127
    assert lines == ["sh: can't open '/tmp/missing.sh': No such file or directory"]


async def test_eval_source_and_exec() -> None:
    ctx, lines = make_ctx()
    ctx.fs.write("/tmp/lib.sh", b"LIB=loaded\n")
    assert await run_script("eval 'echo evaluated'; . /tmp/lib.sh; echo $LIB; exec echo replaced; echo never", ctx) == 0
    assert lines == ["evaluated", "loaded", "replaced"]


# ------------------------------------------------------------------------------------------------ builtins


@pytest.mark.parametrize(
    ("script", "code", "out"),
    [
        ("echo", 0, [""]),
        ("echo -n a; echo b", 0, ["ab"]),
        ("echo -e 'a\\tb\\nc'", 0, ["a\tb", "c"]),
        ("echo 'a\\nb'", 0, ["a\\nb"]),
        ("echo -ne 'x\\n'; echo y", 0, ["x", "y"]),
        ("echo -e 'stop\\cignored'; echo next", 0, ["stopnext"]),
        ("echo -x", 0, ["-x"]),
        ("printf '%s-%d\\n' a 1 b 2", 0, ["a-1", "b-2"]),
        ("printf 'no newline'; echo", 0, ["no newline"]),
        ("printf '%5s|%-3d|%03d|%%|%x\\n' ab 7 5 255", 0, ["   ab|7  |005|%|ff"]),
        ("printf '%s\\n'", 0, [""]),
        ("printf '%d\\n' abc", 1, ["printf: invalid number 'abc'", "0"]),
        ("sleep 0; echo slept", 0, ["slept"]),
        ("sleep abc", 1, ["sleep: invalid number 'abc'"]),
        ("sleep", 1, ["sleep: missing operand"]),
        ("touch /tmp/t; [ -f /tmp/t ] && echo made", 0, ["made"]),
        ("touch /no/t", 1, ["touch: /no/t: No such file or directory"]),
        ("touch /tmp/a; rm /tmp/a; [ -e /tmp/a ] || echo gone", 0, ["gone"]),
        ("rm /tmp/nothing", 1, ["rm: can't remove '/tmp/nothing': No such file or directory"]),
        ("rm -f /tmp/nothing", 0, []),
        ("rm -f", 0, []),
        ("mkdir /tmp/d; rm /tmp/d", 1, ["rm: '/tmp/d' is a directory"]),
        ("mkdir -p /tmp/d/e; touch /tmp/d/e/f; rm -rf /tmp/d; ls /tmp", 0, []),
        ("mkdir -p /tmp/d; rm -r /tmp/d; echo $?", 0, ["0"]),
        ("rm -r -f /tmp/d", 0, []),
        ("mkdir /tmp/x/y", 1, ["mkdir: can't create directory '/tmp/x/y': No such file or directory"]),
        ("mkdir /tmp", 1, ["mkdir: can't create directory '/tmp': File exists"]),
        ("mkdir -p /tmp/x/y && echo ok", 0, ["ok"]),
        ("cat /tmp/healthy", 1, ["cat: can't open '/tmp/healthy': No such file or directory"]),
        ("cat /tmp", 1, ["cat: read error: Is a directory"]),
        ("echo 1 > /tmp/a; echo 2 > /tmp/b; cat /tmp/a /tmp/b", 0, ["1", "2"]),
        ("cat /etc/hostname", 0, ["pod-1"]),
        ("hostname", 0, ["pod-1"]),
        ("date", 0, ["Mon Jan  2 15:04:05 UTC 2006"]),
        ("date -u +%Y-%m-%dT%H:%M:%S", 0, ["2006-01-02T15:04:05"]),
        ("date -R; date -I", 0, ["Mon, 02 Jan 2006 15:04:05 +0000", "2006-01-02"]),
        ("pwd; cd /etc; pwd; cd ..; pwd; cd tmp; pwd; cd -; pwd", 0, ["/", "/etc", "/", "/tmp", "/"]),
        ("cd /nope", 2, ["sh: cd: can't cd to /nope: No such file or directory"]),
        ("cd /etc/hostname", 2, ["sh: cd: can't cd to /etc/hostname: Not a directory"]),
        ("cd /tmp; touch b a; ls; ls a /etc", 0, ["a", "b", "a", "", "/etc:", "hostname"]),
        ("ls /nope", 1, ["ls: /nope: No such file or directory"]),
        ("seq 3; seq 2 3; seq 5 -2 1", 0, ["1", "2", "3", "2", "3", "5", "3", "1"]),
        ("X=1; unset X; echo [${X:-}]", 0, ["[]"]),
        ("set -- a b c; echo $# $2; shift; echo $1", 0, ["3 b", "b"]),
        ("trap 'echo never' TERM; echo trapped", 0, ["trapped"]),
        ("printenv NOPE", 1, []),
    ],
)
async def test_builtins(script: str, code: int, out: list[str]) -> None:
    assert await sh(script) == (code, out)


@pytest.mark.parametrize(
    ("expr", "true"),
    [
        ("-f /etc/hostname", True),
        ("-f /etc", False),
        ("-d /etc", True),
        ("-d /etc/hostname", False),
        ("-e /etc", True),
        ("-e /nope", False),
        ("-s /etc/hostname", True),
        ("-s /dev/null", False),
        ("-z ''", True),
        ("-z x", False),
        ("-n x", True),
        ("-n ''", False),
        ("x", True),
        ("''", False),
        ("", False),
        ("a = a", True),
        ("a = b", False),
        ("a != b", True),
        ("a == a", True),
        ("1 -eq 1", True),
        ("1 -ne 1", False),
        ("1 -lt 2", True),
        ("2 -le 2", True),
        ("3 -gt 2", True),
        ("2 -ge 3", False),
        ("-10 -lt 2", True),
        ("! -e /nope", True),
        ("-e /etc -a -e /nope", False),
        ("-e /etc -o -e /nope", True),
        ("'(' a = a ')'", True),
        ("-n", True),
        ("=", True),
    ],
)
async def test_test_and_bracket(expr: str, true: bool) -> None:
    want = 0 if true else 1
    assert await sh(f"test {expr}") == (want, [])
    assert await sh(f"[ {expr} ]") == (want, [])


async def test_test_errors() -> None:
    assert await sh("[ a -eq 1 ]") == (2, ["sh: a: bad number"])
    assert await sh("[ -f /etc") == (2, ["sh: [: missing ]"])


async def test_env_prints_in_insertion_order() -> None:
    code, out = await sh("env", env={"Z": "1", "A": "2", "M": "x=y"})
    assert (code, out) == (0, ["Z=1", "A=2", "M=x=y"])
    code, out = await sh("env -i ONLY=1 env", env={"Z": "1"})
    assert (code, out) == (0, ["ONLY=1"])


async def test_unexported_variables_are_not_in_env() -> None:
    assert await sh("LOCAL=1; export EXP=2; env") == (0, ["EXP=2"])
    assert await sh("LATER=1; export LATER; env") == (0, ["LATER=1"])


# ------------------------------------------------------------------------------------------------ run_command


@pytest.mark.parametrize(
    ("argv", "code", "out"),
    [
        (["echo", "hi"], 0, ["hi"]),
        (["/bin/echo", "a", "b"], 0, ["a b"]),
        (["/bin/sh", "-c", "echo from sh"], 0, ["from sh"]),
        (["bash", "-c", "echo from bash"], 0, ["from bash"]),
        (["sh", "-c", "exit 3"], 3, []),
        (["false"], 1, []),
        (["exit", "9"], 9, []),
        (["/bin/sleep", "0"], 0, []),
        (["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"], 0, []),
        (["nginx", "-g", "daemon off;"], 0, []),
        (["sh", "-c"], 2, ["sh: -c requires an argument"]),
        ([], 0, []),
    ],
)
async def test_run_command(argv: list[str], code: int, out: list[str]) -> None:
    ctx, lines = make_ctx()
    assert await run_command(argv, ctx) == code
    assert lines == out


async def test_unknown_command_none_is_not_found() -> None:
    ctx, lines = make_ctx(unknown_command=None)
    assert await run_command(["/bin/foo", "x"], ctx) == 127
    assert lines == ["sh: foo: not found"]
    lines.clear()
    assert await run_script("nginx; echo $?", ctx) == 0
    assert lines == ["sh: nginx: not found", "127"]


async def test_unknown_command_hook_gets_argv_env_and_redirected_output() -> None:
    calls: list[tuple[list[str], str, str]] = []

    async def image_binary(argv: list[str], ctx: ShellContext) -> int:
        calls.append((argv, ctx.env.get("PORT", ""), ctx.cwd))
        ctx.stdout(f"{argv[0]} says hi")
        return 42

    ctx, lines = make_ctx(unknown_command=image_binary)
    assert await run_script("cd /tmp; PORT=80 myserver --flag > /tmp/out; echo $?; cat /tmp/out; myserver", ctx) == 42
    assert calls == [(["myserver", "--flag"], "80", "/tmp"), (["myserver"], "", "/tmp")]
    assert lines == ["42", "myserver says hi", "myserver says hi"]


# -------------------------------------------------------------------------------------------- docs examples and time


async def test_liveness_exec_example() -> None:
    """The docs' liveness-exec pod: /tmp/healthy exists for 30 s, so `cat /tmp/healthy` starts failing after."""
    clock = FakeClock()
    ctx, lines = make_ctx(clock=clock)
    argv = ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]
    task = asyncio.create_task(run_command(argv, ctx))
    probe, probe_out = make_ctx(fs=ctx.fs, clock=clock)
    await clock.advance_to(10)
    assert ctx.fs.exists("/tmp/healthy")
    assert await run_command(["cat", "/tmp/healthy"], probe) == 0
    await clock.advance_to(31)
    assert not ctx.fs.exists("/tmp/healthy")
    assert await run_command(["cat", "/tmp/healthy"], probe) == 1
    assert probe_out == ["cat: can't open '/tmp/healthy': No such file or directory"]
    assert not task.done()
    await clock.advance_to(631)
    assert await task == 0
    assert lines == []


async def test_hello_kubernetes_example() -> None:
    clock = FakeClock()
    ctx, lines = make_ctx(clock=clock)
    task = asyncio.create_task(run_command(["sh", "-c", 'echo "Hello, Kubernetes!" && sleep 3600'], ctx))
    await clock.advance_to(1)
    assert lines == ["Hello, Kubernetes!"]
    assert not task.done()
    await clock.advance_to(3600)
    assert await task == 0


async def test_two_container_pod_example() -> None:
    """The docs' two-container pod: debian writes the page into the emptyDir that nginx serves."""
    shared = Volume("shared-data")
    debian, _ = make_ctx(fs=ContainerFS(image_root(), {"/pod-data": shared}))
    nginx, nginx_out = make_ctx(fs=ContainerFS(image_root(), {"/usr/share/nginx/html": shared}))
    argv = ["/bin/sh", "-c", "echo Hello from the debian container > /pod-data/index.html"]
    assert await run_command(argv, debian) == 0
    assert await run_command(["cat", "/usr/share/nginx/html/index.html"], nginx) == 0
    assert nginx_out == ["Hello from the debian container"]


async def test_date_loop_into_a_shared_volume() -> None:
    clock = FakeClock()
    html = Volume("html")
    writer, _ = make_ctx(fs=ContainerFS(image_root(), {"/html": html}), clock=clock)
    reader, out = make_ctx(fs=ContainerFS(image_root(), {"/usr/share/nginx/html": Mount(html, read_only=True)}))
    task = asyncio.create_task(run_script("while true; do date >> /html/index.html; sleep 1; done", writer))
    await clock.advance_to(2.5)
    assert await run_command(["cat", "/usr/share/nginx/html/index.html"], reader) == 0
    assert out == ["Mon Jan  2 15:04:05 UTC 2006", "Mon Jan  2 15:04:06 UTC 2006", "Mon Jan  2 15:04:07 UTC 2006"]
    out.clear()
    assert await run_script("echo x > /usr/share/nginx/html/index.html", reader) == 1
    assert out == ["sh: can't create /usr/share/nginx/html/index.html: Read-only file system"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_until_loop_waits_for_a_file() -> None:
    clock = FakeClock()
    ctx, lines = make_ctx(clock=clock)
    task = asyncio.create_task(run_script("until [ -f /tmp/ready ]; do sleep 1; done; echo ready", ctx))
    await clock.advance_to(5)
    assert not task.done()
    ctx.fs.touch("/tmp/ready")
    await clock.advance_to(6)
    assert await task == 0
    assert lines == ["ready"]


async def test_sleep_durations_use_the_injected_clock() -> None:
    clock = FakeClock()
    ctx, _ = make_ctx(clock=clock)
    task = asyncio.create_task(run_script("sleep 1.5 1m; sleep .5", ctx))
    await clock.advance_to(61)
    assert not task.done()
    await clock.advance_to(62)
    assert await task == 0


async def test_cancelling_sleep_infinity_is_prompt() -> None:
    ctx, _ = make_ctx()
    task = asyncio.create_task(run_command(["sleep", "infinity"], ctx))
    await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_cancelling_a_busy_loop_is_prompt() -> None:
    ctx, _ = make_ctx()
    task = asyncio.create_task(run_command(["sh", "-c", "while true; do true; done"], ctx))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_cancelling_with_real_asyncio_sleep() -> None:
    ctx, lines = make_ctx(sleep=lambda s: asyncio.sleep(s))
    task = asyncio.create_task(run_script("echo -n partial; sleep 3600", ctx))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lines == ["partial"]  # the partial line reaches the log when the container dies


async def test_background_job_with_wait_and_trap_pattern() -> None:
    """`trap : TERM INT; sleep infinity & wait` runs until killed; the background job dies with it."""
    ctx, _ = make_ctx()
    task = asyncio.create_task(run_command(["sh", "-c", "trap : TERM INT; sleep infinity & wait"], ctx))
    await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_background_job_runs_concurrently_and_dies_with_the_shell() -> None:
    clock = FakeClock()
    ctx, lines = make_ctx(clock=clock)
    task = asyncio.create_task(
        run_script("while true; do echo tick; sleep 1; done & sleep 2.5; echo main done", ctx)
    )
    await clock.advance_to(10)
    assert await task == 0
    assert lines == ["tick", "tick", "tick", "main done"]


def test_format_date() -> None:
    assert format_date(REFERENCE_TIME) == "Mon Jan  2 15:04:05 UTC 2006"
    assert format_date(0) == "Thu Jan  1 00:00:00 UTC 1970"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="'")))
def test_echo_single_quoted_text_is_unchanged(text: str) -> None:
    # A word of echo's own options alone (`-n`, `-E`, `-neE`) is taken as options, in bash as here.
    assume(re.fullmatch(r"-[neE]+", text) is None)
    ctx, lines = make_ctx()
    code = asyncio.run(run_script(f"echo '{text}'", ctx))
    assert code == 0
    assert lines == text.split("\n")

"""The `swx` command line: every command parses its options, calls a stage of `swx.pipeline` (the same
functions the Prefect flows call) and prints the result for people; no command computes.

One module per command group (`ingest`, `models`, `operations`, `data`, `database`) over the shared
`app`. Commands import their stage inside the command: `swx --help` and the light commands start
without loading torch, matplotlib or the database layer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback

from rich.markup import escape

from swx.cli.app import SHOW_TRACEBACKS, app, console
from swx.config import get_settings, mask_secrets, printable
from swx.errors import SwxError

__all__ = ["app", "main"]

# each group registers its commands; `swx --help` shows their panels in this order
from swx.cli import operations, ingest, models, data, database  # noqa: E402, F401, I001


#: Exit statuses of a command stopped by Ctrl-C (SIGINT) and by SIGTERM, as a shell reports them
INTERRUPTED_EXIT, TERMINATED_EXIT = 130, 143
_SIGNAL = {"name": "Ctrl-C"}


def _terminated(signum, frame) -> None:
    """SIGTERM unwinds the command as Ctrl-C does (a started run is recorded failed, not left running)."""
    _SIGNAL["name"] = "SIGTERM"
    raise KeyboardInterrupt


def _repeated_option(args: list[str]) -> str | None:
    """The first option taking one value that `args` give twice (`--day A --day B`: click silently keeps
    B), found on the command the arguments name; None when there is none. Flags and repeatable
    options (`--method`, `--station`) may be repeated."""
    import typer.main

    if not isinstance(app, typer.Typer):  # (a test's stand-in)
        return None
    command = typer.main.get_command(app)
    rest = list(args)
    while rest and hasattr(command, "commands"):  # down the command groups to the command itself
        word = rest[0]
        if word.startswith("-"):
            rest.pop(0)
            continue
        if word not in command.commands:
            return None
        command = command.commands[word]
        rest.pop(0)
    single = {name: p.opts[0] for p in getattr(command, "params", []) if getattr(p, "opts", None)
              and not getattr(p, "multiple", False) and not getattr(p, "is_flag", False)
              and not getattr(p, "count", False) and p.param_type_name == "option" for name in p.opts}
    seen: set[str] = set()
    for word in rest:
        if word == "--":
            break
        name = single.get(word.split("=", 1)[0])
        if name is not None:
            if name in seen:
                return name
            seen.add(name)
    return None


def main() -> None:
    """The `swx` console script: a domain error (`SwxError`), a database that cannot be reached or
    refuses a write, and a file-system fault (missing file, no permission, disk full) are one line on
    stderr and exit status 2 — never a traceback (unless `swx --debug ...`), never the SQL or its parameters,
    never a password."""
    import typer

    SHOW_TRACEBACKS["on"] = False
    if sys.stdout is None:  # started with stdout closed (`swx config >&-`): what it says would be lost
        if sys.stderr is not None:
            sys.stderr.write("error: standard output is closed (expected a terminal, a file or a pipe to write "
                             "to)\n")
        sys.exit(2)
    for stream in (sys.stdout, sys.stderr):  # a stream that cannot show Δ or —: replaced, never a traceback
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")
    with contextlib.suppress(ValueError):  # SIGTERM (a scheduler stopping the job) ends it as Ctrl-C does
        signal.signal(signal.SIGTERM, _terminated)
    if (twice := _repeated_option(sys.argv[1:])) is not None:  # click keeps the last and drops the rest
        console.print(f"[red]error:[/red] {escape(twice)} given more than once: give it once", highlight=False)
        sys.exit(2)
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # Typer's (click's) usage errors
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # `swx`, `swx ingest`: their help
            console.print(ctx.get_help(), highlight=False, markup=False)
            sys.exit(2)
        # one line naming the argument and what it expects, then where to look
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        console.print(f"[red]error:[/red] {escape(printable(mask_secrets(exc.format_message())))}{escape(where)}",
                      soft_wrap=True, highlight=False)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        console.print("[red]aborted[/red]")
        sys.exit(1)
    except KeyboardInterrupt:  # (Typer turns one inside a command into exit status 130, below)
        code = INTERRUPTED_EXIT
    except Exception as exc:
        line = _one_line(exc)
        if line is None or SHOW_TRACEBACKS["on"]:  # a bug, or --debug: the traceback, its secrets masked too
            sys.stderr.write(mask_secrets("".join(traceback.format_exception(exc))))
            sys.exit(1)
        console.print(f"[red]error:[/red] {escape(printable(mask_secrets(line)))}", soft_wrap=True, highlight=False)
        sys.exit(2)
    if code == INTERRUPTED_EXIT:  # what was written is whole (atomic writes); a started run is recorded failed
        sys.stderr.write(f"interrupted ({_SIGNAL['name']}): what finished is kept; run the command again to do "
                         "the rest\n")
        sys.exit(TERMINATED_EXIT if _SIGNAL["name"] == "SIGTERM" else INTERRUPTED_EXIT)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(exc: Exception) -> str | None:
    """What a user is told about `exc`, or None for a bug (which keeps its traceback)."""
    if isinstance(exc, SwxError):
        return str(exc)
    from swx.pipeline.database import database_fault, database_place

    if (line := database_fault(exc)) is not None:
        try:
            return f"{line}; {database_place(get_settings())}"
        except Exception:  # noqa: BLE001 - the settings themselves are the fault: the line alone
            return line
    if isinstance(exc, MemoryError | ImportError) and not isinstance(exc, ModuleNotFoundError):
        # a memory or address-space limit (`ulimit -v`) hit, e.g. mapping torch's libraries
        what = "out of memory" if isinstance(exc, MemoryError) else f"a library could not be loaded: {exc}"
        return f"{what} (a memory or address-space limit, e.g. `ulimit -v`, or too little free memory?)"
    if isinstance(exc, OSError):
        if exc.filename is None and _writing_stdout(exc):
            return f"standard output: {exc.strerror or exc} (what swx printed is lost: write it to another file)"
        return str(exc) if str(exc) else type(exc).__name__
    return None


def _writing_stdout(exc: OSError) -> bool:
    """True when `exc` was raised writing standard output (`swx config > /dev/full`): the fault is then
    named as standard output's, and stdout swapped for the null device so that Python's flush at exit
    does not fail a second time."""
    tb, out = exc.__traceback__, sys.stdout
    while tb is not None:
        holder = tb.tb_frame.f_locals.get("self")
        if holder is out or getattr(holder, "file", None) is out:  # print() or a Rich console on stdout
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
            return True
        tb = tb.tb_next
    return False

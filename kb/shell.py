"""Commands printed for a person to paste into a shell (`kb show KEY` on a page, in a draft).

An incident id is third-party text: `x;touch${IFS}PWNED;#` pasted unquoted after `kb show`
runs `touch`. Every argument of a printed command is therefore `shlex.quote`d here (HTML
pages escape the result again, as they escape any text). An argument that a page or a
terminal cannot show faithfully (control characters, invisible format characters, lone
surrogates) gives no command at all: what a person copies would not be what runs, so the
caller says how to find the key instead (`UNSHOWABLE`).
"""

from __future__ import annotations

import shlex

# What a caller prints in place of a command it cannot show faithfully.
UNSHOWABLE = ("its id holds characters a page cannot show; `kb incidents --json` prints it, "
              "JSON-escaped")


def command_line(*argv: str) -> str | None:
    """`argv` as one POSIX shell command line (`shlex.split` gives `argv` back), or None when
    an argument is not printable text (str.isprintable: no controls, no invisible format
    characters, no surrogates) and so cannot be copied from a page or a terminal as it is."""
    if not all(arg.isprintable() for arg in argv):
        return None
    return " ".join(shlex.quote(arg) for arg in argv)


def kb_command(command: str, key: str, *options: str) -> str | None:
    """`kb COMMAND KEY [OPTIONS]` as `command_line` quotes it. A key that starts with "-"
    would be read as an option: it comes last, after "--" (`kb COMMAND [OPTIONS] -- KEY`)."""
    words = command.split()
    if key.startswith("-"):
        return command_line("kb", *words, *options, "--", key)
    return command_line("kb", *words, key, *options)

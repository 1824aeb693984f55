"""The bcdtool process: `python -m bcdtool`, and the `bcdtool` command (pyproject's script).

Start-up (issue 12): the modules a command imports (click, construct, its own stack) are some
hundred thousand objects that live until the process ends.  The cyclic garbage collector would
walk them over and over while they load, and once more at exit, freeing nothing: about a tenth
of a short command's time.  So collection waits until the command's modules are loaded; then
`cli/lazy.py` freezes what exists (`gc.freeze`: never walked again) and starts it.  Only the
process entry does this: the library, and `bcdtool.cli.main` called by a program, leave the
collector as they find it.
"""

import gc

gc.disable()

from bcdtool.cli import main  # noqa: E402

if __name__ == "__main__":
    main()

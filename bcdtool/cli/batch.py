"""`bcdtool batch MANIFEST`: prepare many images in parallel, one result line per target."""

from __future__ import annotations

import os
import sys
import time

import click

from bcdtool.cli.options import backup_dir_option, json_option
from bcdtool.cli.output import data, emit_json, info, json_line
from bcdtool.errors import EXIT_PROBLEMS, InvalidArgumentError, WriteError
from bcdtool.ops import batch as b
from bcdtool.write.fileio import READ_FLAGS, check_regular, open_append, open_error


def _done_in(output: str) -> set[str]:
    """Targets a previous run's --output reports done, read line by line (a regular file only:
    never through a link, never waiting on a FIFO)."""
    try:
        fd = os.open(output, READ_FLAGS)
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise open_error(exc, output) from None
    try:
        check_regular(fd, output)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, encoding="utf-8", errors="replace") as previous:
        return b.done_keys(previous)


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if value == "auto" or value.startswith("auto/"):
        try:
            count = int(value[5:]) if value != "auto" else None
        except ValueError:
            raise click.BadParameter("use auto or auto/N", param_hint="--shard") from None
        index, count, how = b.shard_from_environment(dict(os.environ), count)
        info(f"bcdtool: shard {index}/{count} from {how}")
        return index, count
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter("use K/N, e.g. 0/4 (K counts from 0)", param_hint="--shard") \
            from None
    return index, count


def _text_line(result) -> str:
    if result.status == "ok":
        what = f"{len(result.changes)} change(s)" if result.changes else "nothing to change"
        undo = f"; undo: bcdtool undo {' '.join(result.journal)}" if result.journal else ""
        return f"ok      {result.target}: {what} ({result.seconds:.1f} s){undo}"
    return f"FAILED  {result.target}: {result.error}"


@click.command("batch")
@click.argument("manifest", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--op", "ops", multiple=True, metavar="OP",
              help="Operation for plain target lines (repeatable, run in order): "
                   "'serial-console enable' (default), 'crashdump enable', 'linux fix', "
                   "or 'bcdedit ARGS...'.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None,
              help="Parallel worker processes (default: one per core).")
@json_option(help="One JSON line per target on stdout (schema bcdtool.batch/1), then a JSON "
                  "summary line (schema bcdtool.batch.summary/1).")
@click.option("--output", "output", default=None, metavar="FILE",
              help="Also append each target's JSON line to FILE as it finishes (for --continue).")
@click.option("--continue", "resume", is_flag=True,
              help="Skip targets that FILE (--output) already reports as done with the same ops.")
@click.option("--shard", default=None, metavar="K/N|auto[/N]",
              help="Run only every N-th target starting at the K-th (0-based; N machines); "
                   "auto: K (and N) from a Kubernetes Indexed Job, Slurm array or Azure Batch "
                   "task.")
@backup_dir_option()
@click.pass_context
def batch(ctx, manifest, ops, jobs, as_json, output, resume, shard, backup_dir) -> None:
    """Run operations on every target of MANIFEST (one TARGET or one JSON object
    {"target": ..., "ops": [...]} per line) in parallel processes.

    Exit 0 only if every target succeeded, 3 if any failed (each failure is in its line).
    """
    try:
        with click.open_file(manifest, "r", encoding="utf-8") as handle:
            text = handle.read(b.MAX_MANIFEST_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"cannot read the manifest: {exc}", path=manifest) from None
    tasks = b.parse_manifest(text, list(ops) or ["serial-console enable"])
    where = _shard(shard)
    if where is not None:
        tasks = b.shard(tasks, *where)
    if resume:
        if not output:
            raise InvalidArgumentError("--continue needs --output FILE (the previous run's output)")
        done = _done_in(output)
        skipped = [t for t in tasks if t.key in done]
        tasks = [t for t in tasks if t.key not in done]
        if skipped:
            info(f"bcdtool: skipping {len(skipped)} target(s) already done in {output}")
    # The user's file, never a link, FIFO, folder or hard-linked file (write/fileio.py).
    # One os.write per line on an O_APPEND fd: no buffer left to fail at close.
    if output:
        b.check_output(output, manifest, tasks)
    record = open_append(output, "the batch output") if output else None
    bar = None
    if sys.stderr.isatty() and tasks:
        bar = click.progressbar(length=len(tasks), label="targets", file=sys.stderr)
        bar.__enter__()

    unrecorded: list[str] = []

    def on_result(result) -> None:
        if record is not None:
            try:
                os.write(record, (json_line("batch", result.to_json()) + "\n").encode())
            except OSError as exc:
                # a full disk, a file system that refuses appends: the batch goes on (its
                # workers are mid-write), the failure is reported once it is over
                unrecorded.append(exc.strerror or str(exc))
        if bar is not None:
            bar.update(1)
        if as_json:
            emit_json("batch", result.to_json(), line=True)
        else:
            data(_text_line(result))

    started = time.monotonic()
    try:
        results = b.run_batch(tasks, jobs=jobs or os.cpu_count() or 1, backup_dir=backup_dir,
                              on_result=on_result)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if record is not None:
            os.close(record)
    total = b.summary(results, time.monotonic() - started)
    if as_json:
        emit_json("batch summary", {"summary": total}, line=True)
    else:
        data(f"{total['targets']} target(s): {total['ok']} ok, {total['failed']} failed, "
                   f"{total['changed']} changed in {total['seconds']:.1f} s")
    if unrecorded:
        raise WriteError(f"{len(unrecorded)} result(s) could not be appended to the batch output "
                         f"({unrecorded[0]}); they are on stdout, and --continue would "
                         "run those targets again", path=output)
    if total["failed"]:
        ctx.exit(EXIT_PROBLEMS)

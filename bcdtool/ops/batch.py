"""Batch recipes: one manifest of targets, each target's operations in its own worker process.

A manifest line is a TARGET (it gets the default operation) or a JSON object
`{"target": TARGET, "ops": [OP, ...]}`; blank lines and `#` comments are skipped.  A TARGET may
be a disk URL; its secret may stay out of the manifest: `{"target": "https://ACCOUNT.blob.core.
windows.net/vhds/disk.vhd", "sas_env": "DISK1_SAS"}` appends the SAS token held in environment
variable DISK1_SAS when the target runs (results and journals show the URL without it).  An OP is a
string (`"serial-console enable"`, `"crashdump enable"`, `"linux fix"`, `"bcdedit /ems {default}
on"`) or an object `{"op": NAME, ...options}`:

* `serial-console enable`: port, baud, timeout, boot_menu, bootems, keep_debug, loaders,
  partition, path (as `bcdtool serial-console enable`);
* `bcdedit`: args (a list of words, or one string split like a shell line), partition, path;
* `crashdump enable`: dump_file, ram_bytes, partition;
* `linux fix`: device, baud (the target must be a mounted root folder).

Each target runs in its own worker process (at most `jobs` at a time); a target's operations
run in order and stop at its first failure; one target's failure, or even its worker dying,
never touches another target.  Every write goes through the target layer's journaled,
verified commit, so each result names its undo journals.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from collections.abc import Callable, Iterable

from bcdtool.bcd.bcdedit import STORELESS, parse_args
from bcdtool.blockdev import openers, references
from bcdtool.errors import BcdToolError, InvalidArgumentError, UnsafePathError, from_input_failure
from bcdtool.linux.cmdline import validate_baud, validate_device
from bcdtool.ops import bcdedit as bcdedit_op, linux_fix
from bcdtool.ops.recipe import WriteOptions
from bcdtool.ops.serial_console import SerialOptions, enable
from bcdtool.ops.windows import crashdump_enable
from bcdtool.urls import is_url, redact, scrub, with_query
from bcdtool.write.fileio import identity, is_below

#: Operation names and the options each accepts, with their JSON types (checked before running).
OPS: dict[str, dict[str, type | tuple]] = {
    "serial-console enable": {"port": int, "baud": int, "timeout": int, "boot_menu": bool,
                              "bootems": bool, "keep_debug": bool, "loaders": str,
                              "partition": int, "path": str},
    "bcdedit": {"args": (str, list), "partition": int, "path": str},
    "crashdump enable": {"dump_file": str, "ram_bytes": int, "partition": int},
    "linux fix": {"device": str, "baud": int},
}
#: bcdedit commands that do not edit the target's own store (they make or read other files).
_BCDEDIT_REFUSED = {"export", "import"} | STORELESS
#: Bound on a manifest (lines and bytes): a manifest is typed or generated, never this large.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass
class Task:
    """One manifest entry: a target and the operations to run on it, in order."""

    line: int
    target: str
    ops: list[dict]
    sas_env: str | None = None     # environment variable holding the URL's SAS token

    @property
    def key(self) -> str:
        """Identity used by --continue: the target (as shown) and exactly its operations."""
        return json.dumps([redact(self.target), self.ops], sort_keys=True)

    def resolved(self) -> str:
        """The target to open: with the SAS from `sas_env` appended, when one is named."""
        if self.sas_env is None:
            return self.target
        secret = os.environ.get(self.sas_env)
        if not secret:
            raise InvalidArgumentError(f"manifest line {self.line}: environment variable "
                                       f"{self.sas_env} (sas_env) is not set or empty; export the "
                                       "SAS token there", path=self.target)
        return with_query(self.target, secret)


@dataclass
class TargetResult:
    """What happened to one target (one JSON line of `bcdtool batch`)."""

    target: str
    status: str                  # "ok" or "failed"
    changes: list[dict] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0     # CPU time of the worker for this target (user + system)
    line: int = 0
    ops: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """`{"target", "status", "changes", "journal", "error", "seconds", ...}`."""
        return dict(self.__dict__)


# -- the manifest ----------------------------------------------------------------------------------

def parse_op(op, *, where: str) -> dict:
    """Normalise one operation (string or object) to `{"op": NAME, ...options}`; refuse unknowns."""
    if isinstance(op, str):
        text = op.strip()
        if text.lower() == "bcdedit" or text.lower().startswith("bcdedit "):
            op = {"op": "bcdedit", "args": text[len("bcdedit"):].strip()}
        else:
            op = {"op": text}
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise InvalidArgumentError(f"{where}: an operation is a string or an object with \"op\"")
    name = " ".join(op["op"].lower().split())
    if name not in OPS:
        raise InvalidArgumentError(f"{where}: unknown operation {op['op']!r} (known: "
                                   + ", ".join(OPS) + ")")
    unknown = sorted(set(op) - {"op"} - set(OPS[name]))
    if unknown:
        raise InvalidArgumentError(f"{where}: {name} does not take {', '.join(unknown)}")
    for key, kind in OPS[name].items():
        value = op.get(key)
        # JSON true is a Python int too; an int option must not accept it
        if value is not None and (not isinstance(value, kind)
                                  or (kind is int and isinstance(value, bool))):
            raise InvalidArgumentError(f"{where}: {name}: {key} has the wrong type "
                                       f"({json.dumps(value)})")
    out = dict(op, op=name)
    if name == "bcdedit":
        out["args"] = _bcdedit_words(out.get("args"), where)
    if name == "serial-console enable":
        try:
            _serial_options(out)        # refuses a bad port, speed or timeout now
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{where}: {name}: {exc}") from None
    if name == "linux fix":
        try:                            # a bad port name or speed is refused before any run
            if out.get("device") is not None:
                validate_device(out["device"])
            if out.get("baud") is not None:
                validate_baud(out["baud"])
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{where}: {name}: {exc.message}") from None
    return out


def _bcdedit_words(args, where: str) -> list[str]:
    if isinstance(args, str):
        try:
            args = shlex.split(args)
        except ValueError as exc:
            raise InvalidArgumentError(f"{where}: bcdedit arguments: {exc}") from None
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise InvalidArgumentError(f"{where}: bcdedit needs its command line (\"args\")")
    try:
        cmd = parse_args(list(args))
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{where}: bcdedit {' '.join(args)}: {exc}") from None
    if cmd.name in _BCDEDIT_REFUSED or cmd.store is not None:
        raise InvalidArgumentError(f"{where}: in a batch, bcdedit edits each target's own store "
                                   f"(no /store, /createstore, /export, /import, /sysstore or /?)")
    return list(args)


def parse_manifest(text: str, default_ops: list) -> list[Task]:
    """Tasks of a manifest; any bad line refuses the whole manifest (nothing has run yet)."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise InvalidArgumentError("the manifest is implausibly large")
    default = [parse_op(op, where="--op") for op in default_ops]
    tasks = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"manifest line {number}"
        if line.startswith("{"):
            doc = _json_line(line, where)
            if not isinstance(doc, dict) or not isinstance(doc.get("target"), str) \
                    or not doc["target"]:
                raise InvalidArgumentError(f"{where}: a JSON line needs \"target\"")
            extra = sorted(set(doc) - {"target", "ops", "sas_env"})
            if extra:
                raise InvalidArgumentError(f"{where}: unknown field(s) {', '.join(extra)}")
            ops = doc.get("ops")
            if ops is None:
                ops = default
            elif not isinstance(ops, list) or not ops:
                raise InvalidArgumentError(f"{where}: \"ops\" must be a non-empty list")
            else:
                ops = [parse_op(op, where=where) for op in ops]
            tasks.append(Task(number, _target(doc["target"], where), ops,
                              _sas_env(doc, where)))
        else:
            tasks.append(Task(number, _target(line, where), default))
    return tasks


def _sas_env(doc: dict, where: str) -> str | None:
    """The `sas_env` of a JSON line: an environment variable name, for a URL target."""
    name = doc.get("sas_env")
    if name is None:
        return None
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name):
        raise InvalidArgumentError(f"{where}: \"sas_env\" must name an environment variable")
    if not is_url(doc["target"]) or "?" in doc["target"]:
        raise InvalidArgumentError(f"{where}: \"sas_env\" goes with a URL target that carries "
                                   "no query of its own")
    return name


def _json_line(line: str, where: str):
    """A manifest line's JSON document (deep nesting exhausts the parser's recursion)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgumentError(f"{where}: invalid JSON ({exc})") from None


def _target(target: str, where: str) -> str:
    """A target path or URL with no NUL or other control character (no path holds one) and
    no lone surrogate (JSON allows one; no file name can hold it)."""
    bad = next((ch for ch in target if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        raise InvalidArgumentError(f"{where}: the target contains the control character "
                                   f"{bad!r}; fix the manifest")
    try:
        os.fsencode(target)
    except UnicodeError:
        raise InvalidArgumentError(f"{where}: the target is not a valid file name "
                                   "(a lone UTF-16 surrogate); fix the manifest") from None
    return target


def shard(tasks: list[Task], index: int, count: int) -> list[Task]:
    """Every `count`-th task starting at the `index`-th (0-based), so `count` machines can share
    one manifest without coordination."""
    if count < 1 or not 0 <= index < count:
        raise InvalidArgumentError(f"--shard {index}/{count}: need 0 <= K < N")
    return tasks[index::count]


def shard_from_environment(environ: dict, count: int | None = None) -> tuple[int, int, str]:
    """(index, count, how they were found) of this worker in a job array (`--shard auto`).

    Kubernetes Indexed Job: JOB_COMPLETION_INDEX, the count given (`auto/N`) or in
    BCDTOOL_SHARD_COUNT (set it to the Job's completions).  Slurm job array:
    SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, or with SLURM_ARRAY_TASK_MIN/MAX (and STEP).
    Azure Batch: the number ending AZ_BATCH_TASK_ID (task-0, task-1, ...), count as for Kubernetes.
    """
    given = count if count is not None or not environ.get("BCDTOOL_SHARD_COUNT") \
        else _env_int(environ, "BCDTOOL_SHARD_COUNT")
    given_how = "--shard auto/N" if count is not None else "BCDTOOL_SHARD_COUNT"
    if "JOB_COMPLETION_INDEX" in environ:
        index = _env_int(environ, "JOB_COMPLETION_INDEX")
        return index, _need_count(given, "a Kubernetes Indexed Job"), \
            f"Kubernetes Indexed Job (JOB_COMPLETION_INDEX={index}, count from {given_how})"
    if "SLURM_ARRAY_TASK_ID" in environ:
        task = _env_int(environ, "SLURM_ARRAY_TASK_ID")
        step = _env_int(environ, "SLURM_ARRAY_TASK_STEP") if environ.get("SLURM_ARRAY_TASK_STEP") \
            else 1
        if "SLURM_ARRAY_TASK_MIN" in environ and "SLURM_ARRAY_TASK_MAX" in environ:
            low, high = (_env_int(environ, f"SLURM_ARRAY_TASK_{k}") for k in ("MIN", "MAX"))
            index, total = (task - low) // max(step, 1), (high - low) // max(step, 1) + 1
            how = f"SLURM_ARRAY_TASK_ID={task}, MIN={low}, MAX={high}"
        else:
            index, total = task, _env_int(environ, "SLURM_ARRAY_TASK_COUNT")
            how = f"SLURM_ARRAY_TASK_ID={task}, SLURM_ARRAY_TASK_COUNT={total}"
        if count is not None and count != total:
            raise InvalidArgumentError(f"--shard auto/{count} but the Slurm array has {total} "
                                       "tasks")
        return index, total, f"Slurm job array ({how})"
    if "AZ_BATCH_TASK_ID" in environ:
        found = re.search(r"(\d+)$", environ["AZ_BATCH_TASK_ID"])
        if not found:
            raise InvalidArgumentError("--shard auto: AZ_BATCH_TASK_ID "
                                       f"{environ['AZ_BATCH_TASK_ID']!r} does not end with a "
                                       "task number (name tasks task-0, task-1, ...)")
        index = int(found.group(1))
        task = environ["AZ_BATCH_TASK_ID"]
        return index, _need_count(given, "an Azure Batch job"), \
            f"Azure Batch task (AZ_BATCH_TASK_ID={task}, count from {given_how})"
    raise InvalidArgumentError("--shard auto found no job-array variables (JOB_COMPLETION_INDEX, "
                               "SLURM_ARRAY_TASK_ID, AZ_BATCH_TASK_ID); give --shard K/N")


def _env_int(environ: dict, name: str) -> int:
    try:
        value = int(environ.get(name, ""))
    except ValueError:
        raise InvalidArgumentError(f"--shard auto: {name} is not a number "
                                   f"({environ.get(name)!r})") from None
    if value < 0:
        raise InvalidArgumentError(f"--shard auto: {name} is negative")
    return value


def _need_count(count: int | None, runner: str) -> int:
    if count is None:
        raise InvalidArgumentError(f"--shard auto in {runner} needs the number of shards: "
                                   "--shard auto/N, or BCDTOOL_SHARD_COUNT=N")
    return count


def done_keys(previous_output: Iterable[str]) -> set[str]:
    """Keys of the targets a previous run's JSON lines report as done ("ok")."""
    done = set()
    for line in previous_output:
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            continue            # a line cut short by an interrupted run, or a summary
        if isinstance(doc, dict) and doc.get("status") == "ok" and "target" in doc:
            done.add(json.dumps([doc["target"], doc.get("ops", [])], sort_keys=True))
    return done


def check_output(output: str, manifest: str, tasks: list[Task]) -> None:
    """UnsafePathError if the batch output file is the manifest, a target's file (a hive file,
    an image) or inside a target folder: its lines would land in what the batch reads or
    writes."""
    mine = identity(output)
    if mine is not None and identity(manifest) == mine:
        raise UnsafePathError("the batch output is the manifest itself; name another file with "
                              "--output", path=output)
    for task in tasks:
        if is_url(task.target):
            continue
        if (mine is not None and identity(task.target) == mine) or (
                os.path.isdir(task.target) and is_below(output, task.target)):
            raise UnsafePathError(f"the batch output is part of the target of manifest line "
                                  f"{task.line}; name a file outside every target with --output; "
                                  "nothing was written", path=output)


def duplicates(tasks: list[Task]) -> dict[int, int]:
    """{line: first line} of tasks naming a target already named earlier (same real path)."""
    first: dict[str, int] = {}
    out = {}
    for task in tasks:
        real = redact(task.target) if is_url(task.target) else os.path.realpath(task.target)
        if real in first:
            out[task.line] = first[real]
        else:
            first[real] = task.line
    return out


# -- one target (runs in a worker process) ---------------------------------------------------------

def run_target(task: Task, backup_dir: str | None = None) -> TargetResult:
    """Run a task's operations in order; stop at the first failure; never raise."""
    started, cpu = time.monotonic(), time.process_time()
    result = TargetResult(target=redact(task.target), status="ok", line=task.line, ops=task.ops)
    try:
        target = task.resolved()
        for op in task.ops:
            changes, journal, notices = _RUNNERS[op["op"]](target, op, backup_dir)
            result.changes.extend(dict(c, op=op["op"]) for c in changes)
            if journal:
                result.journal.append(journal)
            result.notices.extend(notices)
    except BcdToolError as exc:
        result.status, result.error, result.exit_code = "failed", str(exc), exc.exit_code
    except Exception as exc:  # a bug must not stop the other targets; report it as one
        mapped = from_input_failure(exc)
        if mapped is not None:
            result.status, result.error, result.exit_code = "failed", str(mapped), mapped.exit_code
        else:
            result.status, result.exit_code = "failed", 1
            result.error = scrub(f"internal error: {type(exc).__name__}: {exc}")
    result.seconds = round(time.monotonic() - started, 3)
    result.cpu_seconds = round(time.process_time() - cpu, 3)
    return result


def _serial_options(op: dict):
    return SerialOptions(**{k: op[k] for k in ("port", "baud", "timeout", "boot_menu", "bootems",
                                               "keep_debug", "loaders") if k in op})


def _serial_console(target: str, op: dict, backup_dir):
    done = enable(target, _serial_options(op), backup_dir=backup_dir,
                  partition=op.get("partition"), path=op.get("path"))
    return done.changes, done.journal, done.notices


def _bcdedit(target: str, op: dict, backup_dir):
    done, _ = bcdedit_op.run(target, parse_args(list(op["args"])), list(op["args"]),
                                   WriteOptions(backup_dir=backup_dir),
                                   partition=op.get("partition"), path=op.get("path"))
    return done.changes, done.journal, done.notices


def _crashdump(target: str, op: dict, backup_dir):
    done = crashdump_enable(target, dump_file=op.get("dump_file"), ram_bytes=op.get("ram_bytes"),
                            backup_dir=backup_dir, partition=op.get("partition"))
    return done.changes, done.journal, done.notices


def _linux_fix(target: str, op: dict, backup_dir):
    done = linux_fix.write(linux_fix.plan(target, device=op.get("device"),
                                          baud=op.get("baud"), backend="native"),
                           WriteOptions(backup_dir=backup_dir))
    return done.changes(), done.journal, done.plan.notes


_RUNNERS: dict[str, Callable] = {"serial-console enable": _serial_console, "bcdedit": _bcdedit,
                                 "crashdump enable": _crashdump, "linux fix": _linux_fix}


# -- the whole batch -------------------------------------------------------------------------------

def run_batch(tasks: list[Task], *, jobs: int, backup_dir: str | None = None,
              on_result: Callable[[TargetResult], None]) -> list[TargetResult]:
    """Run every task in its own worker process, at most `jobs` at a time; `on_result` sees each
    result as it comes.  A worker that dies (a crash in native code, a kill) fails only its own
    task: no pool is shared, so no other target is ever interrupted."""
    results: list[TargetResult] = []

    def emit(result: TargetResult) -> None:
        results.append(result)
        on_result(result)

    twins = duplicates(tasks)
    queue = []
    for task in tasks:
        if task.line in twins:
            emit(TargetResult(redact(task.target), "failed", line=task.line, ops=task.ops,
                              exit_code=InvalidArgumentError.exit_code,
                              error=f"the same target as manifest line {twins[task.line]}; "
                                    "list each target once (put all its ops on one line)"))
        else:
            queue.append(task)
    queue.reverse()
    # forkserver: each worker is forked from a clean, single-threaded server that has already
    # imported bcdtool (cheap per target, and nothing of this process leaks into workers).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bcdtool.ops.batch"])
    running: dict = {}
    while queue or running:
        while queue and len(running) < max(1, jobs):
            task = queue.pop()
            reader, writer = context.Pipe(duplex=False)
            worker = context.Process(target=_worker, args=(task, backup_dir, dict(os.environ),
                                                           os.getcwd(), writer,
                                                           sorted(references.current().files),
                                                           openers.remote_openers(),
                                                           openers.readers()),
                                     daemon=True)
            worker.start()
            writer.close()
            running[reader] = (worker, task)
        for reader in wait(list(running)):
            worker, task = running.pop(reader)
            try:
                result = reader.recv()
            except (EOFError, OSError):
                result = None
            reader.close()
            worker.join()
            if result is None:
                result = TargetResult(redact(task.target), "failed", line=task.line, ops=task.ops,
                                      exit_code=1, error="the worker process died (exit status "
                                      f"{worker.exitcode}) while running this target")
            emit(result)
    return results


def _worker(task: Task, backup_dir: str | None, environ: dict, cwd: str, writer,
            backing_files: list[str], remote: dict, readers: dict) -> None:
    """Worker process body: the caller's environment (state folder...), working folder
    (relative targets), allowed backing files (`--backing-file`), disk-URL openers and image
    and file-system readers (blockdev.openers), one task, one result."""
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    for scheme, opener in remote.items():
        openers.register_remote((scheme,), opener)
    for name, reader in readers.items():
        openers.register_reader(name, reader)
    with references.allowed(backing_files):
        writer.send(run_target(task, backup_dir))
    writer.close()


def summary(results: list[TargetResult], seconds: float) -> dict:
    """Counts of a run, for the last line of the output."""
    return {"targets": len(results), "ok": sum(r.status == "ok" for r in results),
            "failed": sum(r.status != "ok" for r in results),
            "changed": sum(bool(r.changes) for r in results),
            "seconds": round(seconds, 3)}

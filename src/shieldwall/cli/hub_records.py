"""``shieldwall hub checkpoint|retain``: the council's checkpoints and the records' retention.

The running hub does both on its own (settings ``checkpoint_inputs`` and
``checkpoint_seconds``, treaty ``[records] retention``); these commands list, write
and verify checkpoints, and run a retention pass now, against the store of ``--data``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from shieldwall.cli.common import CLIError, console, print_json


def register(actions: Any) -> None:
    cp = actions.add_parser(
        "checkpoint",
        help="write a checkpoint of the council now, list them, or verify one against a replay",
    )
    cp.add_argument("--data", required=True, type=Path, help="data directory made by 'hub init'")
    mode = cp.add_mutually_exclusive_group()
    mode.add_argument(
        "--verify",
        action="store_true",
        help="replay the recorded inputs up to the newest checkpoint (or --seq) and compare",
    )
    mode.add_argument("--list", action="store_true", help="list the stored checkpoints")
    cp.add_argument("--seq", type=int, help="with --verify: the checkpoint at this input")
    cp.add_argument("--json", action="store_true", help="print the result as JSON")
    cp.set_defaults(func=cmd_checkpoint)

    retain = actions.add_parser(
        "retain",
        help="archive and prune the records older than the treaty's retention now",
    )
    retain.add_argument(
        "--data", required=True, type=Path, help="data directory made by 'hub init'"
    )
    retain.add_argument("--json", action="store_true", help="print the result as JSON")
    retain.set_defaults(func=cmd_retain)


def _open(data: Path) -> tuple[Any, Any]:
    """The store of ``data`` and its founding treaty; CLIError if it cannot be opened."""
    from shieldwall.core.treaty import load_treaty
    from shieldwall.hub.settings import load_settings
    from shieldwall.hub.storage import SETTINGS_FILE, open_store, store_spec

    try:
        settings = load_settings(data / SETTINGS_FILE)
        store = open_store(data, store_spec(settings.store))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    text = store.get_meta("treaty")
    if text is None:
        store.close()
        raise CLIError(f"the store of {str(data)!r} has no treaty: run 'hub init' first")
    return store, load_treaty(text, "stored treaty")


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from shieldwall.hub import archive, checkpoints, upkeep

    if args.seq is not None and not args.verify:
        raise CLIError("--seq selects the checkpoint to verify: use it with --verify")
    store, founding = _open(args.data)
    try:
        if args.list:
            rows = store.checkpoints()
            if args.json:
                print_json({"checkpoints": [vars(r) for r in rows]})
            else:
                out = console()
                for r in rows:
                    out.print(
                        f"input {r.seq}: format {r.format}, {r.treaty_label}, {r.size} bytes, "
                        f"digest {r.digest[:16]}…, written {time.ctime(r.written_at)}"
                    )
                if not rows:
                    out.print("no checkpoints yet")
            return 0
        if args.verify:
            try:
                archives = Path(args.data) / archive.DIRECTORY
                verdict = checkpoints.verify(store, founding, args.seq, archives)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
            if args.json:
                print_json({**vars(verdict), "ok": verdict.ok})
            elif verdict.ok:
                console().print(
                    f"[bold green]checkpoint at input {verdict.seq} matches a full replay[/] "
                    f"(digest {verdict.stored})"
                )
            else:
                why = "does not load" if not verdict.loads else "differs from a full replay"
                console().print(
                    f"[bold red]checkpoint at input {verdict.seq} {why}[/]: stored "
                    f"{verdict.stored}, replay {verdict.replayed}"
                )
            return 0 if verdict.ok else 1
        upto = store.last_input_seq()
        try:
            archives = Path(args.data) / archive.DIRECTORY
            built = checkpoints.build(store, founding, upto, time.time(), archives)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        try:
            upkeep.store_built(store, built)
        except Exception as exc:  # the store's refusal (the fence), as one line
            raise CLIError(
                f"the store refused the checkpoint ({str(exc).splitlines()[0]}): on "
                "PostgreSQL the leading hub node writes checkpoints itself"
            ) from None
        if args.json:
            print_json({**vars(built.row), "replayed": built.replayed, "seconds": built.seconds})
        else:
            console().print(
                f"checkpoint at input {upto} written ({built.row.size} bytes, "
                f"{built.replayed} inputs replayed in {built.seconds:.2f}s)"
            )
        return 0
    finally:
        store.close()


def cmd_retain(args: argparse.Namespace) -> int:
    from shieldwall.hub import archive, upkeep

    store, _ = _open(args.data)
    try:
        from shieldwall.hub.secretariat import Secretariat

        treaty = Secretariat(store, time.time).treaty  # the treaty in force, as amended
        done = upkeep.retain(store, treaty, args.data / archive.DIRECTORY, time.time())
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    finally:
        store.close()
    result: dict[str, Any] = {
        "archives": [str(p.path) for p in done],
        "inputs": sum(p.pruned_inputs for p in done),
        "events": sum(p.pruned_events for p in done),
    }
    if args.json:
        print_json(result)
    elif not done:
        console().print("nothing to prune: no records older than the retention are covered yet")
    else:
        console().print(
            f"archived {result['inputs']} inputs and {result['events']} events to "
            f"{len(done)} file(s) in {args.data / archive.DIRECTORY} and pruned them"
        )
    return 0

"""``playalter worker``: run queued items from the shared Postgres database (``database.url``).

Start one per GPU (``--device cuda:N``) or per machine; it takes items from the queue ``--concurrency`` at a
time, keeps its models loaded between items, and stops after its current items on SIGTERM/SIGINT. Results go
to ``<paths.data_dir>/jobs``, which must be the folder the API replicas read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

EXIT_NOT_CONFIGURED = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("worker", help="run queued items (needs a postgresql:// database.url)")
    parser.add_argument("--concurrency", type=int, default=1, help="items run at once (default 1)")
    parser.add_argument("--device", default="",
                        help="cuda:N to use only that GPU, cpu to use none (default: what onnxruntime finds)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.device:
        if args.device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        elif args.device.startswith("cuda:") and args.device[5:].isdigit():
            os.environ["CUDA_VISIBLE_DEVICES"] = args.device[5:]
        else:
            sys.stderr.write("error: --device must be cpu or cuda:N\n")
            return EXIT_NOT_CONFIGURED
    if args.concurrency < 1:
        sys.stderr.write("error: --concurrency must be at least 1\n")
        return EXIT_NOT_CONFIGURED
    from ....pipelines.core.config import settings
    from ..extras import require

    current = settings()
    if not current.database.url:
        sys.stderr.write("error: a worker needs a shared database: set PLAYALTER__DATABASE__URL=postgresql://...\n")
        return EXIT_NOT_CONFIGURED
    require("server")
    require("scale")
    from ...server.jobs.queue.worker import run_worker

    logging.basicConfig(level=current.logging.level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(current, args.concurrency))
    return 0

"""Jobs and their items: stored, dispatched to the worker pool or the queue, run, followed."""

"""The workflow engine: read, convert, validate, bind and execute saved workflows, here or on a ComfyUI server."""

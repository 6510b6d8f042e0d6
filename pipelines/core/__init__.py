"""What every part of the engine stands on: errors, settings, logging, the user's folders."""

"""Ctrl-C in a command: one line saying how to go on, at once, even inside FFTW's planner.

Python runs a SIGINT handler only between bytecodes of the main thread, so a
KeyboardInterrupt waits for a long FFTW plan (pyFFTW plans without the GIL) and
then prints a 40-line traceback. Here the signal's byte goes to a pipe
(signal.set_wakeup_fd), a watcher thread reads it, prints the line and ends the
process with status 130. Nothing is lost that was stored: each record is
fsync'd when written, and a rerun resumes; the kernel releases every lock.
"""
from __future__ import annotations

import os
import signal
import sys
import threading


def exit_on_interrupt(line: str) -> None:
    """From now on SIGINT prints `line` on stderr and ends this process (main thread only)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.signal(signal.SIGINT, lambda number, frame: None)  # the watcher acts; the main thread goes on
    signal.set_wakeup_fd(write_end)

    def watch():
        while os.read(read_end, 1) != bytes([signal.SIGINT]):
            pass
        sys.stderr.write(line.rstrip("\n") + "\n")
        sys.stderr.flush()
        os._exit(130)

    threading.Thread(target=watch, name="convbench-interrupt", daemon=True).start()

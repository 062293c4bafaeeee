"""Reading a page's text with the Tesseract command (``tesseract-ocr`` with ``-deu`` and
``-eng``). Each page is one process with one thread, fed the PNG on stdin, so a slow or
crashing page never blocks the hub's event loop nor takes the hub down with it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess


class OcrFailed(Exception):
    pass


def ocr_unavailable(command: str, languages: str) -> str | None:
    """Why OCR cannot run here (no Tesseract, a language missing), or None if it can."""
    path = shutil.which(command)
    if path is None:
        return f"OCR off: {command} not found (install tesseract-ocr with the deu and eng data)"
    try:
        listed = subprocess.run(
            [path, "--list-langs"], capture_output=True, text=True, timeout=20, check=False
        ).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"OCR off: {command} does not run ({exc})"
    missing = [lang for lang in languages.split("+") if lang not in listed]
    if missing:
        return f"OCR off: Tesseract has no {', '.join(missing)} data (install tesseract-ocr-{missing[0]})"
    return None


async def read_page(png: bytes, *, command: str, languages: str, limit_s: float) -> str:
    """The text Tesseract reads on one page image. Raises OcrFailed."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one core per page: the hub shares the machine
    try:
        proc = await asyncio.create_subprocess_exec(
            command,
            "stdin",
            "stdout",
            "-l",
            languages,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise OcrFailed(f"{command} does not start: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(png), limit_s)
    except BaseException as exc:  # a timeout, or the hub stopping: the process goes too
        if proc.returncode is None:
            proc.kill()
            await asyncio.shield(proc.wait())
        if isinstance(exc, TimeoutError):
            raise OcrFailed(f"Tesseract took longer than {limit_s:.0f} s") from exc
        raise
    if proc.returncode != 0:
        raise OcrFailed(f"Tesseract failed ({proc.returncode}): {err.decode(errors='replace')[-300:]}")
    return out.decode("utf-8", errors="replace")

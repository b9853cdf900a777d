"""The Fyers F&O symbol masters (NSE_FO.csv, BSE_FO.csv): read them from files or URLs, or synthesize one."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, timedelta
from urllib.parse import urlsplit

import requests

from app.adapters.fyers_master_csv import master_of, read_rows
from app.adapters.nse_holidays import nse_holidays
from app.adapters.synthetic_master import synthetic_master_csv
from app.domain.contracts import SymbolMaster

__all__ = ["SYNTHETIC", "load_symbol_master", "parse_master_csv", "synthetic_master_csv"]

SYNTHETIC = "synthetic"


def parse_master_csv(lines: Iterable[str], *, exchange: str | None = None) -> SymbolMaster:
    """Build a SymbolMaster from the option rows of a Fyers F&O master; malformed rows are skipped.

    With `exchange` ("NSE" or "BSE") the file must be that exchange's master. A file that cannot
    be a Fyers F&O master is refused with a ValueError saying why.
    """
    return master_of([read_rows(lines, exchange)])


def load_symbol_master(source: str, *, today: date, timeout: float = 30.0) -> SymbolMaster:
    """Load the master from "synthetic", or one or more comma-separated http(s) URLs or file paths."""
    if not source or not source.strip():
        raise ValueError("symbol master source is empty: give a URL, a file path or 'synthetic'")
    sources = [part.strip() for part in source.split(",")]
    if not all(sources):
        raise ValueError(f"symbol master source {source!r} has an empty entry between its commas")
    files = []
    for one in sources:
        if one.lower() == SYNTHETIC:
            # The synthetic master must skip holidays the way the exchange does; listing runs ~3 months ahead.
            holidays = nse_holidays(today, today + timedelta(days=120))
            for exchange in ("NSE", "BSE"):
                files.append(read_rows(synthetic_master_csv(today, holidays, exchange).splitlines(), exchange))
            continue
        lines = _download(one, timeout) if one.lower().startswith(("http://", "https://")) else _read_file(one)
        try:
            files.append(read_rows(lines, _exchange_named_in(one)))
        except ValueError as exc:
            raise ValueError(f"symbol master {_where(one)} is not usable: {exc}") from exc
    return master_of(files)


def _exchange_named_in(source: str) -> str | None:
    """NSE or BSE when the file's name says which master it is (NSE_FO.csv, BSE_FO.csv)."""
    name = os.path.basename(urlsplit(source).path if "://" in source else source).upper()
    for exchange in ("NSE", "BSE"):
        if f"{exchange}_FO" in name:
            return exchange
    return None


def _where(source: str) -> str:
    # A URL may carry credentials in its query; name only where it points.
    return source.split("?", 1)[0]


def _download(url: str, timeout: float) -> list[str]:
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise OSError(f"could not download the symbol master from {url}: {exc}") from exc
    # Decode ourselves: requests would guess the charset of ~10 MB of ASCII, slowly.
    return response.content.decode("utf-8-sig", errors="replace").splitlines()


def _read_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as master_file:
            return master_file.read().splitlines()
    except OSError as exc:
        raise OSError(f"could not read the symbol master file {path}: {exc.strerror or exc}") from exc

"""smartctl JSON and exit status in, one ``SmartRecord`` out. Pure; never raises.

The exit status is a bit mask (smartctl(8) "RETURN VALUES") and is decoded whole:
bits 0-2 say the reading is unusable, bits 3-7 are health signals that come *with* a
good reading. A disk answered in standby (our ``-n standby,3``, or a plain ``-n standby``
that exits 2) is ``STANDBY``, never a failure, and never carries ``smart_passed``.

Protocol-specific tables live in ``ata.py``, ``nvme.py`` and ``scsi.py``, as in smartmontools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..model import DiskRef, ExitStatus, Identity, Protocol, ReadState, SmartRecord
from .ata import ata_wwn, parse_attributes
from .command import STANDBY_EXIT
from .nvme import parse_nvme
from .scsi import parse_scsi, scsi_firmware, scsi_model, scsi_wwn
from .values import as_bool, as_dict, as_int, as_list, as_str

if TYPE_CHECKING:  # runner does I/O; the parser only needs its result's shape
    from .runner import RunResult

__all__ = [
    "ParseError",
    "STANDBY_EXIT",
    "SUPPORTED_JSON_MAJOR",
    "build_record",
    "check_format",
    "load_json",
    "parse_output",
    "parse_result",
    "parse_version",
]

SUPPORTED_JSON_MAJOR = 1

# "Device is in STANDBY mode, exit(3)", "SLEEP", "IDLE", "STANDBY BY COMMAND",
# "/dev/sda: Device is in STANDBY (OS) mode" (7.5, Linux runtime PM), SCSI "IDLE_B".
# Never "ACTIVE or IDLE": the match must start right after "in ".
_STANDBY_MESSAGE = re.compile(r"Device is in ((?:STANDBY|SLEEP|IDLE)[^,\n]*?) mode")
_ACCESS_DENIED = re.compile(
    r"Permission denied|Operation not permitted|Access is denied|\bError=5\b|\bE(?:ACCES|PERM)\b",
    re.IGNORECASE,
)
_NO_POWER_CHECK = "CHECK POWER MODE not implemented"
_MAX_ERROR = 300


class ParseError(ValueError):
    """smartctl's output cannot be read as smartctl JSON."""


# ---------------------------------------------------------------------------
# Public entry points


def parse_result(result: RunResult, device: DiskRef) -> SmartRecord:
    """A finished (or abandoned) smartctl run as a record; process failures first."""
    stderr = _one_line(result.stderr or "")
    if result.timed_out:
        return SmartRecord(
            device,
            ReadState.TIMEOUT,
            error=f"smartctl did not finish within {result.duration:.0f} s and was killed",
        )
    if result.not_found:
        argv0 = result.argv[0] if result.argv else "smartctl"
        return SmartRecord(device, ReadState.NO_SMARTCTL, error=stderr or f"{argv0}: not found")
    if result.permission_denied:
        return SmartRecord(
            device,
            ReadState.PERMISSION_DENIED,
            error=stderr or "not allowed to run smartctl",
        )
    record = parse_output(result.stdout, result.returncode, device)
    if record.state is ReadState.BAD_OUTPUT and stderr:
        record = replace(record, error=_one_line(f"{record.error}; stderr: {stderr}"))
    return record


def parse_output(stdout: str, exit_code: int | None, device: DiskRef) -> SmartRecord:
    """Decode one ``smartctl --json`` run. Never raises: unreadable output is BAD_OUTPUT.

    ``exit_code`` is the process's exit status; None means "not known", and then the
    ``smartctl.exit_status`` recorded inside the JSON is used.
    """
    if exit_code is not None and not 0 <= exit_code <= 255:
        return _bad_output(
            device,
            exit_code,
            f"smartctl ended with status {exit_code}"
            + (f" (killed by signal {-exit_code})" if exit_code < 0 else ""),
        )
    try:
        return build_record(load_json(stdout), exit_code, device)
    except ParseError as exc:
        return _bad_output(device, exit_code, str(exc))
    except Exception as exc:  # the daemon must survive any input
        return _bad_output(device, exit_code, f"internal parser error: {type(exc).__name__}: {exc}")


def load_json(stdout: str | bytes | None) -> dict[str, Any]:
    """The top-level JSON object, parsed once; ParseError for anything else."""
    if not isinstance(stdout, (str, bytes, bytearray)) or not stdout.strip():
        raise ParseError("smartctl printed nothing on stdout")
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"smartctl output is not valid JSON ({exc.msg} at char {exc.pos} of {len(stdout)});"
            " truncated, or not run with --json"
        ) from None
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ParseError(f"smartctl output is not usable JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ParseError(f"smartctl output is a JSON {type(doc).__name__}, not an object")
    return doc


def check_format(doc: Mapping[str, Any]) -> None:
    """Refuse JSON whose ``json_format_version`` major we do not know.

    A missing version is tolerated only when the document still looks like smartctl's
    (a ``smartctl`` or ``device`` object): third-party tools keep trimmed copies.
    """
    version = doc.get("json_format_version")
    if version is None:
        if isinstance(doc.get("smartctl"), dict) or isinstance(doc.get("device"), dict):
            return
        raise ParseError("not smartctl JSON: no json_format_version, smartctl or device key")
    major = as_int(version[0]) if isinstance(version, list) and version else None
    if major is None:
        raise ParseError(f"json_format_version {_short(version)} is not [major, minor]")
    if major != SUPPORTED_JSON_MAJOR:
        minor = as_int(version[1]) if len(version) > 1 else None
        shown = f"{major}.{minor}" if minor is not None else str(major)
        raise ParseError(
            f"unsupported smartctl json_format_version {shown}"
            f" (this parser reads {SUPPORTED_JSON_MAJOR}.x, from smartctl 7.0 on)"
        )


def parse_version(stdout: str) -> tuple[int, ...]:
    """smartctl's version from ``--json=c --version`` (or the text banner of an old one)."""
    try:
        meta = as_dict(load_json(stdout).get("smartctl"))
        parts = tuple(as_int(p) for p in as_list(meta.get("version")))
        if len(parts) >= 2 and all(p is not None for p in parts):
            return parts  # type: ignore[return-value]
    except ParseError:
        pass
    text = stdout if isinstance(stdout, str) else ""
    match = re.search(r"smartctl (\d{1,4})\.(\d{1,4})", text)
    if match:
        return (int(match.group(1)), int(match.group(2)))
    raise ParseError("no smartctl version in the output of --version")


# ---------------------------------------------------------------------------
# The record


def build_record(doc: Mapping[str, Any], exit_code: int | None, device: DiskRef) -> SmartRecord:
    """The record for an already-loaded document. Raises only ParseError."""
    check_format(doc)
    meta = as_dict(doc.get("smartctl"))
    raw_messages = _messages(meta)
    messages = tuple(text for text, _ in raw_messages)

    code = exit_code if exit_code is not None else as_int(meta.get("exit_status"))
    if code is None:
        code = 0
    if not 0 <= code <= 255:
        raise ParseError(f"smartctl exit status {code} is not an exit mask")
    status = ExitStatus(code)

    power_mode = as_str(as_dict(doc.get("power_mode")).get("name"))
    standby_mode = _standby_mode(messages)
    common = {
        "device": device,
        "exit_status": status,
        "messages": messages,
        "identity": _identity(doc, device),
        "smartctl_version": _version_text(meta),
        "smart_enabled": _smart_enabled(doc),
    }

    low_power = standby_mode is not None or (
        power_mode is not None and not power_mode.upper().startswith("ACTIVE")
    )
    if low_power and status.open_failed:  # exit STANDBY_EXIT (ours) or 2 (plain -n standby)
        return SmartRecord(
            state=ReadState.STANDBY,
            power_mode=power_mode or standby_mode,
            power_check_supported=True,
            **common,
        )

    if any(_NO_POWER_CHECK in m for m in messages):
        power_check_supported: bool | None = False
    else:
        power_check_supported = True if power_mode else None
    common["power_mode"] = power_mode
    common["power_check_supported"] = power_check_supported

    if status.bad_command_line:
        return SmartRecord(
            state=ReadState.BAD_COMMAND_LINE,
            error=_error_line(raw_messages, f"smartctl rejected its command line (exit {code})"),
            **common,
        )
    if status.open_failed:
        denied = any(_ACCESS_DENIED.search(m) for m in messages)
        return SmartRecord(
            state=ReadState.PERMISSION_DENIED if denied else ReadState.OPEN_FAILED,
            error=_error_line(raw_messages, f"smartctl could not open {device.path} (exit {code})"),
            **common,
        )

    attributes = parse_attributes(doc)
    nvme = parse_nvme(doc)
    scsi = parse_scsi(doc)
    smart_passed = as_bool(as_dict(doc.get("smart_status")).get("passed"))
    no_smart = common["smart_enabled"] is False and common["identity"] is not None
    if status.command_failed and not (
        smart_passed is not None or attributes or nvme is not None or scsi is not None
        or no_smart
    ):
        return SmartRecord(
            state=ReadState.COMMAND_FAILED,
            error=_error_line(
                raw_messages,
                f"a SMART command failed and smartctl returned no SMART data (exit {code})",
            ),
            **common,
        )

    temperature = as_int(as_dict(doc.get("temperature")).get("current"))
    power_on_hours = as_int(as_dict(doc.get("power_on_time")).get("hours"))
    power_cycles = as_int(doc.get("power_cycle_count"))
    if nvme is not None:
        temperature = nvme.temperature if temperature is None else temperature
        power_on_hours = nvme.power_on_hours if power_on_hours is None else power_on_hours
        power_cycles = nvme.power_cycles if power_cycles is None else power_cycles
    if power_cycles is None and scsi is not None:
        power_cycles = scsi.start_stop_cycles

    return SmartRecord(
        state=ReadState.OK,
        smart_passed=smart_passed,
        temperature=temperature,
        power_on_hours=power_on_hours,
        power_cycle_count=power_cycles,
        attributes=attributes,
        nvme=nvme,
        scsi=scsi,
        **common,
    )


# ---------------------------------------------------------------------------
# Pieces


_PROTOCOLS = {"ATA": Protocol.ATA, "NVME": Protocol.NVME, "SCSI": Protocol.SCSI}
_TYPE_PROTOCOLS = (
    (("nvme", "snt"), Protocol.NVME),
    (("sat", "ata", "usb", "3ware", "areca", "marvell", "hpt", "jm"), Protocol.ATA),
    (("scsi", "megaraid", "cciss", "aacraid"), Protocol.SCSI),
)


def _protocol(doc: Mapping[str, Any], device: DiskRef) -> Protocol:
    """``device.protocol`` as smartctl said; else guessed from ``-d TYPE``, then from keys."""
    named = as_str(as_dict(doc.get("device")).get("protocol"))
    if named and named.upper() in _PROTOCOLS:
        return _PROTOCOLS[named.upper()]
    base = (device.dev_type or "").split("+", 1)[0].lower()
    for prefixes, protocol in _TYPE_PROTOCOLS:
        if base.startswith(prefixes):
            return protocol
    if "ata_smart_attributes" in doc:
        return Protocol.ATA
    if "nvme_smart_health_information_log" in doc:
        return Protocol.NVME
    if "scsi_error_counter_log" in doc or "scsi_grown_defect_list" in doc:
        return Protocol.SCSI
    return Protocol.UNKNOWN


def _identity(doc: Mapping[str, Any], device: DiskRef) -> Identity | None:
    """What the disk is; None when smartctl said nothing that identifies it."""
    model = as_str(doc.get("model_name")) or scsi_model(doc)
    serial = as_str(doc.get("serial_number"))
    wwn = ata_wwn(doc) or scsi_wwn(doc)
    firmware = as_str(doc.get("firmware_version")) or scsi_firmware(doc)
    capacity = as_int(as_dict(doc.get("user_capacity")).get("bytes"))
    if capacity is None:
        capacity = as_int(doc.get("nvme_total_capacity"))
    if model is None and serial is None and wwn is None and firmware is None and capacity is None:
        return None
    return Identity(
        model=model,
        serial=serial,
        wwn=wwn,
        firmware=firmware,
        capacity_bytes=capacity,
        rotation_rate=as_int(doc.get("rotation_rate")),
        protocol=_protocol(doc, device),
        form_factor=as_str(as_dict(doc.get("form_factor")).get("name")),
    )


def _smart_enabled(doc: Mapping[str, Any]) -> bool | None:
    """``smart_support`` {available, enabled} as one answer: can SMART be read at all?"""
    support = as_dict(doc.get("smart_support"))
    available, enabled = as_bool(support.get("available")), as_bool(support.get("enabled"))
    if available is False or enabled is False:
        return False
    return True if available and enabled else None


def _messages(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """smartctl's ``messages[]`` as (text, severity) pairs."""
    out: list[tuple[str, str]] = []
    for item in as_list(meta.get("messages")):
        item = as_dict(item)
        text = as_str(item.get("string"))
        if text:
            out.append((text, as_str(item.get("severity")) or ""))
    return out


def _standby_mode(messages: tuple[str, ...]) -> str | None:
    for text in messages:
        match = _STANDBY_MESSAGE.search(text)
        if match:
            return match.group(1)
    return None


def _version_text(meta: Mapping[str, Any]) -> str | None:
    parts = [as_int(p) for p in as_list(meta.get("version"))[:3]]
    if not parts or any(p is None for p in parts):
        return None
    return ".".join(str(p) for p in parts)


def _error_line(messages: list[tuple[str, str]], default: str) -> str:
    """The first error-severity message (else the first message, else ``default``)."""
    for text, severity in messages:
        if severity == "error":
            return _one_line(text)
    return _one_line(messages[0][0]) if messages else default


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 1] + "…"


def _short(value: object) -> str:
    return _one_line(repr(value))[:60]


def _bad_output(device: DiskRef, exit_code: int | None, error: str) -> SmartRecord:
    code = exit_code if exit_code is not None and 0 <= exit_code <= 255 else 0
    return SmartRecord(
        device, ReadState.BAD_OUTPUT, exit_status=ExitStatus(code), error=_one_line(error)
    )

"""The OpenAPI 3.1 document of the REST API, served at ``/api/openapi.json``.

Written as data next to the handlers (``api.py``); the tests validate it with
openapi-spec-validator and check live responses against its schemas, so the document
cannot drift from what the server answers.
"""

from __future__ import annotations

import copy
from typing import Any

from maid_smart_monitor import __version__
from maid_smart_monitor.web.fleet import POWER_STATES, STATE_DOC, STATES


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    out = dict(schema)
    out["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601"}
_REF = "#/components/schemas/"


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any
         ) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required, **extra}


def _param(name: str, where: str, schema: dict[str, Any], doc: str, required: bool = False
           ) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": doc}


def _json(ref: str, doc: str) -> dict[str, Any]:
    return {"description": doc,
            "content": {"application/json": {"schema": {"$ref": _REF + ref}}}}


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "503": {"$ref": "#/components/responses/Unavailable"},
}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": {**_STR, "description": "what is wrong, for people"},
         "status": _INT,
         "parameter": {**_STR, "description": "the offending parameter, when one is"}},
        ["error", "status"],
    ),
    "LastCheck": _obj({
        "result": {**_STR, "description": "read, woken, skipped-standby, skipped-idle, "
                   "skipped-unmounted, skipped-suspended or error"},
        "at": _nullable(_TIME),
        "reason": _nullable(_STR),
    }),
    "Disk": _obj({
        "disk_id": {**_STR, "description": "wwn-0x... when the disk has a WWN, else "
                    "model_serial: stable across /dev renames"},
        "device": {**_STR, "description": "current /dev name (the seed's device)"},
        "dev_type": _nullable(_STR),
        "model": _nullable(_STR),
        "serial": _nullable(_STR),
        "wwn": _nullable(_STR),
        "firmware": _nullable(_STR),
        "protocol": _nullable(_STR),
        "capacity_bytes": _nullable(_INT),
        "rotation_rate": _nullable({**_INT, "description": "rpm; 0 = solid state"}),
        "state": {"type": "string", "enum": list(STATES),
                  "description": "; ".join(f"{k}: {v}" for k, v in STATE_DOC.items())},
        "power_state": {"type": "string", "enum": list(POWER_STATES),
                        "description": "from the last check, known without waking the disk"},
        "smart_passed": _nullable({"type": "boolean"}),
        "temperature": _nullable(_INT),
        "power_on_hours": _nullable(_INT),
        "power_cycle_count": _nullable(_INT),
        "first_seen": _TIME,
        "last_read": _nullable(_TIME),
        "reading_age_seconds": _nullable({**_NUM, "description": "age of every value shown"}),
        "last_check": {"oneOf": [{"$ref": _REF + "LastCheck"}, {"type": "null"}]},
        "open_alerts": _obj({"warning": _INT, "critical": _INT}),
        "deliberate_wakes": {**_INT, "description": "spin-ups the monitor caused on purpose"},
    }),
    "DiskPage": _obj({
        "total": {**_INT, "description": "disks matching the filters"},
        "count": _INT, "limit": _INT, "offset": _INT,
        "items": {"type": "array", "items": {"$ref": _REF + "Disk"}},
    }),
    "Attribute": _obj({
        "id": _INT, "name": _STR, "value": _nullable(_INT), "worst": _nullable(_INT),
        "thresh": _nullable(_INT), "raw_value": _INT, "raw_string": _STR,
        "when_failed": _nullable({"type": "string", "enum": ["now", "past"]}),
        "criticality": _nullable({"type": "string", "enum": ["critical", "warning", "info"]}),
    }),
    "Risk": _obj({"afr_percent": _NUM, "basis": _STR, "attribute_id": _nullable(_INT),
                  "raw_value": _nullable(_INT)}),
    "DiskDetail": {
        "allOf": [
            {"$ref": _REF + "Disk"},
            _obj({
                "attributes": {"type": "array", "items": {"$ref": _REF + "Attribute"}},
                "nvme": _nullable({"type": "object",
                                   "additionalProperties": _nullable(_INT)}),
                "scsi": _nullable({"type": "object",
                                   "additionalProperties": _nullable(_INT)}),
                "risk": {"oneOf": [{"$ref": _REF + "Risk"}, {"type": "null"}]},
                "alerts": {"type": "array", "items": {"$ref": _REF + "Alert"}},
                "metrics": {"type": "array", "items": _STR,
                            "description": "metric names with data, for /history"},
            }),
        ]
    },
    "Point": _obj({
        "t": {**_TIME, "description": "mean time of the readings in the bucket"},
        "v": {**_NUM, "description": "mean value"},
        "min": _NUM, "max": _NUM,
        "n": {**_INT, "description": "readings in the bucket (1: an exact reading)"},
    }),
    "History": _obj({
        "disk_id": _STR, "metric": _STR, "since": _TIME, "until": _TIME,
        "bucket_seconds": _INT,
        "downsampled": {"type": "boolean"},
        "count": {**_INT, "description": "readings in the range"},
        "points": {"type": "array", "items": {"$ref": _REF + "Point"}},
    }),
    "Alert": _obj({
        "id": _INT, "disk_id": _STR, "device": _STR,
        "rule_id": {**_STR, "description": "the health rule (one open alert per disk and rule)"},
        "severity": {"type": "string", "enum": ["warning", "critical"]},
        "message": _STR, "value": _nullable(_NUM),
        "first_seen": _TIME, "last_seen": _TIME,
        "resolved": {"type": "boolean"}, "resolved_at": _nullable(_TIME),
        "acknowledged": {"type": "boolean"}, "ack_note": _nullable(_STR),
        "notify_count": _INT, "last_notified": _nullable(_TIME),
    }),
    "AlertPage": _obj({
        "total": _INT, "count": _INT, "limit": _INT, "offset": _INT,
        "state": {"type": "string", "enum": ["open", "resolved", "all"]},
        "items": {"type": "array", "items": {"$ref": _REF + "Alert"}},
    }),
    "Ack": _obj({"note": {**_STR, "minLength": 1, "maxLength": 1000,
                          "description": "who acknowledges, and why"}}),
    "Health": _obj({
        "status": {"type": "string", "enum": ["ok", "warning", "critical"]},
        "generated_at": _TIME,
        "total_devices": _INT,
        "devices_with_alerts": _INT,
        "alerts_by_device": {"type": "array",
                             "items": _obj({"device": _STR, "alerts": _INT})},
        "states": _obj({s: _INT for s in STATES}),
        "power_states": _obj({s: _INT for s in POWER_STATES}),
        "open_alerts": _obj({"warning": _INT, "critical": _INT}),
        "deliberate_wakes": _INT,
        "unidentified_devices": {**_INT, "description": "devices checked but never read "
                                 "with a serial or WWN"},
        "stale_after_seconds": _NUM,
        "last_cycle": {"oneOf": [
            _obj({"id": _INT, "started": _TIME, "finished": _TIME,
                  "duration_seconds": _NUM,
                  "checks": {"type": "object", "additionalProperties": _INT}}),
            {"type": "null"},
        ]},
    }),
}

_LIMIT_OFFSET = [
    _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0},
           "items to skip"),
]
_TIME_PARAM = {"type": "string",
               "description": "ISO 8601 (2025-01-31T12:00:00Z; no offset = UTC), epoch "
                              "seconds, or a duration ago (7d, 12h, 90m, 1y)"}


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict: callers may change it)."""
    disk_id = _param("disk_id", "path", _STR, "the disk's id (Disk.disk_id)")
    alert_id = _param("alert_id", "path", {"type": "integer", "minimum": 1}, "alert id")
    not_found = {"$ref": "#/components/responses/NotFound"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "maid-smart-monitor",
            "version": __version__,
            "description": (
                "SMART health of a MAID fleet, read without waking sleeping disks. "
                "Reads need no authentication (bind to localhost or put a proxy in "
                "front); writes need `Authorization: Bearer <[web] token>` and are "
                "refused (403) when no token is configured. Values are the newest good "
                "reading's: `reading_age_seconds` says how old."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/health": {"get": {
                "operationId": "health", "summary": "Fleet summary (the seed's endpoint)",
                "responses": {"200": _json("Health", "fleet summary"), **_ERRORS},
            }},
            "/api/disks": {"get": {
                "operationId": "listDisks", "summary": "Disks with state, power and age",
                "parameters": [
                    _param("state", "query", _STR,
                           "comma-separated states to keep: " + ", ".join(STATES)),
                    _param("power", "query", _STR,
                           "comma-separated power states to keep: " + ", ".join(POWER_STATES)),
                    _param("q", "query", _STR,
                           "substring of device, model, serial, WWN or disk id"),
                    _param("sort", "query",
                           {"type": "string", "default": "device",
                            "enum": ["device", "state", "temperature", "reading_age",
                                     "alerts", "model"]}, "sort key"),
                    _param("order", "query", {"type": "string", "enum": ["asc", "desc"],
                                              "default": "asc"}, "sort order"),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 5000, "default": 100}, "page size"),
                    *_LIMIT_OFFSET,
                ],
                "responses": {"200": _json("DiskPage", "one page of disks"), **_ERRORS},
            }},
            "/api/disks/{disk_id}": {"get": {
                "operationId": "getDisk",
                "summary": "One disk with its newest attributes, health logs, risk, alerts",
                "parameters": [disk_id],
                "responses": {"200": _json("DiskDetail", "the disk"), "404": not_found,
                              **_ERRORS},
            }},
            "/api/disks/{disk_id}/history": {"get": {
                "operationId": "getHistory",
                "summary": "A metric over time, downsampled to at most `points` buckets",
                "parameters": [
                    disk_id,
                    _param("metric", "query", {"type": "string", "default": "temperature"},
                           "temperature, power_on_hours, power_cycle_count, attr:<id> "
                           "(raw value, e.g. attr:197), nvme.<field> (nvme.media_errors) "
                           "or scsi.<field> (scsi.grown_defects)"),
                    _param("since", "query", _TIME_PARAM, "start (default: until - 30d)"),
                    _param("until", "query", _TIME_PARAM, "end (default: now)"),
                    _param("points", "query", {"type": "integer", "minimum": 1,
                                               "maximum": 5000, "default": 500},
                           "most buckets to return"),
                ],
                "responses": {"200": _json("History", "the series"), "404": not_found,
                              **_ERRORS},
            }},
            "/api/alerts": {"get": {
                "operationId": "listAlerts", "summary": "Alerts, newest first",
                "parameters": [
                    _param("state", "query", {"type": "string", "default": "open",
                                              "enum": ["open", "resolved", "all"]},
                           "which alerts"),
                    _param("disk_id", "query", _STR, "only this disk's alerts"),
                    _param("limit", "query", {"type": "integer", "minimum": 1,
                                              "maximum": 1000, "default": 100}, "page size"),
                    *_LIMIT_OFFSET,
                ],
                "responses": {"200": _json("AlertPage", "one page of alerts"), **_ERRORS},
            }},
            "/api/alerts/{alert_id}": {"get": {
                "operationId": "getAlert", "summary": "One alert",
                "parameters": [alert_id],
                "responses": {"200": _json("Alert", "the alert"), "404": not_found,
                              **_ERRORS},
            }},
            "/api/alerts/{alert_id}/ack": {"post": {
                "operationId": "acknowledgeAlert",
                "summary": "Acknowledge an open alert (stops its reminders)",
                "parameters": [alert_id],
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": _REF + "Ack"}}}},
                "responses": {
                    "200": _json("Alert", "the acknowledged alert"),
                    "401": _json("Error", "missing or wrong bearer token"),
                    "403": _json("Error", "no token configured: writes are disabled"),
                    "404": not_found,
                    "409": _json("Error", "the alert is resolved"),
                    "413": _json("Error", "body too large"),
                    "415": _json("Error", "body is not JSON"),
                    **_ERRORS,
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": {
                "BadRequest": _json("Error", "a parameter is invalid (named in `parameter`)"),
                "NotFound": _json("Error", "no such disk or alert"),
                "Unavailable": _json("Error", "the database cannot be read right now"),
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "the [web] token setting"}},
        },
    }

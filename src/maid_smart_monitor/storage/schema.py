"""Named, ordered schema migrations (``PRAGMA user_version`` counts the applied ones).

The seed's tables keep the seed's names and columns (``smart_data``,
``health_alerts``) and the seed's index names, so its SQL (``queries.sql``) runs
unchanged; everything MAID adds lives in tables of its own.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        """
        CREATE TABLE disks (
            disk_id        TEXT PRIMARY KEY,   -- wwn-0x..., else model_serial
            device         TEXT NOT NULL,      -- current /dev name (label)
            dev_type       TEXT,
            model          TEXT,
            serial         TEXT,
            wwn            TEXT,
            firmware       TEXT,
            protocol       TEXT,
            capacity_bytes INTEGER,
            rotation_rate  INTEGER,
            form_factor    TEXT,
            first_seen     TEXT NOT NULL,
            last_seen      TEXT NOT NULL
        );

        -- One row per good reading: what every protocol has in common.
        CREATE TABLE readings (
            id                INTEGER PRIMARY KEY,
            disk_id           TEXT NOT NULL,
            device            TEXT NOT NULL,   -- the /dev name at the time of the reading
            timestamp         TEXT NOT NULL,
            exit_status       INTEGER NOT NULL,
            smart_passed      INTEGER,         -- NULL: smartctl did not say
            temperature       INTEGER,
            power_on_hours    INTEGER,
            power_cycle_count INTEGER,
            details           TEXT             -- JSON: nvme / scsi health logs, messages
        );
        CREATE INDEX idx_readings_disk_time ON readings(disk_id, timestamp);
        CREATE INDEX idx_readings_time ON readings(timestamp);

        -- The seed's table: one row per ATA attribute per reading.
        CREATE TABLE smart_data (
            id             INTEGER PRIMARY KEY,
            device         TEXT NOT NULL,      -- follows the disk when its /dev name moves
            timestamp      TEXT NOT NULL,
            attribute_id   INTEGER NOT NULL,
            attribute_name TEXT NOT NULL,
            raw_value      INTEGER,            -- the number a person reads
            value          INTEGER,
            worst          INTEGER,
            thresh         INTEGER,
            raw_string     TEXT,
            when_failed    TEXT,
            reading_id     INTEGER NOT NULL    -- readings.id, which names the disk
        );
        CREATE INDEX idx_smart_device_time ON smart_data(device, timestamp);
        CREATE INDEX idx_smart_attribute ON smart_data(attribute_id, timestamp);
        -- A disk's history is found through readings(disk_id, timestamp), then its rows
        -- here by reading id: small integers instead of a disk id text in every row and
        -- index entry, which is most of the bytes of years of history.
        CREATE INDEX idx_smart_reading ON smart_data(reading_id, attribute_id);

        -- The seed's table: one open alert per (disk, rule), resolved in place.
        CREATE TABLE health_alerts (
            id            INTEGER PRIMARY KEY,
            device        TEXT NOT NULL,
            timestamp     TEXT NOT NULL,       -- when it was first raised
            alert_type    TEXT NOT NULL,       -- the rule id
            severity      TEXT NOT NULL,
            message       TEXT NOT NULL,
            value         REAL,
            resolved      INTEGER NOT NULL DEFAULT 0,
            resolved_at   TEXT,
            last_seen     TEXT NOT NULL,
            disk_id       TEXT NOT NULL,
            acknowledged  INTEGER NOT NULL DEFAULT 0,
            ack_note      TEXT,
            ack_at        TEXT,
            notify_count  INTEGER NOT NULL DEFAULT 0,
            last_notified TEXT
        );
        CREATE INDEX idx_alerts_device ON health_alerts(device, resolved);
        CREATE UNIQUE INDEX idx_alerts_one_open ON health_alerts(disk_id, alert_type)
            WHERE resolved = 0;

        CREATE TABLE notifications (
            id        INTEGER PRIMARY KEY,
            alert_id  INTEGER,
            event     TEXT NOT NULL,
            channel   TEXT NOT NULL,
            ok        INTEGER NOT NULL,
            error     TEXT,
            attempts  INTEGER NOT NULL,
            timestamp TEXT NOT NULL
        );

        -- What the read policy remembers between cycles (cron and daemon alike).
        CREATE TABLE disk_memory (
            key                   TEXT PRIMARY KEY,
            disk_id               TEXT,
            last_read             REAL,
            last_attempt          REAL,
            io_reads              INTEGER,
            io_writes             INTEGER,
            last_io_seen          REAL,
            power_check_supported INTEGER,
            consecutive_skips     INTEGER NOT NULL DEFAULT 0,
            last_result           TEXT,
            deliberate_wakes      INTEGER NOT NULL DEFAULT 0,
            last_look             REAL,
            first_seen            REAL
        );

        CREATE TABLE cycles (
            id        INTEGER PRIMARY KEY,
            started   TEXT NOT NULL,
            finished  TEXT NOT NULL,
            duration  REAL NOT NULL,
            counts    TEXT NOT NULL            -- JSON {check result: count}
        );

        -- Per device per cycle: what the monitor did and why.
        CREATE TABLE checks (
            cycle_id      INTEGER NOT NULL,
            device_key    TEXT NOT NULL,
            device        TEXT NOT NULL,
            disk_id       TEXT,
            result        TEXT NOT NULL,
            reason        TEXT NOT NULL,
            last_read_age REAL
        );
        CREATE INDEX idx_checks_cycle ON checks(cycle_id);
        CREATE INDEX idx_checks_key ON checks(device_key, cycle_id);
        """,
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

import Foundation
import Logging
import PostgresNIO

/// The server's schema on PostgreSQL, one numbered migration per change; a migration is never edited
/// once shipped. As on SQLite, the constraints do the refusing even where Swift code might be wrong.
///
/// Several instances may start at once over one database: each migrates inside a transaction that
/// first takes one advisory lock, so the migrations run once and the others find them applied. An
/// instance refuses a database that a newer server migrated further (`SchemaTooNew`).
enum PostgresSchema {
    struct Migration {
        let version: Int
        let name: String
        /// One statement each: PostgreSQL's extended protocol takes one at a time.
        let statements: [String]
    }

    /// The advisory lock migrations take: "CareSync" in ASCII, as a number no other program picks by chance.
    static let migrationLock: Int64 = 0x4361_7265_5379_6E63

    /// A record type's form, as SQLite's migration v8 checks it: records of a newer kind are kept.
    static let recordTypeCheck = "type ~ '^[a-z][a-z0-9-]{0,31}$'"

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "v1: diaries, devices, invites, the change log with per-diary ordinals, current records, nonces, enrollment failures",
            statements: [
                """
                CREATE TABLE server_identity (
                    id integer PRIMARY KEY CHECK (id = 1),
                    epoch text NOT NULL CHECK (length(epoch) = 36))
                """,
                // last_ordinal: the diary's last change's position. A push takes this row's lock and its next
                // ordinals in the transaction that inserts its changes, so positions become visible in order.
                """
                CREATE TABLE diary (
                    id text PRIMARY KEY CHECK (length(id) = 36),
                    name text NOT NULL CHECK (length(btrim(name)) > 0),
                    created_at timestamptz NOT NULL,
                    last_ordinal bigint NOT NULL DEFAULT 0 CHECK (last_ordinal >= 0))
                """,
                """
                CREATE TABLE device (
                    id text PRIMARY KEY CHECK (length(id) = 36),
                    diary_id text NOT NULL REFERENCES diary,
                    name text NOT NULL CHECK (length(btrim(name)) > 0),
                    role text NOT NULL CHECK (role IN ('owner', 'caregiver', 'clinician')),
                    key bytea NOT NULL CHECK (length(key) = 32),
                    created_at timestamptz NOT NULL,
                    access_expires_at timestamptz,
                    revoked_at timestamptz,
                    UNIQUE (id, diary_id))
                """,
                "CREATE INDEX device_by_diary ON device (diary_id, created_at, id)",
                // The SHA-256 of the code: the code itself is a secret and is not kept.
                """
                CREATE TABLE invite (
                    code_hash text PRIMARY KEY CHECK (length(code_hash) = 64),
                    diary_id text NOT NULL REFERENCES diary,
                    role text NOT NULL CHECK (role IN ('owner', 'caregiver', 'clinician')),
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    access_expires_at timestamptz,
                    created_by text REFERENCES device,
                    used_at timestamptz,
                    used_by text REFERENCES device,
                    CHECK ((used_at IS NULL) = (used_by IS NULL)))
                """,
                // The log, append-only: nothing updates or deletes a change. Its position in the diary is the
                // pull cursor; ordinals of a diary run 1, 2, 3, … without a gap. Its author is a device of its
                // diary: a foreign key here, one check per insert statement from v2.
                """
                CREATE TABLE change (
                    diary_id text NOT NULL,
                    ordinal bigint NOT NULL CHECK (ordinal > 0),
                    id text NOT NULL CHECK (length(id) = 36),
                    record_id text NOT NULL CHECK (length(record_id) = 36),
                    type text NOT NULL CHECK (\(recordTypeCheck)),
                    hlc bigint NOT NULL,
                    author text NOT NULL,
                    body bytea NOT NULL,
                    received_at timestamptz NOT NULL,
                    PRIMARY KEY (diary_id, ordinal),
                    CONSTRAINT change_id_unique UNIQUE (id),
                    CONSTRAINT change_stamp_unique UNIQUE (author, hlc),
                    FOREIGN KEY (author, diary_id) REFERENCES device (id, diary_id))
                """,
                // For each field, the change whose value wins, with its stamp (`CurrentFields`, always in full).
                """
                CREATE TABLE record (
                    diary_id text NOT NULL REFERENCES diary,
                    id text NOT NULL CHECK (length(id) = 36),
                    type text NOT NULL CHECK (\(recordTypeCheck)),
                    fields bytea NOT NULL,
                    PRIMARY KEY (diary_id, id))
                """,
                // A nonce is refused if its device used it within the request window: the primary key does
                // the check for every instance at once.
                """
                CREATE TABLE seen_nonce (
                    device_id text NOT NULL REFERENCES device,
                    nonce text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 64),
                    seen_at double precision NOT NULL,
                    PRIMARY KEY (device_id, nonce))
                """,
                "CREATE INDEX seen_nonce_by_time ON seen_nonce (seen_at)",
                "CREATE TABLE enrollment_failure (address text NOT NULL, failed_at double precision NOT NULL)",
                "CREATE INDEX enrollment_failure_by_address ON enrollment_failure (address, failed_at)",
                "CREATE TABLE health_check (id integer PRIMARY KEY CHECK (id = 1), checked_at double precision NOT NULL)",
            ]),
        Migration(
            version: 2, name: "v2: a change's author is checked once per insert statement instead of once per row",
            statements: [
                // A row-level foreign key runs one lookup per change; a push's changes share one author, so one
                // check over the statement's new rows says the same for the whole batch. Devices are never
                // deleted (revocation is a column), so checking on insert is the whole of the rule.
                "ALTER TABLE change DROP CONSTRAINT change_author_diary_id_fkey",
                """
                CREATE FUNCTION change_author_in_diary() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT FROM new_changes n
                               WHERE NOT EXISTS (SELECT FROM device d WHERE d.id = n.author AND d.diary_id = n.diary_id)) THEN
                        RAISE EXCEPTION 'a change''s author is not a device of its diary' USING ERRCODE = 'foreign_key_violation';
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER change_author_in_diary AFTER INSERT ON change REFERENCING NEW TABLE AS new_changes
                FOR EACH STATEMENT EXECUTE FUNCTION change_author_in_diary()
                """,
                """
                CREATE FUNCTION device_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'devices are revoked, never deleted: their changes stay in the log' USING ERRCODE = 'restrict_violation';
                END $$
                """,
                "CREATE TRIGGER device_never_deleted BEFORE DELETE ON device FOR EACH ROW EXECUTE FUNCTION device_never_deleted()",
            ]),
        Migration(
            version: 3, name: "v3: a record's diary is checked once per insert statement instead of once per row",
            statements: [
                // As v2 did for a change's author: a push writes its records into one diary, so one check over the
                // statement's new rows replaces a lookup per record. A diary is never deleted while it has a device
                // (the device's foreign key), and a record is only written by a change of a device of its diary.
                // Both checks look up each distinct author or diary once, rather than join every new row.
                "ALTER TABLE record DROP CONSTRAINT record_diary_id_fkey",
                """
                CREATE OR REPLACE FUNCTION change_author_in_diary() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT FROM (SELECT DISTINCT author, diary_id FROM new_changes) n
                               WHERE NOT EXISTS (SELECT FROM device d WHERE d.id = n.author AND d.diary_id = n.diary_id)) THEN
                        RAISE EXCEPTION 'a change''s author is not a device of its diary' USING ERRCODE = 'foreign_key_violation';
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE FUNCTION record_in_diary() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT FROM (SELECT DISTINCT diary_id FROM new_records) n
                               WHERE NOT EXISTS (SELECT FROM diary d WHERE d.id = n.diary_id)) THEN
                        RAISE EXCEPTION 'a record''s diary is not a diary of this server' USING ERRCODE = 'foreign_key_violation';
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER record_in_diary AFTER INSERT ON record REFERENCING NEW TABLE AS new_records
                FOR EACH STATEMENT EXECUTE FUNCTION record_in_diary()
                """,
            ]),
        Migration(
            version: 4, name: "v4: a record one change made names that change instead of listing its fields",
            statements: [
                // A push mostly creates records, each made by one change whose signed body holds the record's fields
                // and stamp: the row names that change by its position, and the record's next change writes its
                // fields out in full. Exactly one of the two forms is kept.
                "ALTER TABLE record ALTER COLUMN fields DROP NOT NULL",
                "ALTER TABLE record ADD COLUMN sole_ordinal bigint",
                "ALTER TABLE record ADD CONSTRAINT record_state_in_one_form CHECK ((sole_ordinal IS NULL) <> (fields IS NULL))",
                "ALTER TABLE record ADD CONSTRAINT record_sole_change FOREIGN KEY (diary_id, sole_ordinal) REFERENCES change (diary_id, ordinal)",
            ]),
        Migration(
            version: 5, name: "v5: the change a record names is checked once per statement instead of by a row-level foreign key",
            statements: [
                // A row-level foreign key locks each change it checks (`FOR KEY SHARE`), rewriting the row of every
                // change a push has just inserted; one check over the statement's rows says the same without a lock.
                // Changes are never deleted or renumbered, so checking on write is the whole of the rule. `OFFSET 0`
                // keeps each check a probe of the log's primary key rather than a join over the whole log.
                "ALTER TABLE record DROP CONSTRAINT record_sole_change",
                """
                CREATE FUNCTION record_sole_change_in_log() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT FROM new_records n WHERE n.sole_ordinal IS NOT NULL AND NOT EXISTS
                                   (SELECT FROM change c WHERE c.diary_id = n.diary_id AND c.ordinal = n.sole_ordinal OFFSET 0)) THEN
                        RAISE EXCEPTION 'a record names a change its diary''s log does not hold' USING ERRCODE = 'foreign_key_violation';
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER record_sole_change_inserted AFTER INSERT ON record REFERENCING NEW TABLE AS new_records
                FOR EACH STATEMENT EXECUTE FUNCTION record_sole_change_in_log()
                """,
                """
                CREATE TRIGGER record_sole_change_updated AFTER UPDATE ON record REFERENCING NEW TABLE AS new_records
                FOR EACH STATEMENT EXECUTE FUNCTION record_sole_change_in_log()
                """,
            ]),
    ]

    /// Applies the migrations the database lacks, once however many instances start together.
    static func migrate(_ connection: PostgresConnection, location: String, logger: Logger) async throws {
        try await PostgresStore.transaction(on: connection, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migration (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied: [Int: String] = [:]
            for try await (version, name) in try await connection.query("SELECT version, name FROM schema_migration", logger: logger).decode(
                (Int, String).self)
            {
                applied[version] = name
            }
            let known = Set(migrations.map(\.version))
            let unknown = applied.filter { !known.contains($0.key) }.map(\.value)
            guard unknown.isEmpty else { throw SchemaTooNew(location: location, unknown: unknown) }
            for migration in migrations where applied[migration.version] == nil {
                for statement in migration.statements { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query(
                    "INSERT INTO schema_migration (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            }
        }
    }
}

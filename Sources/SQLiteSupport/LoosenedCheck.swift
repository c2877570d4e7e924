import Foundation
import GRDB

/// The CHECK both stores put on a record's type: a well-formed type name (`RecordType`), not a list of the
/// types one version knows, so that a record of a newer kind is kept.
public let recordTypeCheck = "type GLOB '[a-z]*' AND length(type) <= 32 AND type NOT GLOB '*[^a-z0-9-]*'"
/// What the stores checked before they kept newer kinds of record.
public let listedRecordTypesCheck = "type IN ('flare', 'treatment')"

extension Database {
    /// Replaces a CHECK constraint's text in a table's definition, in place: SQLite's documented way
    /// (lang_altertable.html, "making other kinds of table schema changes") to loosen a constraint
    /// without rewriting the table's rows. Only for a looser rule, which every stored row still meets;
    /// the change is checked (`PRAGMA integrity_check` of the table's constraints) before it is kept.
    public func loosenCheck(table: String, from old: String, to new: String) throws {
        guard let sql = try String.fetchOne(self, sql: "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", arguments: [table]),
            sql.contains(old)
        else { throw DatabaseError(message: "table \(table) has no CHECK (\(old)) to loosen") }
        let version = try Int.fetchOne(self, sql: "PRAGMA schema_version") ?? 0
        try execute(sql: "PRAGMA writable_schema = ON")
        try execute(
            sql: "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?",
            arguments: [sql.replacingOccurrences(of: old, with: new), table])
        try execute(sql: "PRAGMA schema_version = \(version + 1)")
        try execute(sql: "PRAGMA writable_schema = OFF")
        let problems = try String.fetchAll(self, sql: "PRAGMA integrity_check(\(table.quotedDatabaseIdentifier))")
        guard problems == ["ok"] else {
            throw DatabaseError(message: "table \(table) after loosening its CHECK: \(problems.joined(separator: "; "))")
        }
    }
}

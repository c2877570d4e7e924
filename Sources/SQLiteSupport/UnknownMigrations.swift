import GRDB

extension DatabaseMigrator {
    /// The migrations the database has applied that this migrator does not know, in order of their
    /// names: a newer version migrated it further, and this one must not open it. Read on the writer's
    /// connection, which the migrations use next: a pool's reader would stay open and keep the log
    /// from being removed when the database closes.
    public func unknownMigrations(in writer: some DatabaseWriter) throws -> [String] {
        try writer.writeWithoutTransaction { db in try appliedIdentifiers(db).subtracting(migrations).sorted() }
    }
}

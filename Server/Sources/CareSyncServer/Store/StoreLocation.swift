import Foundation
import Logging

/// Where the server's data is: a SQLite file's path, or a `postgres://` (or `postgresql://`) URL.
public struct StoreLocation: Sendable {
    public enum Engine: Sendable { case sqlite, postgresql }

    public let text: String

    public init(_ text: String) { self.text = text }

    public var engine: Engine { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") ? .postgresql : .sqlite }

    /// The location as the log and error messages show it: a URL without its password.
    public var display: String {
        guard engine == .postgresql, var parts = URLComponents(string: text), parts.password != nil else { return text }
        parts.password = "***"
        return parts.string ?? "postgres://…"
    }
}

/// Opens (creating and migrating as needed) the store at `location`: PostgreSQL for a `postgres://` URL,
/// else the SQLite file at that path.
public func openStore(_ location: String, logger: Logger) async throws -> any ServerStore {
    switch StoreLocation(location).engine {
    case .sqlite: try SQLiteStore(path: location)
    case .postgresql: try await PostgresStore(url: location, logger: logger)
    }
}

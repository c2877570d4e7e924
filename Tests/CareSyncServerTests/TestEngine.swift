import CareSyncServer
import Foundation
import GRDB
import Testing
import Logging
import PostgresNIO

/// The engine the server tests run on: SQLite, or PostgreSQL when `CARESYNC_TEST_ENGINE=postgresql`, on
/// the server `CARESYNC_TEST_POSTGRES` names (`postgres://USER@127.0.0.1:PORT`), where every harness gets
/// a fresh database of its own. Tests/run.sh runs the suite once on each.
enum TestEngine: Sendable {
    case sqlite
    case postgresql(server: String)

    static let current: TestEngine = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["CARESYNC_TEST_ENGINE"] == "postgresql" else { return .sqlite }
        guard let server = environment["CARESYNC_TEST_POSTGRES"], !server.isEmpty else {
            fatalError("CARESYNC_TEST_ENGINE=postgresql needs CARESYNC_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT (Tests/run.sh starts one)")
        }
        return .postgresql(server: server)
    }()

    var isSQLite: Bool {
        if case .sqlite = self { return true }
        return false
    }

    /// Thrown by a test of what only the SQLite engine has, when the suite runs on another.
    struct NotThisEngine: Error {}

    func openStore(in directory: URL) async throws -> any ServerStore {
        switch self {
        case .sqlite: return try SQLiteStore(path: directory.appendingPathComponent("server.sqlite").path)
        case .postgresql(let server):
            return try await CareSyncServer.openStore(try await PostgresStore.createDatabase(server: server), logger: .quiet)
        }
    }
}

/// A value a tampering statement binds, on either engine.
enum SQLArgument: Sendable {
    case text(String)
    case date(Date)

    var sqlite: any DatabaseValueConvertible {
        switch self {
        case .text(let text): text
        case .date(let date): date
        }
    }
}

extension TestEngine {
    /// Runs one statement on the PostgreSQL database at `url`, its `?` bound to `arguments` in order.
    static func execute(_ statement: String, _ arguments: [SQLArgument], on url: String) async throws {
        var bindings = PostgresBindings()
        var sql = ""
        var index = 0
        for character in statement {
            guard character == "?" else {
                sql.append(character)
                continue
            }
            index += 1
            sql += "$\(index)"
        }
        for argument in arguments {
            switch argument {
            case .text(let text): bindings.append(text)
            case .date(let date): bindings.append(date)
            }
        }
        let client = PostgresClient(configuration: try PostgresStore.configuration(url: url, maximumConnections: 1), backgroundLogger: .quiet)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: .quiet)
    }
}

import CareSyncServer
import Foundation
import Testing

/// A family's setup for one test: a real caresync-server on its own port with a diary, and a
/// `CARESYNC_HOME` per device that runs the real syncctl.
final class Family: @unchecked Sendable {
    let folder: TemporaryFolder
    let port: Int
    var server: ServerProcess
    var database: String
    private var restarts = 0

    private init(folder: TemporaryFolder, port: Int, server: ServerProcess, database: String) {
        self.folder = folder
        self.port = port
        self.server = server
        self.database = database
    }

    static func start(serverArguments: [String] = [], scheme: String = "http", prepare: (TemporaryFolder) throws -> Void = { _ in }) async throws
        -> Family
    {
        let folder = try TemporaryFolder()
        try prepare(folder)
        let port = try LoopbackPort.free()
        let database = folder.path("server.sqlite")
        let server = try await ServerProcess(
            database: database, port: port, log: folder.path("server.log"), arguments: serverArguments, scheme: scheme)
        return Family(folder: folder, port: port, server: server, database: database)
    }

    func home(_ name: String) -> String { folder.path("home-\(name)") }

    /// Runs `syncctl` as the device living in `home`.
    func syncctl(_ device: String, _ arguments: [String]) async throws -> ProcessResult {
        try await run(Binaries.syncctl, arguments, environment: ["CARESYNC_HOME": home(device)])
    }

    /// Runs syncctl and requires it to succeed; returns stdout.
    @discardableResult
    func ok(_ device: String, _ arguments: String...) async throws -> String {
        let result = try await syncctl(device, arguments)
        try #require(result.status == 0, "syncctl \(arguments.joined(separator: " ")) as \(device) failed: \(result)")
        return result.stdout
    }

    func serverCommand(_ arguments: [String]) async throws -> ProcessResult {
        try await run(Binaries.server, arguments)
    }

    /// Creates the diary and returns the owner's invite code.
    func createDiaryCode() async throws -> String {
        let created = try await serverCommand(["create-diary", "--db", database, "--name", "Mia"])
        try #require(created.status == 0, "create-diary failed: \(created)")
        return created.lastLine
    }

    /// Creates the diary and joins its owner ("mum").
    func createDiary(owner: String = "mum") async throws {
        try await ok(owner, "join", server.url, try await createDiaryCode(), "--device-name", "\(owner)'s laptop")
    }

    /// The owner invites another device, which joins with the code.
    func invite(_ device: String, role: String, by owner: String = "mum") async throws {
        let code = try await ok(owner, "invite", "--role", role).split(separator: "\n").last.map(String.init) ?? ""
        try await ok(device, "join", server.url, code, "--device-name", "\(device)'s laptop")
    }

    /// Mum (owner) and dad (caregiver), joined.
    static func parents(serverArguments: [String] = []) async throws -> Family {
        let family = try await start(serverArguments: serverArguments)
        try await family.createDiary()
        try await family.invite("dad", role: "caregiver")
        return family
    }

    /// Starts the server again on the same port, on `database` (the same file unless told otherwise).
    func restartServer(database: String? = nil) async throws {
        if let database { self.database = database }
        restarts += 1
        server = try await ServerProcess(
            database: self.database, port: port, log: folder.path("server-\(restarts).log"), arguments: [], scheme: server.scheme)
    }

    /// The records a device lists, as JSON objects.
    func records(_ device: String, _ type: String = "flare", includeDeleted: Bool = false) async throws -> [[String: Any]] {
        var arguments = [type, "list", "--json"]
        if includeDeleted { arguments.append("--include-deleted") }
        let result = try await syncctl(device, arguments)
        try #require(result.status == 0, "\(result)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    }

    func status(_ device: String) async throws -> [String: Any] {
        let result = try await syncctl(device, ["status", "--json"])
        try #require(result.status == 0, "\(result)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func finish() async {
        await server.stop()
        folder.remove()
    }
}

/// Runs a test body with a family, stopping the server and removing the files afterwards.
func withFamily(_ setUp: () async throws -> Family, _ body: (Family) async throws -> Void) async throws {
    let family = try await setUp()
    do {
        try await body(family)
    } catch {
        await family.finish()
        throw error
    }
    await family.finish()
}

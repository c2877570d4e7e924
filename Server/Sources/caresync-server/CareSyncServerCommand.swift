import ArgumentParser
import CareSyncServer
import Foundation
import Hummingbird
import Logging

@main
struct CareSyncServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caresync-server",
        abstract: "The CareSync sync server: stores every signed change of a family's CRMO diary in SQLite or PostgreSQL.",
        subcommands: [Serve.self, CreateDiary.self, Verify.self, Backup.self],
        defaultSubcommand: Serve.self)
}

struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp(
            "The SQLite database file (created if missing), or postgres://USER@HOST:PORT/DATABASE for PostgreSQL.",
            discussion: "Default: $CARESYNC_DATABASE_URL if set, else ./caresync.sqlite."))
    var location: String?

    /// The database named by --db, $CARESYNC_DATABASE_URL or the default file.
    var resolved: String { location ?? ProcessInfo.processInfo.environment["CARESYNC_DATABASE_URL"] ?? "./caresync.sqlite" }

    func open(logger: Logger = Logger(label: "caresync-server")) async throws -> any ServerStore {
        do {
            return try await openStore(resolved, logger: logger)
        } catch let error as SchemaTooNew {
            throw ValidationError(error.description)
        } catch {
            throw ValidationError("cannot open the database \(StoreLocation(resolved).display): \(error)")
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API until SIGINT or SIGTERM.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on.") var port = 8080
    @Option(name: .customLong("max-clock-skew"), help: "Seconds a change may be stamped ahead of the server's clock.")
    var maxClockSkew = 300
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"
    @Option(name: .customLong("log-format"), help: "text, or json for one JSON object a line.")
    var logFormat = "text"
    @Option(
        name: .customLong("metrics-token-file"),
        help: "A file (mode 0600) holding the bearer token GET /metrics asks for; without it, /metrics is off.")
    var metricsTokenFile: String?
    @Option(name: .customLong("max-connections"), help: "Connections served at once; more wait in the listen backlog.")
    var maxConnections = 512
    @Option(
        name: .customLong("request-head-timeout"),
        help: "Seconds a connection may take to send a request's head (also how long an idle connection stays open).")
    var requestHeadTimeout = 30
    @Option(name: .customLong("request-body-timeout"), help: "Seconds a request's body may take to arrive.")
    var requestBodyTimeout = 60
    @Option(name: .customLong("tls-cert"), help: "A PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key).")
    var tlsCertificate: String?
    @Option(name: .customLong("tls-key"), help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard maxClockSkew >= 0 else { throw ValidationError("--max-clock-skew must not be negative") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level \(logLevel) is not a log level") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json (got \(logFormat))") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard requestHeadTimeout >= 1, requestBodyTimeout >= 1 else { throw ValidationError("the request timeouts must be at least 1 second") }
        guard (tlsCertificate == nil) == (tlsKey == nil) else { throw ValidationError("TLS needs both --tls-cert and --tls-key") }
    }

    func run() async throws {
        let logger = LogFormat(rawValue: logFormat)!.logger(level: Logger.Level(rawValue: logLevel)!)
        var configuration = ServerConfiguration()
        configuration.maxConnections = maxConnections
        configuration.requestHeadTimeout = .seconds(requestHeadTimeout)
        configuration.requestBodyTimeout = .seconds(requestBodyTimeout)
        if let metricsTokenFile { configuration.metricsToken = try Self.readToken(metricsTokenFile) }
        configuration.host = host
        configuration.port = port
        configuration.maxClockSkew = .seconds(maxClockSkew)
        configuration.tlsCertificatePath = tlsCertificate
        configuration.tlsKeyPath = tlsKey
        let store = try await database.open(logger: logger)
        logger.info(
            "database ready",
            metadata: [
                "db": "\(store.location)", "epoch": "\(store.epoch)", "tls": "\(tlsCertificate == nil ? "off" : "on")",
                "metrics": "\(metricsTokenFile == nil ? "off" : "on")",
            ])
        do {
            try await buildApplication(configuration: configuration, store: store, logger: logger).runService()
        } catch let error as TLSSetupError {
            throw ValidationError(error.description)
        }
        do {
            try await store.close()
        } catch {
            logger.warning(
                "the database did not close cleanly; its log stays beside it and is replayed at the next start", metadata: ["error": "\(error)"])
        }
        logger.info("server stopped")
    }

    /// The metrics token: the file's first line, which must not be empty, in a file no one else may read.
    static func readToken(_ path: String) throws -> String {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let text = FileManager.default.contents(atPath: path)
        else { throw ValidationError("cannot read the metrics token file \(path)") }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw ValidationError("the metrics token file \(path) may be read by others (mode \(String(mode, radix: 8))): chmod 600 it")
        }
        let token = String(decoding: text, as: UTF8.self).split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces) ?? ""
        guard token.count >= 16 else { throw ValidationError("the metrics token in \(path) must be at least 16 characters") }
        return token
    }
}

struct CreateDiary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-diary", abstract: "Create a diary and print its one-time owner invite code (alone on the last line).")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The diary's name, e.g. the child's first name.") var name: String
    @Flag(help: "Print one JSON object with code and diary.") var json = false

    func run() async throws {
        let store = try await database.open()
        let created: (diary: String, code: String)
        do {
            created = try await store.createDiary(name: name)
        } catch let refusal as StoreRefusal {
            try? await store.close()
            throw ValidationError(refusal.description)
        }
        try await store.close()
        let (diary, code) = created
        if json {
            print(#"{"code":"\#(code)","diary":"\#(diary)"}"#)
        } else {
            print("Created diary \"\(name)\" (\(diary)).")
            print("Join as its owner within 7 days with: syncctl join URL CODE")
            print(code)
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-check every stored change's signature and the stored state against a replay of the log; exit 1 on any fault.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let store = try await database.open()
        let report = try await store.audit()
        try await store.close()
        for fault in report.faults { print("FAULT \(fault)") }
        print("\(report.changesChecked) changes checked, \(report.faults.count) faults")
        if !report.faults.isEmpty { throw ExitCode.failure }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database while the server runs; the copy gets a new epoch.",
        discussion: "SQLite only: a PostgreSQL database is copied with pg_dump, and backup says so and exits 2.")

    @OptionGroup var database: DatabaseOptions
    @Option(name: .customLong("to"), help: "The backup file to create (must not exist).") var destination: String

    func run() async throws {
        let store = try await database.open()
        do {
            try await store.backup(to: destination)
            try await store.close()
        } catch let refusal as StoreRefusal {
            try? await store.close()
            if case .backupUnsupported = refusal {
                FileHandle.standardError.write(Data("caresync-server: \(refusal.description)\n".utf8))
                throw ExitCode(2)
            }
            throw ValidationError(refusal.description)
        }
        print("backup written to \(destination)")
    }
}

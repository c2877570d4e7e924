import Foundation
import SyncCore

/// Why a client operation failed, sorted into the kinds that `syncctl` turns into exit codes
/// (docs/USAGE.md): none of them loses a queued change.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// Bad input: an invalid field, an unknown record, a malformed import file. Exit 1.
    case invalid(String)
    /// This device may not do this locally (a clinician editing). Exit 4.
    case notAllowed(String)
    /// The server could not be reached; the outbox is intact. Exit 3.
    case unreachable(server: String, reason: String)
    /// The server refused to authenticate this device or refused the role (401/403). Exit 4.
    case refused(status: Int, code: String, message: String)
    /// The server answered with another error. Exit 1.
    case server(status: Int, code: String, message: String)
    /// The home directory or replica is missing or not usable. Exit 1.
    case setup(String)

    public var description: String {
        switch self {
        case .invalid(let message), .notAllowed(let message), .setup(let message):
            message
        case .unreachable(let server, let reason):
            "cannot reach the server at \(server) (\(reason)); nothing is lost: queued changes stay in the outbox"
        case .refused(let status, let code, let message):
            "the server refused this device (\(status) \(code)): \(message)"
        case .server(let status, let code, let message):
            "the server answered \(status) \(code): \(message)"
        }
    }

    /// The process exit code (docs/USAGE.md, "Exit codes").
    public var exitCode: Int32 {
        switch self {
        case .invalid, .server, .setup: 1
        case .unreachable: 3
        case .notAllowed, .refused: 4
        }
    }

    static func invalid(_ error: ValidationError) -> ClientError { .invalid(error.description) }
}

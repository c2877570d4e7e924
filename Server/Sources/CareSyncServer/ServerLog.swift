import Foundation
import Logging
import SyncCore

/// How `caresync-server serve` writes its log to standard error: swift-log's text lines, or one JSON
/// object a line for a log collector.
public enum LogFormat: String, CaseIterable, Sendable {
    case text
    case json

    /// A logger that writes in this format at `level`.
    public func logger(label: String = "caresync-server", level: Logger.Level) -> Logger {
        var logger: Logger
        switch self {
        case .text: logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        case .json: logger = Logger(label: label) { JSONLogHandler(label: $0, stream: .standardError) }
        }
        logger.logLevel = level
        return logger
    }
}

/// One JSON object a line: `{"time", "level", "label", "message", …metadata}`, members in canonical order.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let stream: FileHandle

    public init(label: String, stream: FileHandle) {
        self.label = label
        self.stream = stream
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var members: [String: JSONValue] = [:]
        let merged = metadata.merging(metadataProvider?.get() ?? [:]) { $1 }.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged { members[key] = Self.json(value) }
        members["time"] = .string(ISO8601DateFormatter.withFractionalSeconds.string(from: Date()))
        members["level"] = .string(event.level.rawValue)
        members["label"] = .string(label)
        members["message"] = .string(event.message.description)
        var line = JSONValue.object(members).canonicalBytes
        line.append(UInt8(ascii: "\n"))
        stream.write(Data(line))
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let value): .string(value.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let members): .object(members.mapValues(json))
        }
    }
}

extension ISO8601DateFormatter {
    fileprivate nonisolated(unsafe) static let withFractionalSeconds: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

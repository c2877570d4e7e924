import Foundation

/// Everything `caresync-server serve` can be told, with its defaults (docs/USAGE.md).
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// How far ahead of the server's clock a change may be stamped.
    public var maxClockSkew: Duration = .seconds(300)
    /// How far a request's signature timestamp may be from the server's clock, either way.
    public var requestWindow: Duration = .seconds(300)
    /// The largest request body, and the most changes in one push.
    public var maxBodyBytes = 4 * 1024 * 1024
    public var maxChangesPerPush = 1_000
    /// The default and largest page of a pull.
    public var defaultPageSize = 500
    public var maxPageSize = 1_000
    /// How long an invite stays usable unless the owner asks otherwise.
    public var inviteLifetime: Duration = .seconds(7 * 86_400)
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// How long a connection may take to send a request's head, from its opening or the end of the previous
    /// answer: also how long an idle connection is kept open.
    public var requestHeadTimeout: Duration = .seconds(30)
    /// How long a request's body may take to arrive, from its head.
    public var requestBodyTimeout: Duration = .seconds(60)
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    public var maxConnections = 512
    /// The bearer token `GET /metrics` asks for; without one, metrics are off.
    public var metricsToken: String?

    public init() {}
}

import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SyncCore

/// Watches one HTTP connection below the router: it closes a connection that is slow to send a request's
/// head or body (with `408 request_timeout` if no answer has begun), answers bytes that are not HTTP with
/// `400 bad_request` in JSON rather than an empty body, and counts open connections for the metrics.
///
/// The head's deadline runs from the connection's opening or the end of the previous answer, so it is
/// also how long an idle connection is kept.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Waiting for a request's head.
        case idle
        /// The head came; the body has not ended.
        case readingBody
        /// The request was read whole; its answer has not ended.
        case answering
    }

    /// Whether bytes of the next request's head have come (`ByteWatcher`), so that a head cut short is told
    /// why rather than closed as an idle connection.
    private var headStarted = false
    private let headTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private let metrics: ServerMetrics
    private var state = State.idle
    /// Whether the current request's answer has begun, so that a timeout cannot write a second head.
    private var answerStarted = false
    private var deadline: Scheduled<Void>?
    private var counted = false

    init(headTimeout: Duration, bodyTimeout: Duration, metrics: ServerMetrics) {
        self.headTimeout = TimeAmount(headTimeout)
        self.bodyTimeout = TimeAmount(bodyTimeout)
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            state = .readingBody
            headStarted = false
            answerStarted = false
            schedule(bodyTimeout, context: context, reason: "the request's body did not arrive in time")
        case .body:
            break
        case .end:
            if state == .readingBody {
                state = .answering
                cancelDeadline()
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.kind != .informational:
            answerStarted = true
        case .end:
            // An answer given before its request's body ended (a refusal) leaves the body's deadline running.
            if state == .answering {
                state = .idle
                schedule(headTimeout, context: context, reason: "the request's head did not arrive in time")
            }
        default:
            break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError, !answerStarted else {
            context.fireErrorCaught(error)
            return
        }
        refuse(
            context: context, status: .badRequest, code: "bad_request",
            message: "the request is not HTTP/1.1 this server can read (\(error)); methods are GET and POST, in capitals")
    }

    /// Bytes came off the socket (told by `ByteWatcher`, which sees them before they are parsed).
    func bytesArrived() {
        if state == .idle { headStarted = true }
    }

    private func opened(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = true
        metrics.connectionOpened()
        schedule(headTimeout, context: context, reason: "the request's head did not arrive in time")
    }

    private func closed() {
        cancelDeadline()
        if counted {
            counted = false
            metrics.connectionClosed()
        }
    }

    private func schedule(_ timeout: TimeAmount, context: ChannelHandlerContext, reason: String) {
        cancelDeadline()
        let seconds = timeout.nanoseconds / 1_000_000_000
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            deadline = nil
            // An idle connection is closed quietly; a request that stalls is told why.
            guard state != .idle || headStarted else {
                context.close(promise: nil)
                return
            }
            refuse(context: context, status: .requestTimeout, code: "request_timeout", message: "\(reason) (\(seconds) s): the connection is closed")
        }
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    /// Writes a JSON refusal, unless an answer has begun, and closes the connection.
    private func refuse(context: ChannelHandlerContext, status: HTTPResponse.Status, code: String, message: String) {
        cancelDeadline()
        if !answerStarted {
            answerStarted = true
            let body = APIError(status, code, message).jsonBytes
            let head = HTTPResponse(
                status: status,
                headerFields: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.count), .connection: "close"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}

/// Tells the connection's `ConnectionGuard` that bytes arrived, from the front of the pipeline, where
/// they come before the HTTP decoder has made a request part of them.
final class ByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let guardian: ConnectionGuard

    init(_ guardian: ConnectionGuard) {
        self.guardian = guardian
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guardian.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// Hummingbird's HTTP/1.1 channel with a `ConnectionGuard` behind the decoder and its `ByteWatcher` in front.
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    var responder: Responder { base.responder }

    init(responder: @escaping Responder, headTimeout: Duration, bodyTimeout: Duration, metrics: ServerMetrics) {
        base = HTTP1Channel(
            responder: responder,
            configuration: .init(additionalChannelHandlers: [ConnectionGuard(headTimeout: headTimeout, bodyTimeout: bodyTimeout, metrics: metrics)]))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let guardian = try channel.pipeline.syncOperations.handler(type: ConnectionGuard.self)
            try channel.pipeline.syncOperations.addHandler(ByteWatcher(guardian), position: .first)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import Synchronization

/// The outermost middleware: it turns every error into a JSON refusal (`APIError`), answers an unknown
/// route with 404 and a known route's wrong method with 405 and `Allow`, and writes one log line and the
/// metrics of every request.
///
/// The log line holds the method, route, status, duration, device and diary — never a key, signature,
/// invite code or record field, so that a log can be shared with whoever helps run the server.
struct RequestObserver: RouterMiddleware {
    typealias Context = CareSyncRequestContext

    let routes: RouteTable
    let metrics: ServerMetrics
    /// The store, whose `describe` says what its engine's errors mean without their queries.
    let store: any ServerStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var refusal: APIError?
        var answered: Response?
        do {
            answered = try await next(request, context)
        } catch let error as APIError {
            refusal = error
        } catch let error as HTTPError {
            refusal = translate(error, request: request)
        } catch let error as HTTPParserError {
            // The body stopped short: the client went away, or `ConnectionGuard` closed a stalled request.
            // Nobody reads this answer, but the log and metrics say what happened.
            refusal = APIError(.badRequest, "request_incomplete", "the request ended before its body did (\(error))")
        } catch {
            context.logger.error("request failed", metadata: ["route": "\(route(of: context))", "error": "\(store.describe(error))"])
            refusal = APIError(
                .internalServerError, "internal_error", "the server failed to handle this request; the operator can find it in the log")
        }
        var response = try answered ?? refusal!.response(from: request, context: context)
        if refusal?.status == .methodNotAllowed {
            response.headers[.allow] = routes.methods(for: request.uri.path).map(\.rawValue).joined(separator: ", ")
        }
        let duration = ContinuousClock.now - started
        let route = route(of: context)
        metrics.request(method: request.method.rawValue, route: route, status: response.status.code, duration: duration, refusal: refusal?.code)
        guard context.logger.logLevel <= .info else { return response }
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(response.status.code)",
            "duration_ms": "\(String(format: "%.2f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1e3))",
        ]
        if let device = context.requester.device { metadata["device"] = "\(device)" }
        if let diary = context.requester.diary { metadata["diary"] = "\(diary)" }
        if let refusal { metadata["error"] = "\(refusal.code)" }
        context.logger.info("request", metadata: metadata)
        return response
    }

    /// The route as registered, which names no diary or device (`unmatched` when none matched).
    private func route(of context: Context) -> String {
        guard let path = context.endpointPath, path != "NotFound" else { return "unmatched" }
        return path
    }

    /// Hummingbird's own refusals (no route, a body over a limit), given a code and a message.
    private func translate(_ error: HTTPError, request: Request) -> APIError {
        let path = request.uri.path
        switch error.status {
        case .notFound:
            let allowed = routes.methods(for: path)
            guard allowed.isEmpty else {
                return APIError(
                    .methodNotAllowed, "method_not_allowed",
                    "\(request.method.rawValue) is not allowed on \(path); allowed: \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            return APIError(.notFound, "not_found", "there is no endpoint \(path); see docs/PROTOCOL.md for the API")
        case .contentTooLarge:
            return APIError(.contentTooLarge, "body_too_large", error.body ?? "the request body is larger than this endpoint takes")
        default:
            return APIError(error.status, "bad_request", error.body ?? error.status.reasonPhrase)
        }
    }
}

/// The routes the router holds, so that a request for a known path with another method is told which
/// methods it takes. Filled once the routes are added, before the server serves.
final class RouteTable: Sendable {
    private let routes = Mutex<[(path: RouterPath, method: HTTPRequest.Method)]>([])

    func set<Context>(from router: Router<Context>) {
        let described = router.routes.map { (path: $0.path, method: $0.method) }
        routes.withLock { $0 = described }
    }

    /// The methods of every route whose pattern matches the path, in a stable order.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = routes.withLock { routes in
            routes.filter { route in
                route.path.components.count == segments.count && zip(route.path.components, segments).allSatisfy { $0 ~= $1 }
            }.map(\.method)
        }
        return Set(matching.map(\.rawValue)).sorted().compactMap { HTTPRequest.Method($0) }
    }
}

/// Who made a request, as the authenticator found it: shared by every copy of the request's context, so
/// that the request log, outside the authenticator, can name the device and diary.
final class Requester: Sendable {
    private let state = Mutex<(device: String?, diary: String?)>((nil, nil))

    var device: String? { state.withLock { $0.device } }
    var diary: String? { state.withLock { $0.diary } }

    func set(device: String, diary: String) {
        state.withLock { $0 = (device, diary) }
    }
}

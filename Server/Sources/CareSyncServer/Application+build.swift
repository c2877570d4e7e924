import Foundation
import Hummingbird
import Logging
import SyncCore

/// Builds the CareSync HTTP application. `caresync-server serve` runs it; tests call it too.
public func buildApplication(configuration: ServerConfiguration, database: ServerDatabase, logger: Logger? = nil) -> some ApplicationProtocol {
    let logger = logger ?? Logger(label: "caresync-server")
    let router = Router(context: CareSyncRequestContext.self)
    router.add(middleware: ErrorLoggingMiddleware())
    let v1 = router.group("v1")
    EnrollmentController(database: database, limiter: EnrollmentLimiter()).addRoutes(to: v1)
    let diary = v1.group("diaries/:diary")
        .add(
            middleware: RequestAuthenticator(
                database: database, nonces: NonceCache(window: configuration.requestWindow), configuration: configuration))
    DiaryController(database: database, configuration: configuration).addRoutes(to: diary)
    ChangesController(database: database, configuration: configuration).addRoutes(to: diary)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "caresync-server"),
        logger: logger)
}

/// Turns an unexpected error into a 500 that says so, and logs it; refusals pass through untouched.
struct ErrorLoggingMiddleware: RouterMiddleware {
    typealias Context = CareSyncRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            throw error
        } catch {
            context.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIError(.internalServerError, "internal_error", "the server failed to handle this request; the operator can find it in the log")
        }
    }
}

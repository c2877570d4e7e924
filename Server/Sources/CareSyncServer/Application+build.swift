import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import SyncCore

/// Builds the CareSync HTTP application. `caresync-server serve` runs it; tests call it too.
/// Throws if TLS is configured and the certificate or key cannot be read.
public func buildApplication(configuration: ServerConfiguration, database: ServerDatabase, logger: Logger? = nil) throws -> some ApplicationProtocol {
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
        server: try configuration.httpServer(),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "caresync-server"),
        logger: logger)
}

/// Why TLS cannot be set up.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
}

extension ServerConfiguration {
    /// Plain HTTP/1.1, or HTTPS with the configured PEM certificate chain and private key.
    func httpServer() throws -> HTTPServerBuilder {
        switch (tlsCertificatePath, tlsKeyPath) {
        case (nil, nil):
            return .http1()
        case (let certificatePath?, let keyPath?):
            let chain: [NIOSSLCertificate]
            let key: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            } catch {
                throw TLSSetupError(description: "cannot read the TLS certificate \(certificatePath): \(error)")
            }
            guard !chain.isEmpty else { throw TLSSetupError(description: "the TLS certificate file \(certificatePath) holds no PEM certificate") }
            do {
                key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            } catch {
                throw TLSSetupError(description: "cannot read the TLS private key \(keyPath): \(error)")
            }
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            return try .tls(.http1(), tlsConfiguration: tls)
        default:
            throw TLSSetupError(description: "TLS needs both --tls-cert and --tls-key")
        }
    }
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

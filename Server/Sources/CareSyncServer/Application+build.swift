import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import SyncCore

/// Builds the CareSync HTTP application. `caresync-server serve` runs it; tests call it too.
/// Throws if TLS is configured and the certificate or key cannot be read.
public func buildApplication(
    configuration: ServerConfiguration, store: any ServerStore, metrics: ServerMetrics = ServerMetrics(), logger: Logger? = nil
) throws -> some ApplicationProtocol {
    Application(
        router: buildRouter(configuration: configuration, store: store, metrics: metrics),
        server: try configuration.httpServer(metrics: metrics),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "caresync-server",
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
        logger: logger ?? Logger(label: "caresync-server"))
}

/// Every route of the API (docs/openapi.yaml lists the same), behind `RequestObserver`.
func buildRouter(configuration: ServerConfiguration, store: any ServerStore, metrics: ServerMetrics) -> Router<CareSyncRequestContext> {
    store.report(to: metrics)
    let routes = RouteTable()
    let router = Router(context: CareSyncRequestContext.self)
    router.add(middleware: RequestObserver(routes: routes, metrics: metrics, store: store))
    OperatorController(store: store, metrics: metrics, metricsToken: configuration.metricsToken).addRoutes(to: router)
    let v1 = router.group("v1")
    EnrollmentController(store: store, limiter: EnrollmentLimiter(store: store)).addRoutes(to: v1)
    let diary = v1.group("diaries/:diary").add(middleware: RequestAuthenticator(store: store, configuration: configuration))
    DiaryController(store: store, configuration: configuration).addRoutes(to: diary)
    ChangesController(store: store, configuration: configuration, metrics: metrics).addRoutes(to: diary)
    routes.set(from: router)
    return router
}

/// Why TLS cannot be set up.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
}

extension ServerConfiguration {
    /// Plain HTTP/1.1, or HTTPS with the configured PEM certificate chain and private key; each
    /// connection watched by a `ConnectionGuard`.
    func httpServer(metrics: ServerMetrics) throws -> HTTPServerBuilder {
        let http1 = HTTPServerBuilder { [requestHeadTimeout, requestBodyTimeout] responder in
            GuardedHTTP1Channel(responder: responder, headTimeout: requestHeadTimeout, bodyTimeout: requestBodyTimeout, metrics: metrics)
        }
        switch (tlsCertificatePath, tlsKeyPath) {
        case (nil, nil):
            return http1
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
            return try .tls(http1, tlsConfiguration: tls)
        default:
            throw TLSSetupError(description: "TLS needs both --tls-cert and --tls-key")
        }
    }
}

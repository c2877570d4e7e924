import Foundation
import Testing

@testable import CareSyncServer

/// The ports that the end-to-end tests and the benchmark give their servers.
struct LoopbackPortTests {
    /// A port below the kernel's ephemeral range never becomes the source port of an outgoing connection,
    /// so a test's server that stops and starts again on it finds it free (from the ephemeral range, CI
    /// saw a restart fail with `EADDRINUSE`).
    @Test func portsAreFreeAndBelowTheRangeOfConnectionsSourcePorts() throws {
        let below = LoopbackPort.lowestEphemeralPort()
        try #require(below - LoopbackPort.minimum >= 1_000, "this machine's ephemeral ports start at \(below), leaving no room below")
        var ports: Set<Int> = []
        for _ in 0..<20 {
            let port = try LoopbackPort.free()
            #expect((LoopbackPort.minimum..<below).contains(port), "port \(port)")
            #expect(LoopbackPort.bind(port) == port, "port \(port) is free")
            ports.insert(port)
        }
        #expect(ports.count > 1, "ports are drawn at random, not always the same")
    }
}

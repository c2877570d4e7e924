import Foundation

/// Ports on 127.0.0.1 for tests and benchmarks that start a real server and must know its address
/// before it runs (so that a restarted server keeps the address its devices joined).
public enum LoopbackPort {
    /// A port that nothing on 127.0.0.1 uses now, below the kernel's range of ephemeral ports where that
    /// range leaves room. The kernel takes every outgoing connection's source port from that range: a
    /// port from it, left free while a test's server restarts, can meanwhile become the source port of
    /// another test's connection, and the restarted server then cannot bind it (CI saw `EADDRINUSE`
    /// on a restart when ports came from the kernel's choice for port 0).
    public static func free() throws -> Int {
        let below = lowestEphemeralPort()
        if below - minimum >= 1_000 {
            for _ in 0..<200 {
                let port = Int.random(in: minimum..<below)
                if bind(port) != nil { return port }
            }
        }
        // No room below the range, or nothing free there: the kernel's choice.
        guard let port = bind(0) else { throw POSIXError(.EADDRINUSE) }
        return port
    }

    /// The lowest port chosen from: above the ports that well-known services register.
    static let minimum = 10_000

    /// The first port of `ip_local_port_range`, or Linux's default first port if it cannot be read.
    static func lowestEphemeralPort() -> Int {
        let range = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        return range?.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    /// Binds `port` (0: any) on 127.0.0.1 and lets it go; returns the port bound, or nil if it is taken.
    static func bind(_ port: Int) -> Int? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}

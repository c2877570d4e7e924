import Foundation
import Testing

/// The output of a finished process.
struct ProcessResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String

    /// The last line of stdout: where the scripting contract puts codes and ids.
    var lastLine: String { stdout.split(separator: "\n").last.map(String.init) ?? "" }
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// The real binaries, built by `swift test` next to the test bundle.
enum Binaries {
    static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["CARESYNC_BIN_DIR"] { return URL(fileURLWithPath: override) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // On Linux the test runner is .build/debug/CareSyncPackageTests.xctest; elsewhere it may sit in a bundle.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("syncctl").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    static var server: URL { directory.appendingPathComponent("caresync-server") }
    static var syncctl: URL { directory.appendingPathComponent("syncctl") }
}

/// Runs a program to its end without blocking Swift's cooperative threads: the waiting happens on
/// Dispatch's own threads.
func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], input: String? = nil) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    for (name, value) in environment { merged[name] = value }
    process.environment = merged
    let stdout = Pipe()
    let stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = input == nil ? FileHandle.nullDevice : nil
    try process.run()
    async let out = readToEnd(stdout.fileHandleForReading)
    async let err = readToEnd(stderr.fileHandleForReading)
    let (outData, errData) = await (out, err)
    await waitForExit(process)
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
    }
}

func waitForExit(_ process: Process) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            process.waitUntilExit()
            continuation.resume()
        }
    }
}

/// A folder that exists for one test.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("caresync-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A running `caresync-server serve` on 127.0.0.1, started and stopped by a test.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let database: String
    let log: String
    let scheme: String

    var url: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Starts the server and waits until it logs that it listens.
    init(database: String, port: Int, log: String, arguments: [String] = [], scheme: String = "http") async throws {
        self.port = port
        self.database = database
        self.log = log
        self.scheme = scheme
        // Had it failed, opening the file below throws.
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        output.seekToEndOfFile()
        process.executableURL = Binaries.server
        process.arguments = ["serve", "--db", database, "--host", "127.0.0.1", "--port", String(port)] + arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.contains("listening on 127.0.0.1:\(port)") { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { process.terminate() }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw HarnessError(description: "caresync-server did not start on port \(port):\n\(text)")
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Stops the server (SIGTERM) and waits for it; returns its exit status.
    @discardableResult
    func stop() async -> Int32 {
        if process.isRunning { signal(SIGTERM) }
        await waitForExit(process)
        return process.terminationStatus
    }

    /// Kills the server without warning, as a crash or power cut would.
    func crash() async {
        signal(SIGKILL)
        await waitForExit(process)
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}

/// A failure of the test harness itself (a server that does not start, a raw connection that fails),
/// told in words.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking TCP connection to a server on 127.0.0.1, for a test that must know what the server has
/// read: on loopback, a `write` puts the bytes straight into the server's receive queue.
struct RawConnection {
    let descriptor: Int32
    let serverPort: Int

    init(port: Int) throws {
        serverPort = port
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, connected == 0 else { throw HarnessError(description: "cannot connect to 127.0.0.1:\(port): errno \(errno)") }
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { throw HarnessError(description: "write failed: errno \(errno)") }
            sent += written
        }
    }

    /// Everything the server sends until it closes the connection.
    func receiveAll() -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return received }
            received += buffer[..<count]
        }
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Waits until the server has read every byte sent so far: its end of this connection has an empty
    /// receive queue in /proc/net/tcp.
    func waitUntilTheServerHasReadEverything(timeout: Duration = .seconds(20)) async throws {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        let clientPort = Int(UInt16(bigEndian: address.sin_port))
        let serverEnd = String(format: "0100007F:%04X 0100007F:%04X", serverPort, clientPort)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // Read to its end: `String(contentsOfFile:)` returned only its first 4 KB (procfs files report no size).
            guard let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { throw HarnessError(description: "no /proc/net/tcp") }
            let table = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
            try file.close()
            // Columns: sl, local address, remote address, state, tx_queue:rx_queue, ...
            if let line = table.split(separator: "\n").first(where: { $0.contains(serverEnd) }) {
                let queues = line.split(separator: " ")[4].split(separator: ":")
                if queues.count == 2, Int(queues[1], radix: 16) == 0 { return }
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw HarnessError(description: "the server did not read what was sent within \(timeout)")
    }
}

import Foundation
import SyncCore

/// The directory that holds a person's devices, one folder per diary joined:
/// `DIARY-ID/replica.sqlite` and `DIARY-ID/device.key` (the device key, mode 0600, nowhere else).
///
/// It is `--home`, else `$CARESYNC_HOME`, else `$XDG_DATA_HOME/caresync`, else `~/.local/share/caresync`.
public struct ClientHome: Sendable {
    public let url: URL

    public init(path: String) {
        url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath, isDirectory: true)
    }

    /// The home chosen by the environment when no `--home` is given.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ClientHome {
        if let home = environment["CARESYNC_HOME"], !home.isEmpty { return ClientHome(path: home) }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return ClientHome(path: data + "/caresync") }
        return ClientHome(path: NSHomeDirectory() + "/.local/share/caresync")
    }

    /// The diaries this home has joined.
    public func diaries() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { UUID(canonical: $0) != nil && FileManager.default.fileExists(atPath: replicaPath(diary: $0)) }.sorted()
    }

    /// The one diary to work on: the one asked for, or the only one joined.
    public func selectDiary(_ requested: String?) throws(ClientError) -> String {
        let joined = diaries()
        if let requested {
            guard let match = joined.first(where: { $0 == requested.lowercased() }) else {
                throw .setup(
                    "this home (\(url.path)) has not joined diary \(requested); it has: \(joined.isEmpty ? "none" : joined.joined(separator: ", "))")
            }
            return match
        }
        switch joined.count {
        case 0: throw .setup("no diary joined in \(url.path) yet: run `syncctl join URL CODE` first (or set --home / CARESYNC_HOME)")
        case 1: return joined[0]
        default: throw .setup("this home holds several diaries; choose one with --diary: \(joined.joined(separator: ", "))")
        }
    }

    func folder(diary: String) -> String { url.appendingPathComponent(diary).path }
    func replicaPath(diary: String) -> String { folder(diary: diary) + "/replica.sqlite" }
    func keyPath(diary: String) -> String { folder(diary: diary) + "/device.key" }

    /// Creates the diary's folder (0700) and writes the key file, readable by its owner only. The key
    /// file is created with mode 0600 from the start, so there is no moment when others could read it.
    func storeKey(_ key: DeviceKey, diary: String) throws(ClientError) {
        let folder = folder(diary: diary)
        guard !FileManager.default.fileExists(atPath: replicaPath(diary: diary)) else {
            throw .setup("this home (\(url.path)) has already joined diary \(diary); use another --home for a second device")
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .setup("cannot create \(folder): \(error.localizedDescription)")
        }
        let path = keyPath(diary: diary)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw .setup("cannot create the key file \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        fchmod(descriptor, 0o600)
        let bytes = Array((key.hexForStorage + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw .setup("cannot write the key file \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads the device key, refusing a key file that others can read.
    func loadKey(diary: String) throws(ClientError) -> DeviceKey {
        let path = keyPath(diary: diary)
        var info = stat()
        guard stat(path, &info) == 0 else { throw .setup("the device key \(path) is missing: this device must join again") }
        guard info.st_mode & 0o077 == 0 else {
            throw .setup("the device key \(path) can be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); run: chmod 600 \(path)")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let key = DeviceKey(hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw .setup("the device key \(path) is damaged: this device must join again") }
        return key
    }
}

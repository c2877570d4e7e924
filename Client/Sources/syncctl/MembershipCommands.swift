import ArgumentParser
import CareSyncClient
import Foundation
import SyncCore

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a diary with an invite code; this device gets its own key.",
        discussion: helpExamples(
            "syncctl join http://192.168.1.20:8080 k7qp-3m2x-wd4f-ha6t-r2nc-y5ue-gb3j-q7xm --device-name \"Dad's desktop\"",
            "syncctl join https://caresync.home.arpa:8443 k7qp-3m2x-wd4f-ha6t-r2nc-y5ue-gb3j-q7xm --ca-file caresync-ca.pem"))
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The server, e.g. http://192.168.1.20:8080.") var url: String
    @Argument(help: "The invite code (case, spaces and dashes do not matter).") var invite: String
    @Option(name: .customLong("device-name"), help: "How others will see this device (default: this machine's name).")
    var deviceName: String?
    @Option(name: .customLong("ca-file"), help: "A PEM file of certificates to trust, for an HTTPS server with its own certificate.")
    var caFile: String?

    func run() async throws {
        let name = deviceName ?? ProcessInfo.processInfo.hostName
        let device = try await DiaryDevice.join(server: url, code: invite, deviceName: name, home: global.clientHome, caFile: caFile)
        let identity = device.identity
        if global.json {
            print(
                Output.object([
                    ("diary", .optional(identity.diary.canonical)), ("diary_name", .optional(identity.diaryName)),
                    ("device", .optional(identity.device.canonical)), ("role", .optional(identity.role.rawValue)),
                ]))
        } else {
            print("Joined diary \"\(identity.diaryName)\" as \(identity.role.rawValue); this device is \"\(identity.deviceName)\".")
            print("Next: `syncctl pull` brings in what the others recorded.")
        }
    }
}

struct Invite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Invite another device (owners only); prints the code alone on the last line.",
        discussion: helpExamples(
            "syncctl invite --role caregiver --expires 48h",
            "syncctl invite --role clinician --access-expires 90d"))
    @OptionGroup var global: GlobalOptions
    @Option(help: "caregiver (reads and writes) or clinician (reads only).") var role: String
    @Option(help: "How long the code can be used: e.g. 30m, 48h, 7d (default 7d).") var expires: String?
    @Option(name: .customLong("access-expires"), help: "Clinicians only: how long their access lasts, e.g. 90d.")
    var accessExpires: String?

    func validate() throws {
        guard role == "caregiver" || role == "clinician" else { throw ValidationError("--role must be caregiver or clinician") }
        if let expires, DurationText(expires) == nil { throw ValidationError("--expires \(expires) is not a duration such as 30m, 48h or 7d") }
        if let accessExpires {
            guard DurationText(accessExpires) != nil else { throw ValidationError("--access-expires \(accessExpires) is not a duration such as 90d") }
            guard role == "clinician" else { throw ValidationError("--access-expires applies to clinicians only") }
        }
    }

    func run() async throws {
        let device = try global.device()
        let invitation = try await device.invite(
            role: DeviceRole(rawValue: role)!, expiresIn: expires.flatMap(DurationText.init)?.seconds,
            accessExpiresIn: accessExpires.flatMap(DurationText.init)?.seconds)
        if global.json {
            print(
                Output.object([
                    ("code", .optional(invitation.code)), ("diary", .optional(invitation.diary.canonical)),
                    ("role", .optional(invitation.role.rawValue)), ("expires_at", .optional(invitation.expiresAt)),
                ]))
        } else {
            print("Invite for a \(invitation.role.rawValue), usable once until \(invitation.expiresAt). On their machine:")
            print("  syncctl join \(device.identity.server) \(invitation.code)")
            print(invitation.code)
        }
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the diary's devices.", discussion: helpExamples("syncctl devices", "syncctl devices --json"))
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let device = try global.device()
        let members = try await device.devices()
        if global.json {
            let items = members.map { member in
                Output.object([
                    ("id", .optional(member.id.canonical)), ("name", .optional(member.name)), ("role", .optional(member.role.rawValue)),
                    ("revoked", .bool(member.revoked)), ("created_at", .optional(member.createdAt)),
                    ("access_expires_at", .optional(member.accessExpiresAt)),
                ])
            }
            print("[" + items.joined(separator: ",") + "]")
            return
        }
        Output.table(
            ["ID", "NAME", "ROLE", "STATUS"],
            members.map { member in
                [
                    member.id.canonical, member.name, member.role.rawValue,
                    member.revoked ? "revoked" : (member.id == device.identity.device ? "this device" : "active"),
                ]
            })
    }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a lost or retired device (owners only).",
        discussion: helpExamples("syncctl revoke \"Grandma's tablet\"", "syncctl revoke 019e84a3-2b17"))
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The device's id, a unique start of it, or its exact name.") var device: String

    func run() async throws {
        let revoked = try await global.device().revoke(device)
        if global.json {
            print(
                Output.object([
                    ("id", .optional(revoked.id.canonical)), ("name", .optional(revoked.name)),
                    ("role", .optional(revoked.role.rawValue)),
                    ("revoked", .bool(true)),
                ]))
        } else {
            print("Revoked \"\(revoked.name)\" (\(revoked.id.canonical)): it can no longer sync.")
        }
    }
}

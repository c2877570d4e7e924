import ArgumentParser
import CareSyncClient
import Foundation

@main
struct Syncctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncctl",
        abstract: "Keep a CareSync diary of CRMO flares and treatments on this machine, and sync it with the family's server.",
        discussion: """
            Exit codes: 0 success, 1 error, 2 usage error, 3 server unreachable (queued changes are kept), \
            4 authentication or permission refused.
            """,
        subcommands: [
            Join.self, FlareCommand.self, TreatmentCommand.self, Push.self, Pull.self, Sync.self, Status.self, Log.self,
            Conflicts.self, Invite.self, Devices.self, Revoke.self, Import.self, Export.self, Report.self,
        ])

    /// Runs the command and exits with the codes of SPEC section 5: usage errors are 2 (not
    /// ArgumentParser's 64), and client errors carry their own code.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ClientError {
            Output.error(error.description)
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { Output.error(message) }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Options every command that works on a diary takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The folder holding this device's key and replica (default: $CARESYNC_HOME, else ~/.local/share/caresync).")
    var home: String?
    @Option(help: "The diary to work on, when this home has joined several.")
    var diary: String?
    @Flag(help: "Print machine-readable JSON instead of tables.")
    var json = false

    var clientHome: ClientHome { home.map(ClientHome.init(path:)) ?? ClientHome.fromEnvironment() }

    func device() throws -> DiaryDevice {
        try DiaryDevice(home: clientHome, diary: diary)
    }
}

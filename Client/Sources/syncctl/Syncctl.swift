import ArgumentParser
import CareSyncClient
import Foundation

@main
struct Syncctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncctl",
        abstract:
            "Keep a CareSync diary of CRMO on this machine (daily check-ins, flares, treatments, labs, imaging, growth), and sync it with the family's server.",
        discussion: [
            "Exit codes: 0 success, 1 error, 2 usage error, 3 server unreachable (queued changes are kept), 4 authentication or permission refused.",
            helpExamples(
                "syncctl join http://192.168.1.20:8080 k7qp-3m2x-wd4f-ha6t-r2nc-y5ue-gb3j-q7xm",
                "syncctl checkin --pain 2 --wellbeing 1",
                "syncctl flare add --started 2026-11-20 --site tibia-left --pain 6 --swelling",
                "syncctl sync"),
        ].joined(separator: "\n\n"),
        subcommands: [
            Join.self, CheckinCommand.self, FlareCommand.self, TreatmentCommand.self, LabCommand.self, ImagingCommand.self, GrowthCommand.self,
            Push.self, Pull.self, Sync.self, Status.self, Log.self,
            Conflicts.self, Invite.self, Devices.self, Revoke.self, Import.self, Export.self, Report.self,
        ])

    /// Runs the command and exits with the codes of docs/USAGE.md: usage errors are 2 (not
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

/// The end of a command's overview in its help: "Examples:" and the invocations, each of which
/// SyncctlHelpTests runs. Help is wrapped to the terminal, or to 80 columns when it is not one, so an
/// invocation longer than that goes on, after " \", on the next line: it can still be pasted whole.
func helpExamples(_ invocations: String...) -> String {
    helpExamples(invocations)
}

func helpExamples(_ invocations: [String]) -> String {
    "Examples:\n" + invocations.map(continuedLines).joined(separator: "\n")
}

/// One invocation indented by two spaces, in lines of at most 79 columns. A line breaks between words
/// outside quotes, and never between an option and its value.
private func continuedLines(_ invocation: String) -> String {
    var words: [String] = []
    var word = ""
    var quote: Character?
    for character in invocation {
        if character == " ", quote == nil {
            words.append(word)
            word = ""
            continue
        }
        if quote == nil, character == "\"" || character == "'" {
            quote = character
        } else if character == quote {
            quote = nil
        }
        word.append(character)
    }
    words.append(word)
    var units: [String] = []
    for word in words {
        if let last = units.last, last.hasPrefix("-"), !last.contains(" "), !word.hasPrefix("-") {
            units[units.count - 1] += " " + word
        } else {
            units.append(word)
        }
    }
    var lines = ["  " + units[0]]
    for (index, unit) in units.enumerated().dropFirst() {
        let continuation = index == units.count - 1 ? 0 : " \\".count
        if lines[lines.count - 1].count + 1 + unit.count + continuation > 79 {
            lines.append("      " + unit)
        } else {
            lines[lines.count - 1] += " " + unit
        }
    }
    return lines.joined(separator: " \\\n")
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

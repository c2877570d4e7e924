import Foundation
import Testing

/// `syncctl`'s own help: every command shows examples that parse, and the shell completion scripts
/// (issue 24). The commands are the binary's own, read from `--experimental-dump-help`, so a command
/// added without examples fails here.
@Suite struct SyncctlHelpTests {
    /// Every command's path below `syncctl` (the root is `[]`), walked from the binary's description of itself.
    /// ArgumentParser's generated `help` command is left out: it has no configuration of ours to give examples.
    static func commandPaths() async throws -> [[String]] {
        let dump = try await run(Binaries.syncctl, ["--experimental-dump-help"])
        try #require(dump.status == 0, "\(dump)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var paths: [[String]] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            paths.append(path)
            for case let subcommand as [String: Any] in command["subcommands"] as? [Any] ?? [] {
                guard let name = subcommand["commandName"] as? String, name != "help" else { continue }
                walk(subcommand, path + [name])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        try #require(paths.contains(["flare", "add"]) && paths.contains(["treatment", "update"]), "the walk reached the subcommands: \(paths)")
        return paths
    }

    /// Runs syncctl as a terminal 80 columns wide would (help is wrapped to the terminal), on a home that
    /// has joined no diary.
    static func syncctl(_ arguments: [String], home: TemporaryFolder) async throws -> ProcessResult {
        try await run(Binaries.syncctl, arguments, environment: ["COLUMNS": "80", "CARESYNC_HOME": home.path("home")])
    }

    /// The invocations under "Examples:" in a help text, up to the next blank line; a line ending in " \"
    /// goes on on the next one.
    static func examples(inHelp help: String) -> [String] {
        let lines = help.components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: "Examples:") else { return [] }
        var examples: [String] = []
        var continued = false
        for line in lines[(start + 1)...] {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { break }
            let part = text.hasSuffix(" \\") ? String(text.dropLast(2)) : text
            if continued { examples[examples.count - 1] += " " + part } else { examples.append(part) }
            continued = text.hasSuffix(" \\")
        }
        return examples
    }

    /// An invocation split as a shell splits it: at spaces outside single or double quotes, quotes removed.
    static func shellWords(_ invocation: String) -> [String] {
        var words: [String] = []
        var word: String?
        var quote: Character?
        for character in invocation {
            if let open = quote {
                if character == open { quote = nil } else { word!.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                word = word ?? ""
            } else if character == " " {
                if let finished = word { words.append(finished) }
                word = nil
            } else {
                word = (word ?? "") + String(character)
            }
        }
        if let word { words.append(word) }
        return words
    }

    @Test func everyCommandsHelpEndsItsOverviewWithExamplesOfThatCommand() async throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        for path in try await Self.commandPaths() {
            let name = (["syncctl"] + path).joined(separator: " ")
            let help = try await Self.syncctl(path + ["--help"], home: home)
            #expect(help.status == 0, "\(name) --help: \(help)")
            let examples = Self.examples(inHelp: help.stdout)
            #expect(!examples.isEmpty, "\(name) --help shows no \"Examples:\":\n\(help.stdout)")
            // A parent's default subcommand runs without its name (`syncctl checkin --pain 2`).
            let parentHelp = path.count > 1 ? try await Self.syncctl(Array(path.dropLast()) + ["--help"], home: home).stdout : ""
            let isDefault = parentHelp.contains("\(path.last ?? "") (default)")
            for example in examples {
                let words = Self.shellWords(example)
                let named = Array(words.prefix(path.count + 1)) == ["syncctl"] + path
                let defaulted = isDefault && Array(words.prefix(path.count)) == ["syncctl"] + path.dropLast()
                #expect(
                    named || defaulted, "an example in \(name) --help is not an invocation of \(name) (a line too long wraps): \(example)")
            }
        }
    }

    /// Each example runs past ArgumentParser, which would exit 2 with "Error: …" and "Usage: …" on a
    /// misspelt option, a missing argument or a value that `validate()` refuses, to the command itself,
    /// which then stops because this home has joined no diary (exit 1), or, for `join`, because no server
    /// listens (exit 3): the example's server is replaced by a closed port on 127.0.0.1, as a URL is a
    /// plain argument whose value plays no part in parsing, so no test reaches out to the example's address.
    /// They run at once, as a refused connection takes `join` its whole connect timeout (10 s) to report.
    @Test func everyExampleInTheHelpParses() async throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let paths = try await Self.commandPaths()
        var examples: [String] = []
        for path in paths {
            examples += Self.examples(inHelp: try await Self.syncctl(path + ["--help"], home: home).stdout)
        }
        #expect(examples.count >= paths.count, "every command has at least one example")
        let results = try await withThrowingTaskGroup(of: (String, ProcessResult).self) { group in
            for example in examples {
                let arguments = Self.shellWords(example).dropFirst().map { word in
                    word.hasPrefix("http://") || word.hasPrefix("https://") ? "http://127.0.0.1:1" : word
                }
                group.addTask { (example, try await Self.syncctl(Array(arguments), home: home)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (example, result) in results {
            #expect(result.status == 1 || result.status == 3, "\(example)\n\(result)")
            #expect(!result.stderr.contains("Error:") && !result.stderr.contains("Usage:"), "\(example)\n\(result)")
            #expect(result.stderr.hasPrefix("syncctl: "), "\(example)\n\(result)")
        }
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func theCompletionScriptNamesEveryCommand(shell: String) async throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let result = try await Self.syncctl(["--generate-completion-script", shell], home: home)
        #expect(result.status == 0, "\(result)")
        for path in try await Self.commandPaths() where !path.isEmpty {
            let named = result.stdout.contains(path.last!)
            #expect(named, "the \(shell) script names \(path.joined(separator: " "))")
        }
        // fish names a long option without its dashes: `-l 'fever-c'`.
        for option in ["site", "fever-c", "dose", "access-expires"] {
            let named = result.stdout.contains(shell == "fish" ? "-l '\(option)'" : "--\(option)")
            #expect(named, "the \(shell) script completes --\(option)")
        }
        // The shell reads the script without running it (Tests/run.sh installs zsh and fish).
        let executable = try #require(
            ["/usr/bin/\(shell)", "/bin/\(shell)"].first(where: FileManager.default.isExecutableFile(atPath:)), "\(shell) is not installed")
        let script = home.path("syncctl.\(shell)")
        try result.stdout.write(toFile: script, atomically: true, encoding: .utf8)
        let check = try await run(URL(fileURLWithPath: executable), ["-n", script])
        #expect(check.status == 0, "\(shell) -n accepts the script: \(check)")
    }

    /// bash, as it completes `syncctl flare <Tab>` and `syncctl treatment add --d<Tab>` with the script loaded.
    @Test func bashCompletesSubcommandsAndOptions() async throws {
        let home = try TemporaryFolder()
        defer { home.remove() }
        let script = try await Self.syncctl(["--generate-completion-script", "bash"], home: home)
        try #require(script.status == 0, "\(script)")
        try script.stdout.write(toFile: home.path("syncctl.bash"), atomically: true, encoding: .utf8)
        func complete(_ words: [String]) async throws -> [String] {
            let line = words.joined(separator: " ")
            let program = """
                source "$1"
                COMP_WORDS=(\(words.map { "'\($0)'" }.joined(separator: " ")))
                COMP_CWORD=\(words.count - 1)
                COMP_LINE='\(line)'
                COMP_POINT=${#COMP_LINE}
                _syncctl syncctl '\(words[words.count - 1])' '\(words[words.count - 2])'
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let result = try await run(URL(fileURLWithPath: "/bin/bash"), ["-c", program, "bash", home.path("syncctl.bash")])
            #expect(result.status == 0, "\(result)")
            return result.stdout.split(separator: "\n").map(String.init)
        }
        let paths = try await Self.commandPaths()
        let flareSubcommands = paths.filter { $0.count == 2 && $0[0] == "flare" }.map { $0[1] }
        let offered = try await complete(["syncctl", "flare", ""])
        #expect(Set(flareSubcommands).isSubset(of: offered), "syncctl flare <Tab> offers \(offered)")
        let options = try await complete(["syncctl", "treatment", "add", "--d"])
        #expect(Set(options) == ["--diary", "--dose"], "syncctl treatment add --d<Tab> offers \(options)")
    }
}

import Crypto
import SyncCore

/// An invite code: 160 random bits in lowercase base32, written in groups of four
/// (`k7qp-3m2x-…`, 32 letters and digits) so it can be read out over the phone.
///
/// The server keeps only its SHA-256; `normalized` forgives case, spaces and dashes when it is typed back.
struct InviteCode: Sendable {
    let text: String

    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
    static let randomBits = 160

    static func generate() -> InviteCode {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<randomBits / 8).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var characters: [Character] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                characters.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        let groups = stride(from: 0, to: characters.count, by: 4).map { String(characters[$0..<min($0 + 4, characters.count)]) }
        return InviteCode(text: groups.joined(separator: "-"))
    }

    /// The code as typed, reduced to its letters and digits.
    static func normalized(_ typed: String) -> String {
        String(typed.lowercased().filter { $0 != "-" && !$0.isWhitespace })
    }

    /// The key under which the server stores an invite.
    static func hash(_ typed: String) -> String {
        Hex.encode(SHA256.hash(data: Array(normalized(typed).utf8)))
    }
}

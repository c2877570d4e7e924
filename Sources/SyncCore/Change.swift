import Foundation

/// One edit of one record by one device: the unit that is signed, pushed, stored, pulled and merged.
///
/// `seen` holds, for every field the change sets, the stamps of the values its author's replica held for
/// that field when the edit was made (the winner and any open conflicts; empty if the field was unset).
/// That is how a replica tells a sequential edit from a concurrent one (docs/PROTOCOL.md section 5).
public struct Change: Sendable, Hashable {
    public let id: UUID
    public let diary: UUID
    public let record: UUID
    public let type: RecordType
    public let hlc: HLC
    public let author: UUID
    public let fields: [String: JSONValue]
    public let seen: [String: [Stamp]]

    /// The version of the canonical form; it is part of the signed bytes.
    public static let formatVersion: Int64 = 1
    /// A change may list at most this many seen stamps for one field.
    public static let maxSeenPerField = 32

    public init(
        id: UUID, diary: UUID, record: UUID, type: RecordType, hlc: HLC, author: UUID,
        fields: [String: JSONValue], seen: [String: [Stamp]]
    ) {
        self.id = id
        self.diary = diary
        self.record = record
        self.type = type
        self.hlc = hlc
        self.author = author
        self.fields = fields
        // Distinct and ascending, as the canonical form lists them (already so when read from the wire).
        self.seen = seen.mapValues { Change.isStrictlyAscending($0) ? $0 : Array(Set($0)).sorted() }
    }

    static func isStrictlyAscending(_ stamps: [Stamp]) -> Bool {
        zip(stamps, stamps.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// The stamp every field of this change is written with.
    public var stamp: Stamp { Stamp(hlc: hlc, device: author) }

    /// How a person names the record in messages: "flare 0193a5c3-…".
    public var recordLabel: String { "\(type.rawValue) \(record.canonical)" }

    /// The change as the JSON object whose RFC 8785 bytes are signed (docs/PROTOCOL.md, "Canonical form").
    public var canonicalValue: JSONValue {
        .object([
            "v": .int(Self.formatVersion),
            "change": .string(id.canonical),
            "diary": .string(diary.canonical),
            "record": .string(record.canonical),
            "type": .string(type.rawValue),
            "hlc": .string(hlc.text),
            "author": .string(author.canonical),
            "fields": .object(fields),
            "seen": .object(seen.mapValues { .array($0.map { .string($0.text) }) }),
        ])
    }

    /// The bytes that are signed.
    public var canonicalBytes: [UInt8] { canonicalValue.canonicalBytes }

    public static func == (lhs: Change, rhs: Change) -> Bool { lhs.canonicalBytes == rhs.canonicalBytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

extension Change {
    private static let memberNames: Set<String> = ["v", "change", "diary", "record", "type", "hlc", "author", "fields", "seen"]

    /// Reads a change from its JSON object form, refusing anything not exactly in the canonical shape:
    /// unknown or missing members, ids not in canonical lowercase form, seen lists that do not match the fields.
    /// Field values are checked against the record rules by `validate()`.
    public init(canonicalValue value: JSONValue, extraMembers: Set<String> = []) throws(ValidationError) {
        guard let members = value.objectValue else {
            throw ValidationError(record: "change", field: "change", rule: "must be a JSON object (got \(value.typeName))")
        }
        let label = members["change"]?.stringValue.map { "change \($0)" } ?? "change"
        func refuse(_ field: String, _ rule: String) -> ValidationError { ValidationError(record: label, field: field, rule: rule) }
        let isKnown = { (name: String) in Self.memberNames.contains(name) || extraMembers.contains(name) }
        if !members.keys.allSatisfy(isKnown), let unknown = members.keys.sorted().first(where: { !isKnown($0) }) {
            throw refuse(unknown, "is not a member of a change")
        }
        func uuid(_ name: String) throws(ValidationError) -> UUID {
            guard let text = members[name]?.stringValue else { throw refuse(name, "is required and must be a string") }
            guard let id = UUID(canonical: text) else { throw refuse(name, "must be a lowercase hyphenated UUID (got \"\(text)\")") }
            return id
        }
        guard let version = members["v"] else { throw refuse("v", "is required") }
        guard version.intValue == Self.formatVersion else {
            throw refuse("v", "must be \(Self.formatVersion), the only change format this version understands (got \(RecordSchema.shown(version)))")
        }
        let id = try uuid("change")
        let diary = try uuid("diary")
        let record = try uuid("record")
        let author = try uuid("author")
        guard let typeText = members["type"]?.stringValue else { throw refuse("type", "is required and must be a string") }
        guard let type = RecordType(rawValue: typeText) else {
            throw refuse(
                "type",
                "must be a record type name, 1 to 32 of a-z, 0-9 and -, starting with a letter, such as \(RecordType.known.map(\.rawValue).joined(separator: ", ")) (got \(RecordSchema.shown(.string(typeText))))"
            )
        }
        guard let hlcText = members["hlc"]?.stringValue else { throw refuse("hlc", "is required and must be a string") }
        guard let hlc = HLC(text: hlcText) else {
            let isHex = hlcText.utf8.count == 16 && hlcText.utf8.allSatisfy { UUID.nibble($0) != nil }
            throw refuse("hlc", isHex ? HLC.outOfRange(hlcText) : "must be 16 lowercase hex digits (got \"\(hlcText)\")")
        }
        guard let fields = members["fields"]?.objectValue else { throw refuse("fields", "is required and must be an object") }
        guard let seenObject = members["seen"]?.objectValue else { throw refuse("seen", "is required and must be an object") }
        guard seenObject.count == fields.count, seenObject.keys.allSatisfy({ fields[$0] != nil }) else {
            throw refuse("seen", "must have exactly one entry for each field the change sets")
        }
        let stamp = Stamp(hlc: hlc, device: author)
        var seen: [String: [Stamp]] = [:]
        for (field, list) in seenObject {
            guard let items = list.arrayValue, items.count <= Self.maxSeenPerField else {
                throw refuse("seen", "entry for \(field) must be a list of at most \(Self.maxSeenPerField) stamps")
            }
            var stamps: [Stamp] = []
            for item in items {
                guard let text = item.stringValue, let seenStamp = Stamp(text: text) else {
                    throw refuse("seen", "entry for \(field) holds \(RecordSchema.shown(item)), which is not a stamp (HLC@device)")
                }
                guard seenStamp < stamp else {
                    throw refuse("seen", "entry for \(field) holds \(text), which is not older than the change itself")
                }
                stamps.append(seenStamp)
            }
            guard Self.isStrictlyAscending(stamps) else {
                throw refuse("seen", "entry for \(field) must list distinct stamps in ascending order")
            }
            seen[field] = stamps
        }
        self.init(id: id, diary: diary, record: record, type: type, hlc: hlc, author: author, fields: fields, seen: seen)
    }

    /// Checks what a change may be when it is made or pushed: an HLC after zero, and every field value
    /// against the record rules of docs/PROTOCOL.md section 2. Reading a change checks its form only, so that one
    /// stored under earlier rules is still read and merged by every replica.
    public func validate() throws(ValidationError) {
        guard hlc >= HLC.first else {
            throw ValidationError(record: "change \(id.canonical)", field: "hlc", rule: HLC.outOfRange(hlc.text))
        }
        try RecordSchema.validateChange(type: type, fields: fields, record: recordLabel)
        try RecordSchema.validateRecordID(type: type, record: record, diary: diary, fields: fields, label: recordLabel)
    }
}

/// A change with the HMAC-SHA256 its author computed over the change's canonical bytes.
public struct SignedChange: Sendable, Hashable {
    public let change: Change
    /// 32 bytes.
    public let signature: [UInt8]

    public init(change: Change, signature: [UInt8]) {
        self.change = change
        self.signature = signature
    }

    /// The wire form: the canonical object plus `"sig"`, the signature in lowercase hex.
    public var wireValue: JSONValue {
        guard case .object(var members) = change.canonicalValue else { preconditionFailure("a change is an object") }
        members["sig"] = .string(Hex.encode(signature))
        return .object(members)
    }

    /// The members canonical order puts after `"sig"`, closing the object: `,"type":"flare","v":1}`.
    var closingMembers: [UInt8] { Array(",\"type\":\"\(change.type.rawValue)\",\"v\":\(Change.formatVersion)}".utf8) }

    /// How `"sig"` begins in the canonical wire form; 64 hex digits and a quote follow.
    static let signatureMemberStart = Array(",\"sig\":\"".utf8)
    static let signatureMemberCount = signatureMemberStart.count + 64 + 1

    /// The canonical bytes of the wire form, made from the change's canonical bytes (which a signer or
    /// verifier has at hand) by inserting `"sig"` where canonical order puts it: after `"seen"`, before
    /// the closing `"type"` and `"v"` members. Equal to `wireValue.canonicalBytes`, without encoding twice.
    public func wireBytes(canonical: [UInt8]) -> [UInt8] {
        let suffix = closingMembers
        guard canonical.count > suffix.count, canonical.suffix(suffix.count).elementsEqual(suffix) else {
            return wireValue.canonicalBytes
        }
        var wire: [UInt8] = []
        wire.reserveCapacity(canonical.count + Self.signatureMemberCount)
        wire.append(contentsOf: canonical.prefix(canonical.count - suffix.count))
        wire.append(contentsOf: Self.signatureMemberStart)
        wire.append(contentsOf: Array(Hex.encode(signature).utf8))
        wire.append(UInt8(ascii: "\""))
        wire.append(contentsOf: suffix)
        return wire
    }

    /// Reads the wire form. The signature is only decoded here; `ChangeSigner.isValid` checks it.
    public init(wireValue value: JSONValue) throws(ValidationError) {
        let change = try Change(canonicalValue: value, extraMembers: ["sig"])
        guard let text = value.objectValue?["sig"]?.stringValue else {
            throw ValidationError(record: "change \(change.id.canonical)", field: "sig", rule: "is required: the HMAC-SHA256 of the change in hex")
        }
        guard let signature = Hex.decode(text), signature.count == 32 else {
            throw ValidationError(record: "change \(change.id.canonical)", field: "sig", rule: "must be 64 lowercase hex digits")
        }
        self.init(change: change, signature: signature)
    }
}

/// A signed change as it arrived on the wire, with its canonical wire bytes: the bytes received when
/// they were already canonical (as every CareSync client and server sends them), else encoded again.
/// The server checks the signature over them and stores them; a replica logs them. Neither encodes
/// the change a second time.
public struct ReceivedChange: Sendable {
    public let signed: SignedChange
    /// The canonical wire form, with `"sig"`.
    public let wireBytes: [UInt8]
    /// Where `,"sig":"…"` lies in `wireBytes`: without it, they are the signed canonical bytes.
    private let signatureMember: Range<Int>

    /// Reads a change from one element of a list of changes.
    public init(_ element: JSONElement) throws(ValidationError) {
        let signed: SignedChange
        switch element.content {
        case .signedChange(let read): signed = read
        case .value(let value): signed = try SignedChange(wireValue: value)
        }
        self.signed = signed
        // Canonical order puts "sig" last but for "type" and "v": …,"sig":"<64 hex>","type":"flare","v":1}
        let suffix = signed.closingMembers.count
        let member = SignedChange.signatureMemberStart
        let memberCount = SignedChange.signatureMemberCount
        if element.isCanonical, element.bytes.count > suffix + memberCount {
            let start = element.bytes.startIndex + element.bytes.count - suffix - memberCount
            if element.bytes[start..<start + member.count].elementsEqual(member) {
                wireBytes = Array(element.bytes)
                let offset = start - element.bytes.startIndex
                signatureMember = offset..<offset + memberCount
                return
            }
        }
        wireBytes = signed.wireValue.canonicalBytes
        signatureMember = (wireBytes.count - suffix - memberCount)..<(wireBytes.count - suffix)
    }

    public var change: Change { signed.change }

    /// The bytes the author signed, where they lie in `wireBytes`: both sides of `,"sig":"…"`.
    private var signedPieces: [ArraySlice<UInt8>] {
        [wireBytes[..<signatureMember.lowerBound], wireBytes[signatureMember.upperBound...]]
    }

    /// The bytes the author signed.
    public var canonicalBytes: [UInt8] { Array(signedPieces.joined()) }

    /// Whether the signature is the HMAC of the change under `key`, compared in constant time.
    public func isValid(key: DeviceKey) -> Bool {
        isValid(ChangeVerifier(key: key))
    }

    /// Whether the signature is the HMAC of the change under the verifier's key: the canonical bytes
    /// are hashed where they lie, without being copied.
    public func isValid(_ verifier: ChangeVerifier) -> Bool {
        verifier.isValid(signature: signed.signature, for: signedPieces)
    }
}

/// Lowercase hexadecimal, the text form of keys and signatures.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase hex only.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = UUID.nibble(utf8[index]), let low = UUID.nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}

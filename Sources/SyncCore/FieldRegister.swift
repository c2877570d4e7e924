import Foundation

/// One value of one field, as written by one change.
public struct FieldEntry: Hashable, Sendable, Comparable {
    public let value: JSONValue
    public let stamp: Stamp
    public let change: UUID

    public init(value: JSONValue, stamp: Stamp, change: UUID) {
        self.value = value
        self.stamp = stamp
        self.change = change
    }

    /// Whether both are the value one change wrote to this field: same change, same stamp. (Cheaper
    /// than `==`, which compares the values' canonical bytes.)
    public func isSameWrite(as other: FieldEntry) -> Bool {
        change == other.change && stamp == other.stamp
    }

    /// Last-writer-wins order: the greater (HLC, author) wins. Honest devices never reuse a stamp; the
    /// change id only keeps replicas in agreement should a faulty one do so.
    public static func < (lhs: FieldEntry, rhs: FieldEntry) -> Bool {
        wins(stamp: rhs.stamp, change: rhs.change.canonical, over: lhs.stamp, lhs.change.canonical)
    }

    /// The one rule of who wins a field, for values kept as stamps or as their texts (a stamp's text
    /// sorts as the stamp does: fixed-width hex clock, then the author's canonical id), as a server
    /// keeps them: the write with the greater stamp, then the greater change id.
    @inlinable
    public static func wins<StampKey: Comparable>(
        stamp: StampKey, change: String, over otherStamp: StampKey, _ otherChange: String
    ) -> Bool {
        stamp != otherStamp ? stamp > otherStamp : change > otherChange
    }
}

/// The merged state of one field of one record: the winning value and the values no later edit has
/// superseded knowingly ("heads"). A head other than the winner is an open conflict: a concurrent edit
/// that last-writer-wins overrode, kept until someone edits the field having seen it.
///
/// Heads are a function of the set of changes applied, not of their order: a change's value is a head
/// unless some change lists its stamp in `seen`. That is what makes conflicts identical on every replica.
public struct FieldRegister: Hashable, Sendable {
    public private(set) var winner: FieldEntry
    /// Sorted ascending; always contains the winner.
    public private(set) var heads: [FieldEntry]

    /// A register holding one value, superseded already if a known change has seen it.
    public init(_ entry: FieldEntry, superseded: Bool = false) {
        winner = entry
        heads = superseded ? [] : [entry]
    }

    /// Rebuilds a register from stored state.
    public init(winner: FieldEntry, heads: [FieldEntry]) {
        self.winner = winner
        self.heads = heads.sorted()
    }

    /// Merges one value in.
    /// - Parameters:
    ///   - entry: the value, stamp and change id.
    ///   - seen: the stamps the author had seen for this field; those values are superseded now.
    ///   - superseded: whether an already-applied change has listed `entry.stamp` in its `seen`.
    /// - Returns: whether the winning value changed.
    @discardableResult
    public mutating func apply(_ entry: FieldEntry, seen: [Stamp], superseded: Bool) -> Bool {
        let winnerChanged = winner < entry
        if winnerChanged { winner = entry }
        if !seen.isEmpty {
            let seenSet = Set(seen)
            heads.removeAll { seenSet.contains($0.stamp) }
        }
        if !superseded, !heads.contains(where: { $0.isSameWrite(as: entry) }) {
            heads.append(entry)
            heads.sort()
        }
        return winnerChanged
    }

    /// The values last-writer-wins overrode that nobody has seen and edited over yet. A concurrent write
    /// of the winner's own value (two parents creating the day's check-in) overrode nothing.
    public var overridden: [FieldEntry] { heads.filter(isOverridden) }

    func isOverridden(_ head: FieldEntry) -> Bool {
        !head.isSameWrite(as: winner) && head.value != winner.value
    }

    /// What a new local edit of this field must list as `seen`: every value its author is shown.
    public var stampsToSee: [Stamp] { heads.map(\.stamp) }
}

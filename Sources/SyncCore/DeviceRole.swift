/// What a device may do in its diary (docs/USAGE.md, "Roles").
public enum DeviceRole: String, Sendable, CaseIterable, Codable, Hashable {
    /// Reads, writes, invites and revokes.
    case owner
    /// Reads and writes.
    case caregiver
    /// Reads only; the access may expire.
    case clinician

    public var canWrite: Bool { self != .clinician }
    public var canAdminister: Bool { self == .owner }
}

/// What a device may do in its diary (SPEC section 6).
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

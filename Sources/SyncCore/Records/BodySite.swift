/// Where a lesion is: a bone (or region) from the CareSync vocabulary, with a side where the bone is paired.
///
/// Text form: `tibia-left`, `clavicle-right`, `spine`. The vocabulary, and the sources for the sites CRMO
/// literature reports often enough to matter, are in docs/PROTOCOL.md, "Body sites".
public struct BodySite: Hashable, Sendable, CustomStringConvertible {
    public enum Side: String, Sendable, CaseIterable {
        case left, right
    }

    public let bone: String
    public let side: Side?

    /// Bones that exist on both sides of the body and therefore need `-left` or `-right`.
    public static let pairedBones: [String] = [
        "femur", "tibia", "fibula", "humerus", "radius", "ulna", "clavicle", "scapula", "pelvis",
        "rib", "calcaneus", "talus", "metatarsal", "other-foot", "hand",
        // Extensions: the patella and the sacroiliac joint (sacroiliitis is common in CNO).
        "patella", "sacroiliac",
    ]

    /// Bones and regions that stand alone.
    public static let unpairedBones: [String] = [
        "sacrum", "spine", "sternum", "mandible", "other",
        // Extensions: the spinal level, which decides the work-up (vertebral collapse) in CRMO.
        "spine-cervical", "spine-thoracic", "spine-lumbar",
    ]

    private init(bone: String, side: Side?) {
        self.bone = bone
        self.side = side
    }

    /// Every site, in vocabulary order.
    private static let all: [BodySite] =
        pairedBones.flatMap { bone in Side.allCases.map { BodySite(bone: bone, side: $0) } } + unpairedBones.map { BodySite(bone: $0, side: nil) }

    /// Every valid site text, in vocabulary order.
    public static let allSites: [String] = all.map(\.text)

    /// Every site by its text: every change's sites are looked up here.
    private static let byText = Dictionary(uniqueKeysWithValues: all.map { ($0.text, $0) })

    public init?(_ text: String) {
        guard let site = Self.byText[text] else { return nil }
        self = site
    }

    public var text: String { side.map { "\(bone)-\($0.rawValue)" } ?? bone }

    public var description: String { text }

    /// Why `text` is not a site, in words a parent can act on.
    public static func explainInvalid(_ text: String) -> String {
        if pairedBones.contains(text) {
            return "\"\(text)\" needs a side: \(text)-left or \(text)-right"
        }
        for bone in unpairedBones where text.hasPrefix(bone + "-") && Side(rawValue: String(text.dropFirst(bone.count + 1))) != nil {
            return "\"\(text)\" takes no side: use \(bone)"
        }
        return "\"\(text)\" is not a known body site (known: \(pairedBones.map { $0 + "-left/-right" }.joined(separator: ", ")), "
            + "\(unpairedBones.joined(separator: ", ")))"
    }
}

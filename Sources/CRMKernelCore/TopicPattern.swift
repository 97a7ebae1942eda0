/// A subscription pattern over dot-separated topics: "*" matches exactly one
/// segment, a final ">" matches one or more ("contacts.contact.*", "sales.>").
public struct TopicPattern: Sendable, Equatable {
    private let segments: [Substring]
    public let text: String

    public init?(_ text: String) {
        let segments = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, !segments.contains(where: \.isEmpty) else { return nil }
        if let index = segments.firstIndex(of: ">"), index != segments.count - 1 { return nil }
        self.segments = segments
        self.text = text
    }

    public func matches(_ topic: String) -> Bool {
        var i = 0
        for part in topic.split(separator: ".", omittingEmptySubsequences: false) {
            guard i < segments.count else { return false }
            let segment = segments[i]
            if segment == ">" { return true }
            if segment != "*" && segment != part { return false }
            i += 1
        }
        return i == segments.count
    }

    /// True if any pattern matches; an empty list matches everything.
    public static func any(_ patterns: [TopicPattern], match topic: String) -> Bool {
        patterns.isEmpty || patterns.contains { $0.matches(topic) }
    }

    /// A topic a plugin may publish: "<plugin>.<entity>.<event>" style,
    /// lowercase letters, digits and "_" per segment, at least two segments.
    public static func isValidTopic(_ topic: String, publisher: String) -> Bool {
        let segments = topic.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 2, segments[0] == publisher, topic.utf8.count <= 200 else { return false }
        return segments.allSatisfy { segment in
            !segment.isEmpty && segment.utf8.allSatisfy {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || $0 == UInt8(ascii: "_")
            }
        }
    }
}

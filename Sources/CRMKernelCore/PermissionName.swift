/// "<plugin>.<entity>.<action>": lowercase segments of letters, digits and _.
public enum PermissionName {
    public static func isValid(_ name: String, plugin: String) -> Bool {
        let segments = name.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count >= 3, segments[0] == plugin else { return false }
        return segments.allSatisfy { segment in
            guard let first = segment.first, first.isASCII, first.isLowercase else { return false }
            return segment.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
        }
    }
}

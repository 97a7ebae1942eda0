/// The decisions behind loading plugins, made from their manifests alone:
/// whether each found plugin may load on its own account, then which of
/// those load and in what order (dependencies first).
public enum PluginPlan {
    /// Names that would own the kernel's or SQLite's tables.
    public static let reservedNames: Set<String> = ["kernel", "crm", "sqlite"]

    /// A plugin's name is the prefix of its tables (`sales_…`) and topics, so
    /// it is lowercase letters and digits only: with no `_` in names, no
    /// plugin's prefix can be the start of another's (`sales` vs `sales_leads`).
    public static func nameProblem(_ name: String) -> String? {
        let valid = (1...32).contains(name.utf8.count)
            && name.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true
            && name.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        if !valid { return "plugin name \"\(name)\" must be 1-32 lowercase letters and digits, starting with a letter" }
        if reservedNames.contains(name) { return "plugin name \"\(name)\" is reserved" }
        return nil
    }

    /// Whether a plugin may load on its own account, before its dependencies
    /// are looked at: eligible, left out by the enable list (a `nil` list
    /// enables everything), or failed with the reason.
    public static func screen(name: String, version: String, abiVersion: UInt32, hostABI: UInt32,
                              enabled: [String]?) -> Candidate.State {
        if let enabled, !enabled.contains(name) { return .disabled("not in the enable list") }
        if let problem = nameProblem(name) { return .failed(problem) }
        if abiVersion != hostABI {
            return .failed("built for plugin ABI \(abiVersion); this crmd speaks ABI \(hostABI)")
        }
        if SemanticVersion(version) == nil { return .failed("version \"\(version)\" is not a semantic version") }
        return .eligible
    }
}

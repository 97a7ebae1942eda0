import Foundation

/// Finds plugin manifests and decides, before any code runs, which plugins
/// load and in what order: enabled ones whose dependencies are present, in
/// the right versions, and acyclic, dependencies first.
struct PluginPlanner {
    let directory: String
    let enabled: [String]?
    let settings: [String: [String: String]]

    /// Names that would own the kernel's or SQLite's tables.
    static let reservedNames: Set<String> = ["kernel", "crm", "sqlite"]

    /// A plugin's name is the prefix of its tables (`sales_…`) and topics, so
    /// it is lowercase letters and digits only: with no `_` in names, no
    /// plugin's prefix can be the start of another's (`sales` vs `sales_leads`).
    static func nameProblem(_ name: String) -> String? {
        let valid = (1...32).contains(name.utf8.count)
            && name.utf8.first.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) } == true
            && name.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        if !valid { return "plugin name \"\(name)\" must be 1-32 lowercase letters and digits, starting with a letter" }
        if reservedNames.contains(name) { return "plugin name \"\(name)\" is reserved" }
        return nil
    }

    /// Every plugin found or asked for, and the subset to load, in order.
    func plan() -> (all: [PluginRecord], loadOrder: [PluginRecord]) {
        var records: [String: PluginRecord] = [:]
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(PluginManifestFile.suffix) }.sorted()
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            let fallbackName = String(file.dropLast(PluginManifestFile.suffix.count))
            do {
                let manifest = try PluginManifestFile.read(path)
                if let existing = records[manifest.name] {
                    existing.fail("two manifests name plugin \(manifest.name)")
                    continue
                }
                records[manifest.name] = PluginRecord(manifest: manifest, directory: directory,
                                                      settings: settings[manifest.name] ?? [:])
            } catch {
                records[fallbackName] = PluginRecord(unreadable: fallbackName, path: path, reason: "\(error)")
            }
        }
        for name in enabled ?? [] where records[name] == nil {
            records[name] = PluginRecord(
                unreadable: name, path: directory,
                reason: "enabled, but no \(name)\(PluginManifestFile.suffix) in plugin directory \(directory)")
        }
        for record in records.values where record.state == .unspecified {
            if let enabled, !enabled.contains(record.name) {
                record.state = .disabled
                record.reason = "not in the enable list"
            } else if let problem = Self.nameProblem(record.name) {
                record.fail(problem)
            } else if record.abiVersion != CRM_PLUGIN_ABI_VERSION_VALUE {
                record.fail("built for plugin ABI \(record.abiVersion); this crmd speaks ABI \(CRM_PLUGIN_ABI_VERSION_VALUE)")
            } else if SemanticVersion(record.version) == nil {
                record.fail("version \"\(record.version)\" is not a semantic version")
            }
        }
        let order = dependencyOrder(records)
        let all = records.values.sorted { $0.name < $1.name }
        return (all, order)
    }

    /// Depth-first topological order; a plugin whose dependency is missing,
    /// refused, of the wrong version or part of a cycle is failed with the reason.
    private func dependencyOrder(_ records: [String: PluginRecord]) -> [PluginRecord] {
        var order: [PluginRecord] = []
        var visiting: [String] = []
        var done: Set<String> = []

        func visit(_ record: PluginRecord) -> Bool {
            if done.contains(record.name) { return record.state == .unspecified }
            if let start = visiting.firstIndex(of: record.name) {
                let cycle = (visiting[start...] + [record.name]).joined(separator: " -> ")
                record.fail("dependency cycle: \(cycle)")
                return false
            }
            guard record.state == .unspecified else { done.insert(record.name); return false }
            visiting.append(record.name)
            defer { visiting.removeLast(); done.insert(record.name) }
            for dependency in record.dependencies {
                guard let target = records[dependency.name] else {
                    record.fail("depends on \(dependency.name) \(dependency.range), which is not installed")
                    return false
                }
                guard visit(target) else {
                    if record.state == .unspecified {
                        let why = target.state == .disabled ? "disabled" : "not loaded"
                        record.fail("depends on \(dependency.name) \(dependency.range), which is \(why)")
                    }
                    return false
                }
                guard let range = VersionRange(dependency.range) else {
                    record.fail("dependency range \"\(dependency.range)\" for \(dependency.name) is not valid")
                    return false
                }
                guard let version = SemanticVersion(target.version), range.contains(version) else {
                    record.fail("depends on \(dependency.name) \(dependency.range), but \(target.version) is installed")
                    return false
                }
            }
            if record.state == .unspecified { order.append(record) }
            return record.state == .unspecified
        }

        for name in records.keys.sorted() { _ = visit(records[name]!) }
        return order
    }
}

/// The ABI version this crmd was built against, as a Swift constant.
let CRM_PLUGIN_ABI_VERSION_VALUE: UInt32 = 1

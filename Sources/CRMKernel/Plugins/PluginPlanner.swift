import CRMKernelCore
import CRMPluginABI
import Foundation

/// Finds plugin manifests and decides, before any code runs, which plugins
/// load and in what order: enabled ones whose dependencies are present, in
/// the right versions, and acyclic, dependencies first (the decisions
/// themselves are PluginPlan's).
struct PluginPlanner {
    let directory: String
    let enabled: [String]?
    let settings: [String: [String: String]]

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
            switch PluginPlan.screen(name: record.name, version: record.version, abiVersion: record.abiVersion,
                                     hostABI: CRM_PLUGIN_ABI_VERSION, enabled: enabled) {
            case .disabled(let reason):
                record.state = .disabled
                record.reason = reason
            case .failed(let reason): record.fail(reason)
            case .eligible: break
            }
        }
        let order = PluginPlan.order(records.values.map(Self.candidate))
        for failure in order.failures { records[failure.name]?.fail(failure.reason) }
        let all = records.values.sorted { $0.name < $1.name }
        return (all, order.loadOrder.compactMap { records[$0] })
    }

    private static func candidate(_ record: PluginRecord) -> PluginPlan.Candidate {
        let state: PluginPlan.Candidate.State = switch record.state {
        case .unspecified: .eligible
        case .disabled: .disabled(record.reason)
        default: .failed(record.reason)
        }
        return .init(name: record.name, version: record.version, dependencies: record.dependencies, state: state)
    }
}

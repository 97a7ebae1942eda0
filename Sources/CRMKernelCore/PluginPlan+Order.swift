extension PluginPlan {
    /// A plugin as the ordering sees it.
    public struct Candidate: Sendable {
        public enum State: Equatable, Sendable {
            case eligible
            case disabled(String)
            case failed(String)
        }

        public var name: String
        public var version: String
        /// Each dependency's name and version range (see VersionRange).
        public var dependencies: [(name: String, range: String)]
        public var state: State

        public init(name: String, version: String, dependencies: [(name: String, range: String)], state: State) {
            self.name = name
            self.version = version
            self.dependencies = dependencies
            self.state = state
        }
    }

    /// The eligible plugins that load, dependencies first, and why each of
    /// the others that was eligible fails, in the order found.
    public struct Order: Sendable {
        public var loadOrder: [String] = []
        public var failures: [(name: String, reason: String)] = []
    }

    /// Depth-first topological order over `candidates` (taken by name, in
    /// name order, so the result does not depend on the input's order). A
    /// plugin whose dependency is missing, not loading, of the wrong version
    /// or part of a cycle fails with the reason.
    public static func order(_ candidates: [Candidate]) -> Order {
        let byName = Dictionary(candidates.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var state = byName.mapValues(\.state)
        var result = Order()
        var visiting: [String] = []
        var done: Set<String> = []

        func fail(_ name: String, _ reason: String) {
            state[name] = .failed(reason)
            result.failures.append((name, reason))
        }

        func visit(_ candidate: Candidate) -> Bool {
            let name = candidate.name
            if done.contains(name) { return state[name] == .eligible }
            if let start = visiting.firstIndex(of: name) {
                fail(name, "dependency cycle: " + (visiting[start...] + [name]).joined(separator: " -> "))
                return false
            }
            guard state[name] == .eligible else { done.insert(name); return false }
            visiting.append(name)
            defer { visiting.removeLast(); done.insert(name) }
            for dependency in candidate.dependencies {
                guard let target = byName[dependency.name] else {
                    fail(name, "depends on \(dependency.name) \(dependency.range), which is not installed")
                    return false
                }
                guard visit(target) else {
                    if state[name] == .eligible {
                        let why = if case .disabled = state[target.name] { "disabled" } else { "not loaded" }
                        fail(name, "depends on \(dependency.name) \(dependency.range), which is \(why)")
                    }
                    return false
                }
                guard let range = VersionRange(dependency.range) else {
                    fail(name, "dependency range \"\(dependency.range)\" for \(dependency.name) is not valid")
                    return false
                }
                guard let version = SemanticVersion(target.version), range.contains(version) else {
                    fail(name, "depends on \(dependency.name) \(dependency.range), but \(target.version) is installed")
                    return false
                }
            }
            if state[name] == .eligible { result.loadOrder.append(name) }
            return state[name] == .eligible
        }

        for name in byName.keys.sorted() {
            if let candidate = byName[name] { _ = visit(candidate) }
        }
        return result
    }
}

import CRMPluginKit

/// Multi-step journeys (send, wait, branch, tag, update a field) that each
/// person passes step by step, exactly once, across restarts.
enum Journeys {
    static let schema = """
        CREATE TABLE marketing_journeys (id INTEGER PRIMARY KEY);
        """

    static func register(on def: PluginDefinition) {}
}

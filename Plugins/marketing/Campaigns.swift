import CRMPluginKit

/// One-off and scheduled sends of a template to a segment, with A/B variants.
enum Campaigns {
    static let schema = """
        CREATE TABLE marketing_campaigns (id INTEGER PRIMARY KEY);
        """

    static func register(on def: PluginDefinition) {}
}
